"""``POST /api/v1/science/datasets``: JSON metadata + files (or a datapackage.json) through the same
``uploads.register_dataset`` as the web page; 201 with the version and its quality report, 422 with every
field's problem and nothing written, 401/403 for callers that may not add datasets, the OpenAPI example."""

import hashlib
import json

import pytest
from sqlalchemy import func, select

from kechuang.core.audit import AuditEntry
from kechuang.core.auth import Role
from kechuang.science import service
from kechuang.science.models import Dataset, DatasetFile, DatasetQualityReport
from tests.conftest import principal
from tests.science.test_dataset_upload import TEST, TRAIN, _package

OWNER = principal(Role.RESEARCHER, user_id=81)
URL = "/api/v1/science/datasets"


@pytest.fixture(autouse=True)
def _store(tmp_path, monkeypatch):
    monkeypatch.setattr(service, "FILES_DIR", tmp_path / "store")
    return tmp_path / "store"


def _meta(**over):
    meta = {"slug": "api-toy", "name": "API toy", "version": "1.0.0", "description": "Rows sent through the API.",
            "creators": [{"name": "Li Lei", "orcid": "0000-0002-1825-0097", "affiliation": "SSTC lab"},
                         {"name": "Han Meimei"}],
            "publisher": "SSTC test lab", "publication_year": 2026, "identifier": "10.5555/api.toy",
            "licence": "CC-BY-4.0", "subjects": ["chemistry", "solubility"],
            "temporal_coverage": "2026-01-01/2026-02-01", "spatial_coverage": "Shanghai",
            "provenance": "Typed by hand for tests.",
            "related_identifiers": [{"relation": "IsDerivedFrom", "identifier": "https://example.org/toy"},
                                    "References 10.5555/other"],
            "label": "label", "access_level": "registered", "cross_border": True}
    return {**meta, **over}


def _files(*extra):
    return [("files", ("train.csv", TRAIN, "text/csv")), ("files", ("test.csv", TEST, "text/csv")), *extra]


def _counts(session):
    return (session.scalar(select(func.count(Dataset.id))), session.scalar(select(func.count(DatasetFile.id))),
            session.scalar(select(func.count(DatasetQualityReport.id))),
            session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action.like("science.dataset%"))))


def test_upload_answers_201_with_the_version_files_and_quality_report(session, client_as, _store):
    res = client_as(OWNER).post(URL, data={"metadata": json.dumps(_meta())}, files=_files())
    assert res.status_code == 201, res.text
    body = res.json()
    assert (body["slug"], body["version"], body["access_level"], body["cross_border"]) == (
        "api-toy", "1.0.0", "registered", True)
    assert body["creators"][0] == {"name": "Li Lei", "orcid": "0000-0002-1825-0097", "affiliation": "SSTC lab"}
    assert body["subjects"] == ["chemistry", "solubility"]
    assert [r["relation"] for r in body["related_identifiers"]] == ["IsDerivedFrom", "References"]
    assert {f["name"]: (f["split"], f["sha256"], f["size_bytes"]) for f in body["files"]} == {
        "train.csv": ("train", hashlib.sha256(TRAIN).hexdigest(), len(TRAIN)),
        "test.csv": ("test", hashlib.sha256(TEST).hexdigest(), len(TEST))}
    checks = {c["name"]: c["result"] for c in body["quality"]["checks"]}
    assert checks["split_leakage"] == "fail" and checks["licence_present"] == "pass"  # CCO is in both splits
    ds = session.get(Dataset, body["id"])
    assert ds.created_by_user_id == 81
    report = service.latest_report(session, ds.id)
    assert report.id == body["quality"]["id"] and report.score == pytest.approx(body["quality"]["score"])
    # the same GET answer as the detail endpoint
    again = client_as(OWNER).get(f"{URL}/{ds.id}").json()["quality"]
    assert (again["id"], again["score"], again["checks"]) == (body["quality"]["id"], body["quality"]["score"],
                                                             body["quality"]["checks"])
    stored = {hashlib.sha256(p.read_bytes()).hexdigest() for p in _store.rglob("*") if p.is_file()}
    assert stored == {hashlib.sha256(TRAIN).hexdigest(), hashlib.sha256(TEST).hexdigest()}


def test_datapackage_upload_without_metadata_part(session, client_as):
    res = client_as(OWNER).post(URL, files=[("datapackage", ("datapackage.json", _package(), "application/json")),
                                            *_files()])
    assert res.status_code == 201, res.text
    body = res.json()
    assert (body["slug"], body["version"], body["licence"], body["publication_year"]) == (
        "toy-package", "2.0.0", "CC0-1.0", 2025)
    assert {f["name"]: f["split"] for f in body["files"]} == {"data/train.csv": "train", "data/test.csv": "test"}
    ranges = next(c for c in body["quality"]["checks"] if c["name"] == "ranges")
    assert ranges["result"] == "fail" and ranges["evidence"]["violations"] == {"solubility": 1}
    # the metadata part overrides the package's values
    res = client_as(OWNER).post(URL, data={"metadata": json.dumps({"version": "2.1.0", "access_level": "approval"})},
                                files=[("datapackage", ("datapackage.json", _package(), "application/json")),
                                       *_files()])
    assert res.status_code == 201 and (res.json()["version"], res.json()["access_level"]) == ("2.1.0", "approval")


def test_field_errors_come_back_together_and_nothing_is_written(session, client_as, _store):
    before = _counts(session)
    c = client_as(OWNER)
    res = c.post(URL + "?lang=en", data={"metadata": json.dumps(_meta(licence="", version="one", label="nope",
                                                                      temporal_coverage="last year"))},
                 files=[("files", ("train.csv", TRAIN, "text/csv")), ("files", ("empty_test.csv", b"", "text/csv"))])
    assert res.status_code == 422, res.text
    errors = res.json()["error"]["errors"]
    by_field = {e["field"]: e for e in errors}
    assert set(by_field) >= {"licence", "version", "temporal_coverage", "files"}
    assert all(e["reason"] for e in errors)
    assert by_field["files"] == {"field": "files", "reason": "empty_test.csv is empty.", "row": 2}
    assert "Croissant requires a licence" in by_field["licence"]["reason"]
    bad_creator = c.post(URL + "?lang=en", data={"metadata": json.dumps(_meta(
        creators=[{"name": "Li Lei", "orcid": "0000-0002-1825-0098"}]))}, files=_files())
    assert bad_creator.status_code == 422
    assert [(e["field"], e.get("row")) for e in bad_creator.json()["error"]["errors"]] == [("creators", 1)]
    assert _counts(session) == before
    assert not [p for p in _store.rglob("*") if p.is_file()]


@pytest.mark.parametrize(("metadata", "field", "reason"), [
    ("{not json", "metadata", "Not valid JSON"),
    ("[1, 2]", "metadata", "Give a JSON object of dataset metadata."),
    (json.dumps(_meta(colour="blue")), "colour", "Not a field of dataset metadata."),
    (json.dumps(_meta(cross_border="yes")), "cross_border", "Give true or false."),
    (json.dumps(_meta(name=["a"])), "name", "Give text."),
    (json.dumps(_meta(subjects=[1])), "subjects", "This list item has the wrong shape."),
])
def test_malformed_metadata_is_refused_by_field(session, client_as, metadata, field, reason):
    before = _counts(session)
    res = client_as(OWNER).post(URL + "?lang=en", data={"metadata": metadata}, files=_files())
    assert res.status_code == 422, res.text
    assert [(e["field"], e["reason"].startswith(reason)) for e in res.json()["error"]["errors"]] == [(field, True)]
    assert _counts(session) == before


def test_same_version_twice_is_refused_on_the_version_field(session, client_as):
    c = client_as(OWNER)
    assert c.post(URL, data={"metadata": json.dumps(_meta())}, files=_files()).status_code == 201
    again = c.post(URL + "?lang=en", data={"metadata": json.dumps(_meta())}, files=_files())
    assert again.status_code == 422
    assert [e["field"] for e in again.json()["error"]["errors"]] == ["version"]


@pytest.mark.parametrize("role", [Role.INVESTOR, Role.EXPERT, Role.AUDITOR, Role.ADMIN])
def test_roles_that_may_not_add_datasets_get_403_and_nothing_is_written(session, client_as, role):
    before = _counts(session)
    res = client_as(principal(role, user_id=82)).post(URL, data={"metadata": json.dumps(_meta())}, files=_files())
    assert res.status_code == 403, res.text
    assert client_as(None).post(URL, data={"metadata": json.dumps(_meta())}, files=_files()).status_code == 401
    assert _counts(session) == before


def test_openapi_documents_the_upload_with_examples(client_as):
    spec = client_as(None).get("/api/openapi.json").json()
    op = spec["paths"]["/api/v1/science/datasets"]["post"]
    assert set(op["responses"]) >= {"201", "401", "403", "422"}
    assert op["responses"]["201"]["content"]["application/json"]["example"]["quality"]["checks"]
    assert op["responses"]["422"]["content"]["application/json"]["example"]["error"]["errors"][0]["field"] == "licence"
    schema_ref = op["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"].split("/")[-1]
    props = spec["components"]["schemas"][schema_ref]["properties"]
    assert set(props) == {"metadata", "files", "datapackage"}
    example = json.loads(props["metadata"]["examples"][0])
    assert example["slug"] and example["licence"] and isinstance(example["creators"], list)
