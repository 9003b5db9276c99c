"""Transfer import: validate first, all or nothing, idempotent."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from kechuang.core.auth import SYSTEM, Role
from kechuang.core.errors import PermissionDenied, ValidationFailed
from kechuang.transfer import importer
from kechuang.transfer.models import Achievement, AchievementMember, LedgerEntry, TechnologyContract
from tests.conftest import principal
from tests.factories import make_organisation, make_person


def _csv(text: str) -> bytes:
    return ("\ufeff" + text).encode("utf-8")


def _contracts_file(seller, buyer, extra: str = "") -> bytes:
    return _csv(
        "合同编号,合同类别,卖方信用代码,买方信用代码,项目名称,签订日期,成交额（元）,非技术性费用（元）,技术交易额（元）,"
        "登记日期,登记证书编号\n"
        f"IMP-001,技术开发（委托）,{seller.credit_code},{buyer.credit_code},一种方法,2024-03-01,1000000,100000,900000,"
        "2024-03-20,2024310100001\n"
        f"IMP-002,技术服务,{seller.credit_code},{buyer.credit_code},检测服务,2024年4月1日,50000.50,,,,\n" + extra)


def test_contracts_import_then_reimport_is_a_no_op(session):
    s, b = make_organisation(session, kind="university"), make_organisation(session)
    data = _contracts_file(s, b)
    res = importer.import_file(session, SYSTEM, data, "contracts", filename="c.csv")
    assert (res.created, res.updated, res.unchanged) == (2, 0, 0)
    c1 = session.scalar(select(TechnologyContract).where(TechnologyContract.number == "IMP-001"))
    assert (c1.category, c1.total_fen, c1.technical_fen, c1.state) == (
        "development_commissioned", 1_000_000_00, 900_000_00, "registered")
    c2 = session.scalar(select(TechnologyContract).where(TechnologyContract.number == "IMP-002"))
    assert (c2.total_fen, c2.state) == (5_000_050, "draft")
    again = importer.import_file(session, SYSTEM, data, "contracts", filename="c.csv")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)


def test_contracts_import_all_or_nothing_with_every_problem(session):
    s, b = make_organisation(session), make_organisation(session)
    bad = _contracts_file(s, b, extra=(
        f"IMP-003,技术服务,{s.credit_code},{b.credit_code},x,2024-01-01,100,,200,,\n"
        f"IMP-001,培训,{s.credit_code},,x,not a date,100,,,,\n"))
    with pytest.raises(ValidationFailed) as exc:
        importer.import_file(session, SYSTEM, bad, "contracts", filename="c.csv")
    found = {(e.row, e.field) for e in exc.value.errors}
    assert (4, "技术交易额（元）") in found  # technical above total
    assert (5, "合同编号") in found and (5, "合同类别") in found and (5, "签订日期") in found
    assert session.scalar(select(func.count()).select_from(TechnologyContract)) == 0


def test_achievements_import(session):
    a, b = make_organisation(session, kind="university"), make_organisation(session, kind="research_institute")
    p1, p2 = make_person(session), make_person(session)
    data = _csv("成果类型,成果名称,编号,TRL,领域,权属单位,完成人,涉密\n"
                f"发明专利,一种材料,ZL2024000001.1,6,新材料;化工,{a.credit_code}:0.7;{b.credit_code}:0.3,"
                f"{p1.external_id}:0.6;{p2.external_id}:0.4,否\n"
                f"软件著作权,一个软件,2024SR000001,,,{a.credit_code},{p1.external_id},是\n")
    res = importer.import_file(session, SYSTEM, data, "achievements", filename="a.csv")
    assert res.created == 2
    ach = session.scalar(select(Achievement).where(Achievement.number == "ZL2024000001.1"))
    assert ach.fields == ["新材料", "化工"] and ach.trl == 6
    assert session.scalar(select(func.count()).select_from(AchievementMember).where(
        AchievementMember.achievement_id == ach.id)) == 2
    assert session.scalar(select(func.count()).select_from(LedgerEntry).where(
        LedgerEntry.achievement_id == ach.id)) == 2
    assert importer.import_file(session, SYSTEM, data, "achievements", filename="a.csv").unchanged == 2
    bad = _csv("成果类型,成果名称,编号,权属单位,完成人\n"
               f"发明专利,x,ZL9,{a.credit_code}:0.5,{p1.external_id}:0.5;NOBODY:0.5\n")
    with pytest.raises(ValidationFailed) as exc:
        importer.import_file(session, SYSTEM, bad, "achievements", filename="b.csv")
    reasons = " ".join(e.render("en")["reason"] for e in exc.value.errors)
    assert "sum to 100%" in reasons and "No person" in reasons


def test_import_needs_an_operator(session):
    with pytest.raises(PermissionDenied):
        importer.import_file(session, principal(Role.COMMISSION), b"x", "contracts")


def test_cli_import_dry_run_and_errors(engine, tmp_path):
    from sqlalchemy import delete
    from typer.testing import CliRunner

    from kechuang.cli import app
    from kechuang.db import session_scope
    from kechuang.registry.models import Organisation

    with session_scope(engine) as s:
        seller, buyer = make_organisation(s, kind="university"), make_organisation(s)
        ids = (seller.id, buyer.id)
        good = _contracts_file(seller, buyer)
    try:
        path = tmp_path / "contracts.csv"
        path.write_bytes(good)
        res = CliRunner().invoke(app, ["--lang", "en", "transfer", "import", "contracts", str(path), "--dry-run"])
        assert res.exit_code == 0, res.output
        assert "2 rows, 2 created, 0 updated, 0 unchanged" in " ".join(res.output.split())
        with session_scope(engine) as s:
            assert s.scalar(select(func.count()).select_from(TechnologyContract)) == 0  # dry run
        bad = tmp_path / "bad.csv"
        bad.write_bytes(_csv("合同编号,合同类别,卖方信用代码,项目名称,签订日期,成交额（元）\nX,培训,NOPE,x,2024-01-01,1\n"))
        res = CliRunner().invoke(app, ["transfer", "import", "contracts", str(bad)])
        assert res.exit_code == 1
        res = CliRunner().invoke(app, ["transfer", "import", "patents", str(bad)])
        assert res.exit_code == 2
    finally:
        with session_scope(engine) as s:
            s.execute(delete(Organisation).where(Organisation.id.in_(ids)))
