"""Handling units (承办单位): the short names replies use (市教委) and the full names of the government
organisations in the registry (上海市教育委员会), so that a handling-unit officer bound to an organisation
can be matched to the commitments of their unit."""

from __future__ import annotations

# Short name used in reply letters → full name of the municipal unit.
FULL_NAMES: dict[str, str] = {
    "市科委": "上海市科学技术委员会",
    "市教委": "上海市教育委员会",
    "市国资委": "上海市国有资产监督管理委员会",
    "市人才局": "上海市人才工作局",
    "市经信委": "上海市经济和信息化委员会",
    "市发展改革委": "上海市发展和改革委员会",
    "市财政局": "上海市财政局",
    "市人社局": "上海市人力资源和社会保障局",
    "市知识产权局": "上海市知识产权局",
    "市卫生健康委": "上海市卫生健康委员会",
    "市商务委": "上海市商务委员会",
    "市市场监管局": "上海市市场监督管理局",
    "市数据局": "上海市数据局",
}
_SHORT_BY_FULL = {full: short for short, full in FULL_NAMES.items()}
_DEMO_SUFFIXES = ("（演示）", "(演示)")


def short_name(organisation_name: str | None) -> str | None:
    """The short unit name of a registry organisation's Chinese name, or ``None`` if it is not a known unit.

    Synthetic demo organisations carry the suffix （演示）, which is ignored."""
    if not organisation_name:
        return None
    name = organisation_name.strip()
    for suffix in _DEMO_SUFFIXES:
        name = name.removesuffix(suffix)
    if name in FULL_NAMES:
        return name
    return _SHORT_BY_FULL.get(name)
