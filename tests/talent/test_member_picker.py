"""The dossier form's team-member picker: a search-as-you-type list (htmx) that stores person ids. The
candidate finds colleagues of the evaluation's unit by name or ORCID and a collaborator elsewhere only by the
exact ORCID iD; chosen members stay listed with their roles; ids cannot be probed for names."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from kechuang.core.errors import NotFound
from kechuang.talent import dossier_service as svc
from kechuang.talent.models import Dossier
from tests.factories import make_person
from tests.talent.test_pages import _As, _csrf
from tests.talent.world import affiliate, make_world, open_evaluation

ORCID = "0000-0002-1825-0097"


def _people(session):
    w = make_world(session, n_candidates=3, n_experts=0)
    ev = open_evaluation(session, w, scheme_id=w.applied_scheme_id)
    outside = make_person(session, name_zh="校外合作者", name_en="Outside Collaborator", orcid=ORCID)
    affiliate(session, outside, w.firm)
    stranger = make_person(session, name_zh="候选人外人", name_en="Stranger")
    affiliate(session, stranger, w.other_uni)
    return w, ev, outside, stranger


def _ids(choices) -> list[int]:
    return [c.person.id for c in choices]


def test_service_lists_colleagues_and_orcid_matches_only(session):
    w, ev, outside, stranger = _people(session)
    me, colleague, other = w.candidates
    cand = w.researcher(me)
    found = svc.team_member_choices(session, cand, ev, "候选人")
    assert set(_ids(found)) == {colleague.id, other.id}  # not the candidate, not the other university's namesake
    assert all(c.colleague and [o.id for o in c.units] == [w.uni.id] for c in found)
    assert _ids(svc.team_member_choices(session, cand, ev, "校外")) == []  # a name outside the unit: not found
    by_orcid = svc.team_member_choices(session, cand, ev, f"https://orcid.org/{ORCID}")
    assert _ids(by_orcid) == [outside.id] and not by_orcid[0].colleague
    # Chosen members are listed first whatever the search; an outsider only with the ORCID that was shown.
    kept = svc.team_member_choices(session, cand, ev, "候选人乙", keep={outside.id: ORCID, other.id: None})
    assert _ids(kept)[:2] == [outside.id, other.id]
    assert stranger.id not in _ids(svc.team_member_choices(session, cand, ev, "", keep={stranger.id: None}))
    assert outside.id not in _ids(svc.team_member_choices(session, cand, ev, "", keep={outside.id: "0000-0000-0000-0000"}))
    with pytest.raises(NotFound):  # a round of a unit the caller does not work at
        svc.team_member_choices(session, w.researcher(stranger), ev, "候选人")


def test_form_creates_a_team_dossier_from_the_picker(session, client_as):
    w, ev, outside, stranger = _people(session)
    me, colleague, _other = w.candidates
    cand = _As(client_as, w.researcher(me))
    form = cand.get(f"/talent/dossiers/new?evaluation={ev}")
    assert form.status_code == 200 and 'hx-get="/talent/dossiers/people"' in form.text
    assert "person id" not in form.text and 'name="members"' not in form.text
    assert f'name="member" value="{colleague.id}"' in form.text  # colleagues offered before typing

    partial = cand.get("/talent/dossiers/people", params={"evaluation": ev, "member_q": ORCID})
    assert partial.text.lstrip().startswith('<div id="pick-members"')
    assert f'value="{outside.id}"' in partial.text and f'name="orcid_{outside.id}" value="{ORCID}"' in partial.text
    kept = cand.get("/talent/dossiers/people", params={"evaluation": ev, "member_q": "nobody", "member": outside.id,
                                                      f"orcid_{outside.id}": ORCID, f"role_{outside.id}": "core"})
    assert re.search(rf'name="member" value="{outside.id}" checked', kept.text)
    assert re.search(rf'id="role-{outside.id}" name="role_{outside.id}">\s*<option value="core" selected', kept.text)
    probe = cand.get("/talent/dossiers/people", params={"evaluation": ev, "member_q": "nobody", "member": stranger.id})
    assert stranger.name_zh not in probe.text and f'value="{stranger.id}"' not in probe.text

    c = cand.client_as(cand.p)
    c.headers["accept"] = "text/html"
    token = _csrf(c.get(f"/talent/dossiers/new?evaluation={ev}").text)
    base = {"csrf_token": token, "evaluation": str(ev), "kind": "team", "plan": "三年内完成产线验证。",
            "member": [str(colleague.id), str(outside.id)], f"role_{colleague.id}": "core",
            f"role_{outside.id}": "member", f"orcid_{outside.id}": ORCID}
    # Without JavaScript "Search" re-renders the form; the ticked members and their roles stay.
    r = c.post("/talent/dossiers/new", data={**base, "action": "search", "member_q": "候选人"})
    assert r.status_code == 200
    assert re.search(rf'name="member" value="{colleague.id}" checked', r.text)
    assert re.search(rf'name="member" value="{outside.id}" checked', r.text)
    # Refused (a team needs its name): 422, the choices kept beside the error.
    r = c.post("/talent/dossiers/new", data={**base, "action": "create"}, follow_redirects=False)
    assert r.status_code == 422 and 'id="f-team_name"' in r.text and "field-invalid" in r.text
    assert re.search(rf'id="role-{colleague.id}" name="role_{colleague.id}">\s*<option value="core" selected', r.text)
    r = c.post("/talent/dossiers/new", data={**base, "action": "create", "team_name": "低功耗芯片团队"},
               follow_redirects=False)
    assert r.status_code == 303, r.text[-2000:]
    d = session.scalar(select(Dossier).where(Dossier.evaluation_id == ev))
    roles = {m.person_id: m.role for m in svc.access_dossier_by_id(session, w.researcher(me), d.id).members}
    assert roles == {me.id: "lead", colleague.id: "core", outside.id: "member"}


def test_a_bad_member_is_shown_at_the_picker(session, client_as):
    w, ev, _outside, _stranger = _people(session)
    me, colleague, _other = w.candidates
    c = _As(client_as, w.researcher(me)).client_as(w.researcher(me))
    c.headers["accept"] = "text/html"
    token = _csrf(c.get(f"/talent/dossiers/new?evaluation={ev}").text)
    r = c.post("/talent/dossiers/new", data={"csrf_token": token, "evaluation": str(ev), "kind": "individual",
                                             "member": [str(colleague.id)], "action": "create"})
    assert r.status_code == 422 and 'id="members-error"' in r.text and 'href="#f-members"' in r.text
    r = c.post("/talent/dossiers/new", data={"csrf_token": token, "evaluation": str(ev), "kind": "team",
                                             "team_name": "团队", "member": ["abc"], "action": "create"})
    assert r.status_code == 422 and 'id="members-error"' in r.text
    assert session.scalar(select(Dossier.id).where(Dossier.evaluation_id == ev)) is None
