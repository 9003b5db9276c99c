from sqlalchemy import select

from kechuang.accounts import demo
from kechuang.accounts.models import UserAccount
from tests.factories import make_organisation, make_person


def test_demo_users_bound_to_suitable_records_and_idempotent(session):
    ent = make_organisation(session, kind="enterprise", name_zh="演示企业甲", district="徐汇区")
    make_organisation(session, kind="enterprise")
    uni = make_organisation(session, kind="university", name_zh="演示大学")
    person = make_person(session, roles=["researcher"])
    logins = demo.ensure_demo_users(session)
    by_role = {d.role: d for d in logins}
    assert "expert" not in by_role  # nothing to bind an expert to: skipped
    assert by_role["enterprise_user"].bound_to == f"演示企业甲 (#{ent.id})"
    assert by_role["tto_officer"].bound_to == f"演示大学 (#{uni.id})"
    assert by_role["district_officer"].bound_to == "徐汇区"
    assert by_role["researcher"].bound_to.endswith(f"(#{person.id})")
    assert {"commission_officer", "auditor", "admin", "service_provider", "investor"} <= set(by_role)
    assert all(d.password == demo.DEMO_PASSWORD for d in logins)
    user = session.scalar(select(UserAccount).where(UserAccount.username == "demo_enterprise"))
    assert user.is_demo and user.password_hash.startswith("$argon2id$")
    assert [d.username for d in demo.ensure_demo_users(session)] == [d.username for d in logins]
    assert demo.demo_logins(session) == logins
