"""Dataset version history: the versions of one slug with their quality scores, and the difference between
two versions — metadata fields with old and new values, files by name (added, removed, changed, unchanged)
with both SHA-256 checksums — in the service, on the dataset page and in the API."""

import hashlib
import re

import pytest

from kechuang.core.auth import Role
from kechuang.core.errors import NotFound, ValidationFailed
from kechuang.science import service
from tests.conftest import principal
from tests.science.test_service import _package

OWNER = principal(Role.RESEARCHER, user_id=95)
READER = principal(Role.INVESTOR, user_id=96)  # may read metadata, may not publish
HTML = {"accept": "text/html"}
TRAIN = "smiles,solubility,label\nCCO,1.1,a\nCCC,0.2,b\nCCN,0.9,a\nCO,1.3,a\n"


@pytest.fixture(autouse=True)
def _store(tmp_path, monkeypatch):
    monkeypatch.setattr(service, "FILES_DIR", tmp_path / "store")


def _write(folder, files: dict[str, str]):
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, text in files.items():
        (folder / name).write_text(text)
        out.append({"name": name, "path": str(folder / name), "split": name.split(".")[0]})
    return out


@pytest.fixture
def versions(session, tmp_path):
    (tmp_path / "pkg").mkdir()
    meta, _ = _package(tmp_path / "pkg")
    v1_files = {"train.csv": TRAIN, "test.csv": "smiles,solubility,label\nc1ccccc1,-1.6,b\n",
                "notes.csv": "note\nfirst\n"}
    v2_files = {"train.csv": TRAIN, "test.csv": "smiles,solubility,label\nc1ccccc1,-1.6,b\nCCCl,-2.0,a\n",
                "valid.csv": "smiles,solubility,label\nCCBr,-1.0,a\n"}
    v1, _ = service.create_dataset(session, OWNER, meta, _write(tmp_path / "v1", v1_files))
    v2, _ = service.create_dataset(session, OWNER, {**meta, "version": "1.1.0", "licence": "CC0-1.0",
                                                    "subjects": ["chemistry"]}, _write(tmp_path / "v2", v2_files))
    return v1, v2, v1_files, v2_files


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_diff_names_changed_metadata_and_every_file_by_checksum(session, versions):
    v1, v2, f1, f2 = versions
    d = service.diff_versions(session, READER, v2.id, v1.id)  # either order: the earlier one is "old"
    assert (d["old"].id, d["new"].id) == (v1.id, v2.id)
    assert {f["field"]: (f["old"], f["new"]) for f in d["metadata"]} == {
        "licence": ("CC-BY-4.0", "CC0-1.0"), "subjects": (["chemistry", "solubility"], ["chemistry"])}
    files = {f["name"]: f for f in d["files"]}
    assert {n: f["status"] for n, f in files.items()} == {
        "notes.csv": "removed", "test.csv": "changed", "train.csv": "unchanged", "valid.csv": "added"}
    assert (files["test.csv"]["old_sha256"], files["test.csv"]["new_sha256"]) == (_sha(f1["test.csv"]),
                                                                                  _sha(f2["test.csv"]))
    assert files["train.csv"]["old_sha256"] == files["train.csv"]["new_sha256"] == _sha(TRAIN)
    assert files["notes.csv"]["new_sha256"] is None and files["valid.csv"]["old_sha256"] is None
    assert files["test.csv"]["new_size_bytes"] == len(f2["test.csv"])
    # notes.csv shares no column with the other splits: the leakage check passes instead of crashing polars
    leak = next(c for c in service.latest_report(session, v1.id).checks if c["name"] == "split_leakage")
    assert leak["result"] == "pass" and "notes" in leak["evidence"]["splits"]
    hist = service.dataset_versions(session, READER, v1.slug)
    assert [(d.version, score is not None) for d, score in hist] == [("1.1.0", True), ("1.0.0", True)]


def test_versions_of_different_datasets_are_not_compared(session, versions, tmp_path):
    v1, *_ = versions
    (tmp_path / "other").mkdir()
    meta, _ = _package(tmp_path / "other")
    other, _ = service.create_dataset(session, OWNER, {**meta, "slug": "other-set"},
                                      _write(tmp_path / "o", {"train.csv": TRAIN}))
    with pytest.raises(ValidationFailed) as e:
        service.diff_versions(session, READER, v1.id, other.id)
    assert [x.field for x in e.value.errors] == ["compare"]
    with pytest.raises(NotFound):
        service.diff_versions(session, READER, v1.id, 10**9)


def test_dataset_page_shows_history_and_the_diff(session, client_as, versions):
    v1, v2, f1, f2 = versions
    c = client_as(READER)
    page = c.get(f"/science/datasets/{v2.id}?lang=en", headers=HTML)
    assert page.status_code == 200
    history = re.search(r'<table class="stack" id="dataset-versions">.*?</table>', page.text, re.S).group(0)
    assert "1.0.0" in history and "1.1.0" in history and "This version" in history
    diff = re.search(r'<section aria-labelledby="h-changes" id="dataset-diff">.*?</section>', page.text, re.S).group(0)
    assert "Changes from 1.0.0 to 1.1.0" in diff  # by default against the version registered before
    assert re.search(r"licence</td>.*?CC-BY-4.0.*?CC0-1.0", diff, re.S)
    rows = dict(re.findall(r'<tr data-status="(\w+)"><td data-label="Name" class="mono">([^<]+)</td>', diff))
    assert rows == {"removed": "notes.csv", "changed": "test.csv", "unchanged": "train.csv", "added": "valid.csv"}
    assert f'title="{_sha(f1["test.csv"])}"' in diff and f'title="{_sha(f2["test.csv"])}"' in diff
    old = c.get(f"/science/datasets/{v1.id}?lang=en", headers=HTML).text
    assert 'id="dataset-diff"' not in old and f'href="/science/datasets/{v1.id}?compare={v2.id}#h-changes"' in old
    compared = c.get(f"/science/datasets/{v1.id}?compare={v2.id}&lang=zh", headers=HTML)
    assert compared.status_code == 200 and 'id="dataset-diff"' in compared.text and "1.0.0" in compared.text
    assert 'id="dataset-diff"' not in c.get(f"/science/datasets/{v1.id}?compare=999999", headers=HTML).text


def test_api_versions_and_diff(session, client_as, versions):
    v1, v2, *_ = versions
    c = client_as(READER)
    hist = c.get(f"/api/v1/science/datasets/{v1.id}/versions").json()
    assert [(h["id"], h["version"], h["n_files"]) for h in hist] == [(v2.id, "1.1.0", 3), (v1.id, "1.0.0", 3)]
    d = c.get(f"/api/v1/science/datasets/{v1.id}/diff", params={"against": v2.id}).json()
    assert (d["old"]["version"], d["new"]["version"]) == ("1.0.0", "1.1.0")
    assert {f["name"]: f["status"] for f in d["files"]}["valid.csv"] == "added"
    assert [m["field"] for m in d["metadata"]] == ["licence", "subjects"]
    assert client_as(None).get(f"/api/v1/science/datasets/{v1.id}/diff", params={"against": v2.id}).status_code == 401
