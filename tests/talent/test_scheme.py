"""Evaluation schemes: every framework rule with a compliant and a non-compliant scheme."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from kechuang.core.i18n import use_locale
from kechuang.talent import scheme as sch

SCHEMES = sch.SCHEMES_DIR
BASIC = yaml.safe_load((SCHEMES / "basic-research-example.yaml").read_text(encoding="utf-8"))
APPLIED = yaml.safe_load((SCHEMES / "applied-rd-example.yaml").read_text(encoding="utf-8"))


def rules_broken(data: dict) -> list[str]:
    return [v.rule for v in sch.check_scheme(sch.parse_scheme(data))]


def with_indicator(base: dict, **ind) -> dict:
    """``base`` with one scored indicator added and the first scored indicator's weight reduced to keep sum 1."""
    data = copy.deepcopy(base)
    w = ind.get("weight", 0)
    if w and ind.get("role", "score") != "condition":
        data["indicators"][0]["weight"] = round(data["indicators"][0]["weight"] - w, 6)
    data["indicators"].append({"id": "extra", "label": "extra", **ind})
    return data


def test_shipped_examples_one_per_category_all_compliant():
    schemes = sch.library_schemes()
    assert sorted(s.category for s in schemes) == sorted(sch.CATEGORIES)
    for s in schemes:
        assert sch.check_scheme(s) == [], s.id
        assert s.basis and all(b.get("url") for b in s.basis)


def test_framework_cites_its_sources_and_every_rule_has_reasons():
    fw = sch.load_framework()
    docs = " ".join(b["doc"] for b in fw.basis)
    assert "国科发才〔2022〕255号" in docs and "唯论文" in docs
    known = {b["id"] for b in fw.basis}
    for r in fw.rules:
        assert {"zh", "en"} <= set(r.reason), r.id
        assert set(r.basis) <= known, r.id
    assert fw.main_basis_weight == sch.Fraction(3, 10)


@pytest.mark.parametrize("role,weight", [("condition", 0), ("score", 0.1)])
@pytest.mark.parametrize("base", [BASIC, APPLIED], ids=["basic", "applied"])
def test_no_talent_title(base, role, weight):
    assert "no-talent-title" not in rules_broken(base)
    broken = rules_broken(with_indicator(base, basis="talent_title", role=role, weight=weight))
    assert "no-talent-title" in broken


@pytest.mark.parametrize("basis,rule", [("paper_count", "no-paper-count-kpi-basic"),
                                        ("impact_factor", "no-impact-factor-basic")])
def test_basic_research_bans_paper_counts_and_impact_factors_in_any_role(basis, rule):
    assert rule not in rules_broken(BASIC)
    assert rule in rules_broken(with_indicator(BASIC, basis=basis, role="score", weight=0.05))
    assert rule in rules_broken(with_indicator(BASIC, basis=basis, role="condition"))
    # The same indicator is allowed (as a minor score) for applied R&D.
    assert rule not in rules_broken(with_indicator(APPLIED, basis=basis, role="score", weight=0.05))


@pytest.mark.parametrize("basis,rule", [
    ("publication_record", "no-publication-main-basis-applied"),
    ("patent_count", "no-patent-count-main-basis-applied"),
    ("grant_amount", "no-grant-amount-main-basis-applied"),
])
def test_applied_rd_main_basis_rules(basis, rule):
    # A minor score is fine ...
    assert rule not in rules_broken(with_indicator(APPLIED, basis=basis, role="score", weight=0.05))
    # ... a declared main basis is not ...
    assert rule in rules_broken(with_indicator(APPLIED, basis=basis, role="main_basis", weight=0.05))
    # ... nor a weight at or above the 0.3 parameter, whatever the declared role.
    data = copy.deepcopy(APPLIED)
    data["indicators"] = [
        {"id": "x", "basis": basis, "role": "score", "weight": 0.3},
        {"id": "y", "basis": "commercialisation", "role": "score", "weight": 0.7},
    ]
    assert rule in rules_broken(data)
    data["indicators"][0]["weight"], data["indicators"][1]["weight"] = 0.29, 0.71
    assert rule not in rules_broken(data)


def test_main_basis_weight_is_a_parameter():
    fw = sch.load_framework()
    params = dict(fw.params, main_basis_weight="0.5")
    lenient = sch.Framework(fw.id, fw.version, params, fw.rules, fw.forbidden_form_fields, fw.categories)
    data = copy.deepcopy(APPLIED)
    data["indicators"] = [{"id": "x", "basis": "patent_count", "weight": 0.4},
                          {"id": "y", "basis": "commercialisation", "weight": 0.6}]
    s = sch.parse_scheme(data)
    assert "no-patent-count-main-basis-applied" in [v.rule for v in sch.check_scheme(s)]
    assert "no-patent-count-main-basis-applied" not in [v.rule for v in sch.check_scheme(s, lenient)]


@pytest.mark.parametrize("field", ["talent_title", "人才称号", "Honorary_Title"])
def test_no_title_field_on_forms(field):
    assert "no-title-field-on-forms" not in rules_broken(BASIC)
    data = copy.deepcopy(APPLIED)
    data["form_fields"] = [*data["form_fields"], field]
    assert "no-title-field-on-forms" in rules_broken(data)


def test_cycle_too_short_basic():
    data = copy.deepcopy(BASIC)
    data["cycle_years"] = 3
    assert "cycle-too-short-basic" not in rules_broken(data)
    data["cycle_years"] = 2
    assert "cycle-too-short-basic" in rules_broken(data)
    # Applied R&D may use short cycles.
    data = copy.deepcopy(APPLIED)
    data["cycle_years"] = 1
    assert "cycle-too-short-basic" not in rules_broken(data)


@pytest.mark.parametrize("share,ok", [("1/3", True), ("0.5", True), ("1/4", False), (None, False)])
def test_domestic_journal_share_basic(share, ok):
    data = copy.deepcopy(BASIC)
    if share is None:
        del data["representative_works"]["domestic_journal_share_min"]
    else:
        data["representative_works"]["domestic_journal_share_min"] = share
    assert ("domestic-journal-share-basic" not in rules_broken(data)) is ok


def test_basic_research_without_representative_works_is_refused():
    data = copy.deepcopy(BASIC)
    del data["representative_works"]
    assert "domestic-journal-share-basic" in rules_broken(data)


def test_negative_list_must_be_declared_and_respected():
    data = copy.deepcopy(BASIC)
    data["must_not_use"] = ["talent_title"]
    v = [x for x in sch.check_scheme(sch.parse_scheme(data)) if x.rule == "negative-list-declared"]
    assert v and "paper_count" in v[0].reason and "impact_factor" in v[0].reason
    data = with_indicator(APPLIED, basis="patent_count", role="score", weight=0.05)
    assert "must-not-use-respected" not in rules_broken(data)
    data["must_not_use"] = ["talent_title", "patent_count"]
    assert "must-not-use-respected" in rules_broken(data)


def test_structure_errors_are_reported_together():
    data = copy.deepcopy(BASIC)
    data["indicators"][0]["weight"] = 0.4  # sum 0.9
    data["indicators"][1]["basis"] = "vibes"
    data["methods"] = ["astrology"]
    data["category"] = "sports"
    with pytest.raises(sch.SchemeError) as exc:
        sch.parse_scheme(data)
    rules = [p.rule for p in exc.value.problems]
    paths = [p.path for p in exc.value.problems]
    assert "invalid-scheme" in rules
    assert {"category", "methods[0]", "indicators[1].basis"} <= set(paths)
    data = copy.deepcopy(BASIC)
    data["indicators"][0]["weight"] = 0.4
    with pytest.raises(sch.SchemeError) as exc:
        sch.parse_scheme(data)
    assert [p.rule for p in exc.value.problems] == ["weights-sum-to-one"]


def test_weights_are_exact_fractions():
    data = copy.deepcopy(APPLIED)
    data["indicators"] = [{"id": f"i{i}", "basis": "commercialisation", "weight": "1/3"} for i in range(3)]
    assert rules_broken(data) == []


def test_reasons_follow_the_locale():
    data = with_indicator(BASIC, basis="talent_title", role="condition")
    s = sch.parse_scheme(data)
    with use_locale("zh"):
        assert "人才称号" in sch.check_scheme(s)[0].reason
    with use_locale("en"):
        assert "Talent titles" in sch.check_scheme(s)[0].reason


def test_check_file_reports_bad_yaml(tmp_path: Path):
    f = tmp_path / "bad.yaml"
    f.write_text("id: [unclosed", encoding="utf-8")
    assert [v.rule for v in sch.check_file(f)] == ["invalid-scheme"]
    assert [v.rule for v in sch.check_file(tmp_path / "missing.yaml")] == ["invalid-scheme"]


def test_every_framework_rule_is_exercised_here():
    source = Path(__file__).read_text(encoding="utf-8")
    missing = [r.id for r in sch.load_framework().rules if f'"{r.id}"' not in source]
    assert missing == []
