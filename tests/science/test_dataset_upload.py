"""Dataset upload through the web form: metadata with field-level errors, multipart files hashed on the
server, a Frictionless datapackage.json import, the quality report after upload, the size limit from
settings, permission refusal, and a bad file that is refused with nothing written."""

import hashlib
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from kechuang.config import settings
from kechuang.core.audit import AuditEntry
from kechuang.core.auth import Role
from kechuang.core.errors import ValidationFailed
from kechuang.science import quality, service, uploads
from kechuang.science.models import Dataset, DatasetFile, DatasetQualityReport
from tests.conftest import principal

OWNER = principal(Role.RESEARCHER, user_id=71)
INVESTOR = principal(Role.INVESTOR, user_id=72)
HTML = {"accept": "text/html"}
TRAIN = b"smiles,solubility,label\nCCO,1.1,a\nCCC,0.2,b\nCCN,0.9,a\nCO,1.3,a\n"
TEST = b"smiles,solubility,label\nc1ccccc1,-1.6,b\nCCCl,-2.0,a\nCCO,1.1,a\n"  # CCO also in train: leakage


@pytest.fixture(autouse=True)
def _store(tmp_path, monkeypatch):
    """Each test stores dataset files in its own folder (so "nothing written" can be looked at)."""
    monkeypatch.setattr(service, "FILES_DIR", tmp_path / "store")
    return tmp_path / "store"


def _form(**over):
    form = {"slug": "toy-upload", "name": "Toy upload", "version": "1.0.0",
            "description": "Hand-made solubility rows for the upload tests.",
            "creators": "Li Lei; 0000-0002-1825-0097; SSTC lab\nHan Meimei",
            "publisher": "SSTC test lab", "publication_year": "2026", "identifier": "10.5555/toy.upload",
            "licence": "CC-BY-4.0", "subjects": "chemistry, solubility", "temporal_coverage": "2026-01-01/2026-02-01",
            "spatial_coverage": "Shanghai", "provenance": "Typed by hand for tests.",
            "related_identifiers": "IsDerivedFrom https://example.org/toy\n10.5555/other", "label": "label",
            "access_level": "open"}
    return {**form, **over}


def _token(client, url="/science/datasets/new?lang=en"):
    page = client.get(url, headers=HTML)
    assert page.status_code == 200, page.text[:300]
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def _post(client, form, files, lang="en"):
    return client.post(f"/science/datasets?lang={lang}", data={"csrf_token": _token(client), **form},
                       files=files, headers=HTML, follow_redirects=False)


def _audits(session):
    return session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action.like("science.dataset%")))


def test_upload_registers_the_version_hashes_files_and_lands_on_the_quality_report(session, client_as, _store):
    c = client_as(OWNER)
    res = _post(c, _form(), [("files", ("train.csv", TRAIN, "text/csv")), ("files", ("test.csv", TEST, "text/csv")),
                             ("files", ("README.txt", b"notes", "text/plain"))])
    assert res.status_code == 303, res.text[:2000]
    ds_id = int(re.match(r"^/science/datasets/(\d+)\?added=1$", res.headers["location"]).group(1))
    ds = service.access_dataset_by_id(session, OWNER, ds_id)
    assert (ds.slug, ds.version, ds.licence, ds.publication_year) == ("toy-upload", "1.0.0", "CC-BY-4.0", 2026)
    assert ds.creators == [{"name": "Li Lei", "orcid": "0000-0002-1825-0097", "affiliation": "SSTC lab"},
                           {"name": "Han Meimei"}]
    assert ds.subjects == ["chemistry", "solubility"] and ds.created_by_user_id == OWNER.user_id
    assert ds.related_identifiers == [{"identifier": "https://example.org/toy", "relation": "IsDerivedFrom", "type": "URL"},
                                      {"identifier": "10.5555/other", "relation": "IsDerivedFrom", "type": "DOI"}]
    files = {f.name: f for f in ds.files}
    assert files["train.csv"].sha256 == hashlib.sha256(TRAIN).hexdigest() and files["train.csv"].size_bytes == len(TRAIN)
    assert (files["train.csv"].split, files["test.csv"].split, files["README.txt"].split) == ("train", "test", None)
    assert files["train.csv"].media_type == "text/csv"
    for f in files.values():  # the platform's copy, content-addressed under the store
        assert f.path.startswith(str(_store)) and hashlib.sha256(Path(f.path).read_bytes()).hexdigest() == f.sha256
    assert not [p for p in _store.iterdir() if p.name.startswith(".staging")]
    report = service.latest_report(session, ds.id)
    checks = {x["name"]: x for x in report.checks}
    # the same checks as the quality module gives for these files
    assert report.score == quality.run_checks(service._meta(ds), service._files(ds))[0]
    assert checks["split_leakage"]["result"] == "fail" and checks["split_leakage"]["evidence"]["shared_rows"] == {"test/train": 1}
    assert checks["class_balance"]["evidence"]["counts"] == {"a": 5, "b": 2}
    assert checks["licence_present"]["result"] == checks["provenance_present"]["result"] == "pass"
    page = c.get(res.headers["location"] + "&lang=en", headers=HTML)
    assert page.status_code == 200 and 'id="quality-report"' in page.text and "split_leakage" in page.text
    assert "Dataset registered" in page.text
    cr = json.loads(service.export_dataset(session, OWNER, ds.id, "croissant"))
    assert cr["license"] == "CC-BY-4.0" and len(cr["distribution"]) == 3


def test_field_errors_are_shown_next_to_the_fields_and_values_kept(session, client_as):
    c = client_as(OWNER)
    before = _audits(session)
    res = _post(c, _form(name="", version="v1", licence="", publication_year="26",
                         creators="Li Lei; 0000-0002-1825-0097\nWang Wu; 0000-0002-1825-0098",
                         temporal_coverage="last spring", related_identifiers="Inspired https://x.org\nnot-an-id",
                         slug="Toy Upload", label="no_such_column"),
                [("files", ("train.csv", TRAIN, "text/csv"))])
    assert res.status_code == 422
    html = res.text
    for name in ("name", "version", "licence", "publication_year", "creators", "temporal_coverage",
                 "related_identifiers", "slug", "label"):
        assert f'id="{name}-error"' in html, name
        assert re.search(rf'id="f-{name}"[^>]*aria-invalid="true"', html), name
    assert "Line 2: The ORCID check character does not match" in html
    assert "Croissant requires a licence" in html and "Use a semantic version" in html
    assert "Unknown relation Inspired" in html and "Line 2: Give a DOI" in html
    assert "No uploaded table has a column named no_such_column" in html
    assert 'value="v1"' in html and "Wang Wu; 0000-0002-1825-0098" in html  # as typed
    assert 'href="#f-licence"' in html  # the summary links to the field
    assert session.scalar(select(func.count(Dataset.id)).where(Dataset.slug.in_(("toy-upload", "Toy Upload")))) == 0
    assert _audits(session) == before
    zh = _post(c, _form(version="v1"), [("files", ("train.csv", TRAIN, "text/csv"))], lang="zh")
    assert zh.status_code == 422 and "语义化版本" in zh.text


@pytest.mark.parametrize(("content", "words"), [
    (b"a,b\n1,2\n3,4,5\n", "a row has more fields than the header"),
    (b"a,b\n1,\xff\xfe\n", "is not UTF-8 text"),
    (b"", "bad.csv is empty"),
])
def test_a_bad_file_is_refused_by_name_and_nothing_is_written(session, client_as, _store, content, words):
    c = client_as(OWNER)
    before = (_audits(session), session.scalar(select(func.count(DatasetFile.id))),
              session.scalar(select(func.count(DatasetQualityReport.id))))
    res = _post(c, _form(), [("files", ("train.csv", TRAIN, "text/csv")), ("files", ("bad.csv", content, "text/csv"))])
    assert res.status_code == 422
    assert words in res.text and 'id="files-error"' in res.text and "choose the files again" in res.text
    assert session.scalar(select(func.count(Dataset.id)).where(Dataset.slug == "toy-upload")) == 0
    assert (_audits(session), session.scalar(select(func.count(DatasetFile.id))),
            session.scalar(select(func.count(DatasetQualityReport.id)))) == before
    assert not _store.exists() or not any(_store.rglob("*"))


def test_a_failure_after_the_rows_are_flushed_leaves_no_row_and_no_file(session, _store, tmp_path, monkeypatch):
    (tmp_path / "train.csv").write_bytes(TRAIN)

    def broken(meta, files):
        raise RuntimeError("checks crashed")

    monkeypatch.setattr(quality, "run_checks", broken)
    before = _audits(session)
    with pytest.raises(RuntimeError):
        uploads.register_dataset(session, OWNER, _form(), [("train.csv", tmp_path / "train.csv")])
    assert session.scalar(select(func.count(Dataset.id)).where(Dataset.slug == "toy-upload")) == 0
    assert _audits(session) == before and not any(_store.rglob("*"))


def test_size_limit_comes_from_settings(session, client_as, monkeypatch):
    monkeypatch.setattr(settings, "science_upload_max_mb", 0.001)  # 1048 bytes
    c = client_as(OWNER)
    big = b"x,y\n" + b"1,2\n" * 600
    res = _post(c, _form(), [("files", ("train.csv", big, "text/csv"))])
    assert res.status_code == 422 and "train.csv is larger than 0.001 MB" in res.text
    assert session.scalar(select(func.count(Dataset.id)).where(Dataset.slug == "toy-upload")) == 0
    assert "At most 0.001 MB each" in c.get("/science/datasets/new?lang=en", headers=HTML).text


def _package(**over):
    pkg = {"name": "toy-package", "title": "Toy package", "version": "2.0.0", "id": "10.5555/toy.pkg",
           "description": "Imported from a datapackage.json.", "publisher": "SSTC test lab", "created": "2025-06-01",
           "contributors": [{"title": "Li Lei", "orcid": "0000-0002-1825-0097"}], "keywords": ["chemistry"],
           "licenses": [{"name": "CC0-1.0"}], "label": "label",
           "sources": [{"title": "by hand", "path": "https://example.org/toy"}],
           "resources": [{"name": "train", "path": "data/train.csv", "hash": "sha256:" + hashlib.sha256(TRAIN).hexdigest(),
                          "schema": {"fields": [{"name": "smiles", "type": "string"},
                                                {"name": "solubility", "type": "number", "unit": "log mol/L",
                                                 "constraints": {"minimum": -1.8, "maximum": 5}},
                                                {"name": "label", "type": "string"}]}},
                         {"name": "test", "path": "data/test.csv"}]}
    return json.dumps({**pkg, **over}).encode()


def test_datapackage_import_fills_metadata_splits_and_range_checks(session, client_as):
    c = client_as(OWNER)
    empty = {k: "" for k in uploads.DATASET_FORM_FIELDS} | {"access_level": "registered"}
    res = _post(c, empty, [("datapackage", ("datapackage.json", _package(), "application/json")),
                           ("files", ("train.csv", TRAIN, "text/csv")), ("files", ("test.csv", TEST, "text/csv"))])
    assert res.status_code == 303, res.text[:3000]
    ds = service.access_dataset_by_id(session, OWNER, int(res.headers["location"].split("/")[-1].split("?")[0]))
    assert (ds.slug, ds.version, ds.licence, ds.publication_year, ds.access_level) == (
        "toy-package", "2.0.0", "CC0-1.0", 2025, "registered")
    assert {f.name: f.split for f in ds.files} == {"data/train.csv": "train", "data/test.csv": "test"}
    checks = {x["name"]: x for x in service.latest_report(session, ds.id).checks}
    assert checks["ranges"]["result"] == "fail" and checks["ranges"]["evidence"]["violations"] == {"solubility": 1}
    assert checks["checksums"]["result"] == "pass"  # the declared hash matches the uploaded bytes


def test_datapackage_problems_are_named(session, client_as):
    c = client_as(OWNER)
    empty = {k: "" for k in uploads.DATASET_FORM_FIELDS}
    res = _post(c, empty, [("datapackage", ("datapackage.json", _package(licenses=[], publisher=None), "application/json")),
                           ("files", ("train.csv", TRAIN, "text/csv")), ("files", ("extra.csv", TEST, "text/csv"))])
    assert res.status_code == 422
    assert "The datapackage.json lists data/test.csv; upload that file too." in res.text
    assert "extra.csv is not a resource of the datapackage.json." in res.text
    assert 'id="licence-error"' in res.text and 'id="publisher-error"' in res.text
    assert 'value="Toy package"' in res.text  # the package's values are shown in the fields
    filled = _post(c, empty | {"publisher": "Typed publisher", "licence": "MIT"},
                   [("datapackage", ("datapackage.json", _package(licenses=[], publisher=None), "application/json")),
                    ("files", ("train.csv", TRAIN, "text/csv")), ("files", ("test.csv", TEST, "text/csv"))])
    assert filled.status_code == 303, filled.text[:2000]  # the form fills what the package leaves out
    bad = _post(c, empty, [("datapackage", ("datapackage.json", b"{not json", "application/json")),
                           ("files", ("train.csv", TRAIN, "text/csv"))])
    assert bad.status_code == 422 and 'id="datapackage-error"' in bad.text and "Not a readable Frictionless" in bad.text


def test_same_version_twice_is_refused_on_the_version_field(session, client_as):
    c = client_as(OWNER)
    files = [("files", ("train.csv", TRAIN, "text/csv"))]
    assert _post(c, _form(), files).status_code == 303
    again = _post(c, _form(), files)
    assert again.status_code == 422 and 'id="version-error"' in again.text and "This version already exists" in again.text


def test_only_publishing_roles_may_upload(session, client_as):
    inv = client_as(INVESTOR)
    assert inv.get("/science/datasets/new", headers=HTML).status_code == 403
    assert 'id="add-dataset"' not in inv.get("/science?lang=en", headers=HTML).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', inv.get("/login", headers=HTML).text).group(1)
    res = inv.post("/science/datasets", data={"csrf_token": token, **_form()},
                   files=[("files", ("train.csv", TRAIN, "text/csv"))], headers=HTML)
    assert res.status_code == 403
    assert session.scalar(select(func.count(Dataset.id)).where(Dataset.slug == "toy-upload")) == 0
    with pytest.raises(Exception) as e:
        uploads.register_dataset(session, INVESTOR, _form(), [])
    assert not isinstance(e.value, ValidationFailed)  # refused before any input is looked at
    anon = client_as(None).get("/science/datasets/new", headers=HTML, follow_redirects=False)
    assert anon.status_code in (302, 303) and "/login" in anon.headers["location"]
    assert 'id="add-dataset"' in client_as(OWNER).get("/science?lang=en", headers=HTML).text


def test_split_from_file_name():
    assert [uploads.split_of(n) for n in ("train.csv", "qm9_test.csv", "validation-part1.csv", "dev.tsv", "data.csv",
                                          "train_test.csv", "contest.csv")] == [
        "train", "test", "valid", "valid", None, None, None]


def test_file_names_are_reduced_to_a_base_name(session, client_as, _store):
    c = client_as(OWNER)
    res = _post(c, _form(), [("files", ("../../etc/train.csv", TRAIN, "text/csv")), ("files", ("..", TEST, "text/csv"))])
    assert res.status_code == 303, res.text[:2000]
    ds = service.access_dataset_by_id(session, OWNER, int(res.headers["location"].split("/")[-1].split("?")[0]))
    assert sorted(f.name for f in ds.files) == ["file-2", "train.csv"]
    assert all(Path(f.path).parent.parent == _store for f in ds.files)
