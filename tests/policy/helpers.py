"""Small builders for policy tests."""

from __future__ import annotations

from kechuang.policy.language import Policy, load_text

HEADER = """id: {id}
title: {{zh: 测试政策, en: Test policy}}
basis: {{doc: 测试, url: "", status: confirmed}}
valid: {{from: 2024-01-01}}
facts_year: 2024
"""


def policy_yaml(clauses: list[tuple[str, str]] | None = None, amount: str | None = None, params: str = "",
                extra: str = "", pid: str = "p-test") -> str:
    """YAML text of a small policy with the given clauses (id, expression)."""
    clauses = clauses or [("c1", "province = '上海'")]
    text = HEADER.format(id=pid)
    if params:
        text += "params:\n" + params
    text += "clauses:\n"
    for cid, when in clauses:
        text += f"  - id: {cid}\n    label: {{zh: 条件, en: Condition}}\n    when: \"{when}\"\n"
    if amount:
        text += f"amount: \"{amount}\"\n"
    return text + extra


def make_policy(clauses=None, amount=None, params="", extra="", pid="p-test") -> Policy:
    """Load a small policy from text."""
    return load_text(policy_yaml(clauses, amount, params, extra, pid), f"{pid}.yaml")
