import csv
import io

from openpyxl import load_workbook

from kechuang.core.auth import Role
from tests.conftest import principal
from tests.factories import credit_code, make_fact, make_organisation


def test_anonymous_is_refused(client_as):
    r = client_as(None).get("/api/v1/registry/organisations")
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "not_authenticated"


def test_list_and_detail(session, client_as):
    org = make_organisation(session, name_zh="接口测试企业")
    make_fact(session, org, 2023)
    make_fact(session, org, 2024)
    c = client_as(principal(Role.COMMISSION))
    r = c.get("/api/v1/registry/organisations", params={"q": "接口测试", "per_page": 5})
    assert r.status_code == 200 and r.json()["total"] == 1
    d = c.get(f"/api/v1/registry/organisations/{org.id}").json()
    assert [f["year"] for f in d["facts"]] == [2023, 2024]


def test_cross_tenant_read_write_export_refused(session, client_as):
    a = make_organisation(session, name_zh="甲企业")
    b = make_organisation(session, name_zh="乙企业")
    c = client_as(principal(Role.ENTERPRISE, organisation_id=a.id))
    assert c.get(f"/api/v1/registry/organisations/{a.id}").status_code == 200
    assert c.get(f"/api/v1/registry/organisations/{b.id}").status_code == 404
    assert c.patch(f"/api/v1/registry/organisations/{b.id}", json={"address": "x"}).status_code == 403
    assert c.get("/api/v1/registry/organisations", params={"q": "乙企业"}).json()["total"] == 0
    r = c.get("/api/v1/registry/organisations/export", params={"format": "csv"})
    text = r.content.decode("utf-8-sig")
    assert "甲企业" in text and "乙企业" not in text


def test_create_validation_error_names_fields_in_language(client_as):
    c = client_as(principal(Role.COMMISSION))
    body = {"kind": "enterprise", "name_zh": "错误企业", "credit_code": "914403001922038217"}
    zh = c.post("/api/v1/registry/organisations", json=body)
    assert zh.status_code == 422
    assert zh.json()["error"]["errors"][0]["field"] == "credit_code"
    en = c.post("/api/v1/registry/organisations?lang=en", json=body).json()
    assert "check character" in en["error"]["errors"][0]["reason"]


def test_create_then_export_xlsx(client_as):
    c = client_as(principal(Role.COMMISSION))
    code = credit_code()
    r = c.post("/api/v1/registry/organisations", json={"kind": "enterprise", "name_zh": "导出测试", "credit_code": code,
                                                      "district": "杨浦区"})
    assert r.status_code == 201, r.text
    x = c.get("/api/v1/registry/organisations/export", params={"q": "导出测试", "format": "xlsx"})
    ws = load_workbook(io.BytesIO(x.content)).active
    values = [row for row in ws.iter_rows(values_only=True)]
    assert any(code in row for row in values)
    csv_rows = list(csv.reader(io.StringIO(c.get("/api/v1/registry/organisations/export",
                                                 params={"q": "导出测试", "format": "csv"}).content.decode("utf-8-sig"))))
    assert csv_rows[1][0] == code
