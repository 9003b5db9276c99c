"""CLI contracts: ``kechuang talent scheme check FILE`` and ``kechuang talent audit-rules FILE``."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from kechuang.cli import app
from kechuang.core.i18n import use_locale
from kechuang.talent.scheme import SCHEMES_DIR

runner = CliRunner()


def test_scheme_check_compliant_examples():
    for f in sorted(SCHEMES_DIR.glob("*.yaml")):
        res = runner.invoke(app, ["talent", "scheme", "check", str(f)])
        assert res.exit_code == 0, res.output
        assert res.output.strip() == "compliant"


def test_scheme_check_refuses_with_rule_ids(tmp_path: Path):
    data = yaml.safe_load((SCHEMES_DIR / "basic-research-example.yaml").read_text(encoding="utf-8"))
    bad = copy.deepcopy(data)
    bad["indicators"][0]["weight"] = 0.3
    bad["indicators"].append({"id": "hats", "basis": "talent_title", "role": "score", "weight": 0.2})
    bad["cycle_years"] = 1
    bad["form_fields"].append("talent_title")
    f = tmp_path / "bad.yaml"
    f.write_text(yaml.safe_dump(bad, allow_unicode=True), encoding="utf-8")
    with use_locale("en"):  # restores the locale the --lang option sets
        res = runner.invoke(app, ["--lang", "en", "talent", "scheme", "check", str(f)])
    assert res.exit_code != 0
    for rule in ("no-talent-title", "cycle-too-short-basic", "no-title-field-on-forms", "must-not-use-respected"):
        assert rule in res.output
    assert "Talent titles" in res.output
    assert "compliant" not in res.output


def test_scheme_check_invalid_file(tmp_path: Path):
    f = tmp_path / "x.yaml"
    f.write_text("- just a list\n", encoding="utf-8")
    res = runner.invoke(app, ["talent", "scheme", "check", str(f)])
    assert res.exit_code != 0 and "invalid-scheme" in res.output


def test_audit_rules_json_contract(tmp_path: Path):
    text = ("第一条 不得将人才称号作为职称评审的前置条件。\n"
            "第二条 入选国家级人才计划者可直接聘为教授；每发表一篇SCI论文奖励2000元。\n")
    f = tmp_path / "rules.txt"
    f.write_text(text, encoding="utf-8")
    for args in (["talent", "audit-rules", str(f)], ["talent", "audit-rules", str(f), "--format", "json"]):
        res = runner.invoke(app, args)
        assert res.exit_code == 0, res.output
        findings = json.loads(res.output)
        assert [(x["link"], x["basis"]) for x in findings] == [("promotion", "talent_title"), ("pay", "paper_count")]
        for x in findings:
            assert set(x) == {"clause", "start", "end", "link", "basis", "reason"}
            assert text[x["start"]:x["end"]] == x["clause"]


def test_audit_rules_empty_and_unreadable(tmp_path: Path):
    f = tmp_path / "ok.txt"
    f.write_text("实行代表作评价制度。", encoding="utf-8")
    res = runner.invoke(app, ["talent", "audit-rules", str(f)])
    assert res.exit_code == 0 and json.loads(res.output) == []
    g = tmp_path / "scan.pdf"
    g.write_bytes(b"%PDF-1.4 broken")
    assert runner.invoke(app, ["talent", "audit-rules", str(g)]).exit_code == 2


def test_scheme_compare_side_by_side(tmp_path: Path):
    basic = SCHEMES_DIR / "basic-research-example.yaml"
    data = yaml.safe_load(basic.read_text(encoding="utf-8"))
    data["id"], data["cycle_years"] = "pilot-unit-b", 2
    other = tmp_path / "b.yaml"
    other.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    res = runner.invoke(app, ["talent", "scheme", "compare", str(basic), str(other), "--format", "json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    rows = {r["attribute"]: r["values"] for r in out["rows"]}
    assert out["schemes"] == ["example-university-basic-research", "pilot-unit-b"]
    assert rows["cycle_years"] == [5, 2]
    assert rows["weight.representative_work"] == ["0.50*", "0.50*"]  # * = main basis (weight ≥ 0.3)
    assert rows["broken_rules"] == ["compliant", "cycle-too-short-basic"]
    assert runner.invoke(app, ["talent", "scheme", "compare", str(basic), str(other)]).exit_code == 0
