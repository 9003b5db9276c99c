import io
from datetime import date

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from kechuang.core.audit import AuditEntry, verify_chain
from kechuang.core.auth import Role
from kechuang.core.errors import PermissionDenied, ValidationFailed
from kechuang.registry import importer
from kechuang.registry.models import Affiliation, Organisation, OrganisationFact, Person, Qualification
from tests.conftest import principal
from tests.factories import credit_code, make_organisation

OFFICER = principal(Role.COMMISSION)
ORG_ZH = ["统一社会信用代码", "名称", "机构类型", "所在区", "行业门类", "行业大类", "成立日期"]
ORG_EN = ["credit_code", "name_zh", "kind", "district", "industry_section", "industry_division", "founded_date"]


def csv_bytes(rows: list[list], bom: bool = True, encoding: str = "utf-8") -> bytes:
    text = "\n".join(",".join("" if v is None else str(v) for v in row) for row in rows) + "\n"
    return (("\ufeff" if bom else "") + text).encode(encoding)


def xlsx_bytes(sheets: dict[str, list[list]]) -> bytes:
    wb = Workbook()
    wb.remove(wb.active)
    for title, rows in sheets.items():
        ws = wb.create_sheet(title)
        for row in rows:
            ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def errors_of(exc: pytest.ExceptionInfo) -> list[tuple]:
    return [(e.row, e.field, e.value) for e in exc.value.errors]


def test_error_report_names_every_bad_row_and_column_and_writes_nothing(session):
    good, dup = credit_code(), credit_code()
    rows = [ORG_ZH,
            [good, "上海好企业科技有限公司", "企业", "浦东新区", "I", "65", "2015-01-01"],
            ["91310115T00000028X", "上海坏代码有限公司", "企业", "徐汇区", "C", "39", "2016-01-01"],  # check char
            [dup, "上海乙有限公司", "火星机构", "火星区", "C", "65", "not a date"],  # kind, district, division, date
            [dup, "", "企业", "杨浦区", "M", "73", ""],  # duplicate code and missing name
            ]
    before = count(session, Organisation), count(session, AuditEntry)
    with pytest.raises(ValidationFailed) as exc:
        importer.import_file(session, OFFICER, csv_bytes(rows), "orgs.csv")
    errs = errors_of(exc)
    assert (3, "统一社会信用代码", "91310115T00000028X") in errs
    assert (4, "机构类型", "火星机构") in errs
    assert (4, "成立日期", "not a date") in errs
    assert (4, "所在区", "火星区") in errs
    assert (4, "行业大类", "65") in errs
    assert (5, "名称", None) in errs
    assert (5, "统一社会信用代码", dup) in errs
    assert not any(row == 2 for row, _f, _v in errs)
    assert (count(session, Organisation), count(session, AuditEntry)) == before
    rendered = exc.value.errors[0].render("en")
    assert set(rendered) == {"row", "field", "value", "reason"}


def test_english_headers_xlsx_and_facts_reference_check(session):
    a, b = credit_code(), credit_code()
    data = xlsx_bytes({
        "orgs": [ORG_EN, [a, "上海甲科技有限公司", "enterprise", "Pudong", "I", 65, date(2015, 1, 1)]],
        "facts": [["credit_code", "year", "source_department", "as_of_date", "revenue_fen", "employees", "st_staff",
                   "tax_credit_grade"],
                  [a, 2024, "市税务局", date(2025, 3, 31), 100000, 10, 50, "Q"],  # st_staff > employees; grade
                  [b, 2024, "市税务局", date(2025, 3, 31), -5, 10, 5, "A"]],  # unknown org, negative revenue
    })
    with pytest.raises(ValidationFailed) as exc:
        importer.import_file(session, OFFICER, data, "book.xlsx")
    errs = {(e.row, e.field) for e in exc.value.errors}
    assert errs == {(2, "facts!st_staff"), (2, "facts!tax_credit_grade"), (3, "facts!credit_code"),
                    (3, "facts!revenue_fen")}
    assert session.scalar(select(Organisation.id).where(Organisation.credit_code == a)) is None


def test_clean_workbook_imports_all_kinds_and_reimport_changes_nothing(session):
    a, b = credit_code(), credit_code()
    data = xlsx_bytes({
        "机构": [["注：示例"], ORG_ZH + ["所有制"],
                 [a, "上海甲科技有限公司", "企业", "浦东新区", "I", "65", "2015-01-01", "民营"],
                 [b, "上海乙大学", "高校", "杨浦区", "P", "83", "1950-09-01", "国有"]],
        "年度数据": [["统一社会信用代码", "年度", "来源部门", "截至日期", "营业收入（元）", "研发费用（分）", "从业人员",
                      "科技人员", "境内研发费用占比", "严重失信"],
                     [a, 2023, "市统计局", "2024-05-31", "1234.56", 5000, 20, 5, "85%", "否"],
                     [a, 2024, "市统计局", "2025-05-31", 2000, 6000, 25, 6, 0.9, "是"]],
        "资质": [["统一社会信用代码", "资质类型", "证书编号", "有效期起", "有效期止"],
                 [a, "高新技术企业", "GR202431000001", "2024-11-01", "2027-10-31"]],
        "人员": [["姓名", "ORCID", "外部编号", "角色", "工作单位信用代码", "职务"],
                 ["张三", "https://orcid.org/0000-0002-1825-0097", "P-1", "研究人员;专家", b, "教授"],
                 ["李四", "", "P-2", "entrepreneur", a, "董事长"]],
    })
    result = importer.import_file(session, OFFICER, data, "all.xlsx")
    assert {k: (c.created, c.updated, c.unchanged) for k, c in result.kinds.items()} == {
        "organisations": (2, 0, 0), "people": (2, 0, 0), "facts": (2, 0, 0), "qualifications": (1, 0, 0)}
    org = session.scalar(select(Organisation).where(Organisation.credit_code == a))
    assert org.ownership == "private" and not org.is_synthetic
    fact = session.scalar(select(OrganisationFact).where(OrganisationFact.organisation_id == org.id,
                                                         OrganisationFact.year == 2023))
    assert fact.revenue_fen == 123456 and str(fact.rd_domestic_share) == "0.8500" and fact.serious_dishonesty is False
    assert session.scalar(select(Qualification.kind).where(Qualification.organisation_id == org.id)) == "high_tech"
    zhang = session.scalar(select(Person).where(Person.orcid == "0000-0002-1825-0097"))
    assert zhang.roles == ["researcher", "expert"]
    assert session.scalar(select(Affiliation.position).where(Affiliation.person_id == zhang.id)) == "教授"
    audit_rows = count(session, AuditEntry)
    assert session.scalar(select(AuditEntry.after).where(AuditEntry.action == "registry.import"))["sha256"] \
        == result.sha256

    again = importer.import_file(session, OFFICER, data, "all.xlsx")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 7)
    assert count(session, AuditEntry) == audit_rows
    assert verify_chain(session).ok


def test_gb18030_csv_without_bom_and_kind_guess(session):
    org = make_organisation(session)
    data = csv_bytes([["统一社会信用代码", "资质类型", "证书编号", "有效期起"],
                      [org.credit_code, "科技型中小企业", "2024310000001", "2024年3月1日"],
                      [], [" ", "", "", ""],  # blank rows are skipped
                      [org.credit_code, "高企", "GR2024310000002", "20240301"]], bom=False, encoding="gb18030")
    result = importer.import_file(session, OFFICER, data, "资质.csv")
    assert result.kinds["qualifications"].created == 2


def test_dry_run_writes_nothing_and_reports_the_same_counts(session):
    code = credit_code()
    data = csv_bytes([ORG_EN, [code, "上海演练科技有限公司", "enterprise", "徐汇区", "I", "65", "2020-01-01"]])
    before = count(session, AuditEntry)
    dry = importer.import_file(session, OFFICER, data, "o.csv", dry_run=True)
    assert dry.dry_run and dry.created == 1 and dry.changes[0].key == code
    assert session.scalar(select(Organisation.id).where(Organisation.credit_code == code)) is None
    assert count(session, AuditEntry) == before
    real = importer.import_file(session, OFFICER, data, "o.csv")
    assert real.created == 1


def test_upsert_updates_changed_row_only_and_audits_it(session):
    a, b = credit_code(), credit_code()
    rows = [ORG_EN, [a, "上海原名科技有限公司", "enterprise", "徐汇区", "I", "65", "2020-01-01"],
            [b, "上海不变科技有限公司", "enterprise", "徐汇区", "I", "65", "2020-01-01"]]
    importer.import_file(session, OFFICER, csv_bytes(rows), "o.csv")
    rows[1][1] = "上海新名科技有限公司"
    result = importer.import_file(session, OFFICER, csv_bytes(rows), "o.csv")
    assert (result.created, result.updated, result.unchanged) == (0, 1, 1)
    org = session.scalar(select(Organisation).where(Organisation.credit_code == a))
    assert org.name_zh == "上海新名科技有限公司"
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "registry.organisation.update")
                           .order_by(AuditEntry.id.desc()))
    assert entry.object_id == str(org.id)
    assert entry.before == {"name_zh": "上海原名科技有限公司"} and entry.after == {"name_zh": "上海新名科技有限公司"}


def test_kind_of_registered_organisation_cannot_change(session):
    org = make_organisation(session)
    data = csv_bytes([ORG_EN[:3], [org.credit_code, org.name_zh, "university"]])
    with pytest.raises(ValidationFailed) as exc:
        importer.import_file(session, OFFICER, data, "o.csv")
    assert errors_of(exc) == [(2, "kind", "university")]


def test_people_key_conflicts_and_duplicates(session):
    rows = [["name", "orcid", "external_id"],
            ["甲", "0000-0002-1825-0097", "X-1"],
            ["乙", "0000-0002-1825-0097", "X-2"],  # same ORCID as row 2
            ["丙", "0000-0002-1825-0098", ""],  # bad check digit
            ["丁", "", ""]]  # no key
    with pytest.raises(ValidationFailed) as exc:
        importer.import_file(session, OFFICER, csv_bytes(rows), "p.csv")
    assert {(r, f) for r, f, _v in errors_of(exc)} == {(3, "orcid"), (4, "orcid"), (5, "orcid")}


def test_missing_required_column_and_unknown_kind(session):
    with pytest.raises(ValidationFailed) as exc:
        importer.import_file(session, OFFICER, csv_bytes([["统一社会信用代码", "名称"], ["x", "y"]]), "o.csv",
                             kind="organisations")
    assert "column" in exc.value.errors[0].params
    with pytest.raises(ValidationFailed):
        importer.import_file(session, OFFICER, csv_bytes([["foo", "bar"], ["1", "2"]]), "o.csv")


def test_only_registry_writers_may_import(session):
    with pytest.raises(PermissionDenied):
        importer.import_file(session, principal(Role.DISTRICT, district="浦东新区"), csv_bytes([ORG_EN]), "o.csv",
                             dry_run=True)


def test_api_import_dry_run_then_write_and_422_report(session, client_as):
    code = credit_code()
    data = csv_bytes([ORG_EN, [code, "上海接口导入科技有限公司", "enterprise", "浦东新区", "I", "65", "2020-01-01"]])
    c = client_as(OFFICER)
    r = c.post("/api/v1/registry/import", files={"file": ("o.csv", data, "text/csv")}, data={"dry_run": "true"})
    assert r.status_code == 200, r.text
    assert r.json()["created"] == 1 and r.json()["dry_run"] is True
    assert session.scalar(select(Organisation.id).where(Organisation.credit_code == code)) is None
    r = c.post("/api/v1/registry/import", files={"file": ("o.csv", data, "text/csv")})
    assert r.status_code == 200 and r.json()["kinds"]["organisations"]["created"] == 1
    bad = csv_bytes([ORG_EN, ["BAD", "上海坏数据", "enterprise", "浦东新区", "I", "65", "2020-01-01"]])
    r = c.post("/api/v1/registry/import?lang=en", files={"file": ("o.csv", bad, "text/csv")})
    assert r.status_code == 422
    assert r.json()["error"]["errors"] == [{"field": "credit_code", "row": 2, "value": "BAD",
                                            "reason": "A unified social credit code has 18 characters."}]
    assert client_as(principal(Role.ENTERPRISE, organisation_id=1)).post(
        "/api/v1/registry/import", files={"file": ("o.csv", data, "text/csv")}).status_code == 403


def test_export_then_import_round_trip_is_unchanged(session, client_as):
    make_organisation(session, name_zh="往返测试企业")
    c = client_as(OFFICER)
    exported = c.get("/api/v1/registry/organisations/export", params={"q": "往返测试", "format": "xlsx"}).content
    result = importer.import_file(session, OFFICER, exported, "export.xlsx")
    assert (result.created, result.updated, result.unchanged) == (0, 0, 1)


def test_bulk_import_above_detail_limit_writes_one_batch_entry(session, monkeypatch):
    monkeypatch.setattr(importer, "AUDIT_DETAIL_LIMIT", 2)
    codes = [credit_code() for _ in range(3)]
    rows = [ORG_EN] + [[c, f"上海批量{i}有限公司", "enterprise", "", "", "", ""] for i, c in enumerate(codes)]
    before = count(session, AuditEntry)
    importer.import_file(session, OFFICER, csv_bytes(rows), "bulk.csv")
    assert count(session, AuditEntry) == before + 1
    entry = session.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()))
    assert entry.action == "registry.import" and entry.after["changes"]["organisations"]["created"] == codes


def test_special_characters_survive_the_bulk_path(session, monkeypatch):
    monkeypatch.setattr(importer, "AUDIT_DETAIL_LIMIT", 0)
    code = credit_code()
    address = "上海市\\浦东\t新区\n张江路1号 \\N"
    data = xlsx_bytes({"o": [ORG_EN + ["address"], [code, "上海特殊字符有限公司", "enterprise", "", "", "", "", address]]})
    importer.import_file(session, OFFICER, data, "o.xlsx")
    assert session.scalar(select(Organisation.address).where(Organisation.credit_code == code)) == address
    assert importer.import_file(session, OFFICER, data, "o.xlsx").unchanged == 1


def test_money_header_needs_its_unit_and_units_convert_to_fen(session):
    org = make_organisation(session)
    head = ["统一社会信用代码", "年度", "来源部门", "截至日期"]
    with pytest.raises(ValidationFailed) as exc:
        importer.import_file(session, OFFICER, csv_bytes([head + ["营业收入"], [org.credit_code, 2024, "市统计局",
                                                                               "2025-05-31", "100"]]), "f.csv")
    assert [(e.row, e.field) for e in exc.value.errors] == [(1, "营业收入")]
    data = csv_bytes([head + ["营业收入（万元）", "利润总额(千元)"],
                      [org.credit_code, 2024, "市统计局", "2025-05-31", "1.5", "-2"]])
    importer.import_file(session, OFFICER, data, "f.csv")
    fact = session.scalar(select(OrganisationFact).where(OrganisationFact.organisation_id == org.id))
    assert (fact.revenue_fen, fact.profit_fen) == (1_500_000, -200_000)
