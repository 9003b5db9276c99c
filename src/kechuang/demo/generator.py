"""Deterministic synthetic registry data: organisations over Shanghai's 16 districts, three years of
facts, qualifications, relations, people with ORCIDs and affiliations. Every record is marked
synthetic. The distributions and their rough public magnitudes are documented in docs/demo-data.md.

``generate(size, seed)`` is pure (no database); ``load()`` writes through the registry importer, so
loading is validated, idempotent (upserts by credit code, ORCID, ...) and audited.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from kechuang.core import audit
from kechuang.core.auth import Principal
from kechuang.core.identifiers import make_credit_code, orcid_check_char
from kechuang.core.permissions import require
from kechuang.registry import importer, service
from kechuang.registry import reference as ref
from kechuang.registry.models import Organisation, OrganisationRelation, Person

YEARS = (2022, 2023, 2024)


@dataclass(frozen=True)
class DemoSize:
    """How many of each kind a data set has."""

    enterprises: int
    universities: int
    institutes: int
    new_rd: int
    hospitals: int
    service_providers: int
    investors: int
    people: int


SIZES: dict[str, DemoSize] = {
    "small": DemoSize(enterprises=300, universities=6, institutes=6, new_rd=4, hospitals=4, service_providers=8,
                      investors=6, people=200),
    "city": DemoSize(enterprises=100_000, universities=64, institutes=80, new_rd=30, hospitals=26,
                     service_providers=400, investors=300, people=20_000),
}

# Rough share of Shanghai's enterprises by district (weights, not data): the large suburban and
# Pudong districts dominate; see docs/demo-data.md.
DISTRICT_WEIGHTS: dict[str, float] = {
    "浦东新区": 22, "闵行区": 9, "嘉定区": 8, "松江区": 7, "宝山区": 6, "青浦区": 6, "奉贤区": 6, "徐汇区": 5,
    "杨浦区": 5, "静安区": 5, "普陀区": 4, "长宁区": 4, "黄浦区": 4, "虹口区": 3, "金山区": 3, "崇明区": 3,
}
# GB/T 4754-2017 sections of the enterprises: weighted to manufacturing (C), software/IT (I),
# research and technical services (M), trade (F) and business services (L).
SECTION_WEIGHTS: dict[str, float] = {
    "C": 22, "I": 15, "M": 16, "F": 17, "L": 12, "E": 3, "G": 3, "J": 2, "K": 2, "R": 2, "O": 2, "N": 1,
    "H": 1.5, "Q": 1, "D": 0.5, "A": 0.5,
}
PREFERRED_DIVISIONS: dict[str, list[str]] = {
    "C": ["26", "27", "34", "35", "36", "38", "39", "40"], "I": ["64", "65"], "M": ["73", "74", "75"],
}
TECH_SECTIONS = frozenset({"C", "I", "M"})
OWNERSHIP_WEIGHTS = {"private": 78, "foreign_invested": 12, "state_owned": 6, "mixed": 4}
TAX_GRADE_WEIGHTS = {"A": 35, "B": 45, "M": 15, "C": 4, "D": 1}

WORDS = ("启明", "星河", "蓝湾", "云帆", "瀚海", "青禾", "微澜", "远芯", "锐思", "博衍", "凌峰", "易数", "砺新",
         "熠光", "澄江", "泓景", "鼎盛", "华粒", "晟达", "睿桥", "景行", "知渊", "衡宇", "弘毅", "朗拓", "嘉禾",
         "翊辰", "沐川", "逸帆", "峻熙", "恒昇", "若谷", "智汇", "致远", "青岚", "拓域", "舒研", "霁月", "沪渊",
         "申浦", "浦芯", "江枫", "明序", "悦联", "骏诚", "聚芯", "百川", "千帆", "清越", "光启", "弈之", "望舒")
TRADES: dict[str, tuple[str, ...]] = {
    "C": ("智能装备", "新材料", "生物医药", "精密仪器", "电子", "汽车零部件", "集成电路"),
    "I": ("信息技术", "软件", "数据科技", "网络科技", "人工智能"),
    "M": ("科技", "检测技术", "工程技术", "生物技术", "环境技术"),
    "F": ("贸易", "商贸", "供应链管理"), "L": ("企业管理咨询", "商务服务", "人力资源"),
}
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红娥玲芬燕彬鹏辉晨宇睿哲思远欣怡子涵浩然梓轩一诺"
DISCIPLINES = ("110", "120", "140", "150", "180", "310", "320", "410", "413", "416", "420", "460", "510", "520",
               "530", "540", "550", "560", "620", "630", "790", "810")
ROADS = ("科苑路", "张江路", "漕河泾路", "紫竹路", "国权路", "淞沪路", "嘉松路", "莘庄路", "临港大道", "虹桥路")


@dataclass
class DemoData:
    """Records per importer kind, plus relations keyed by credit code / person external id."""

    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    relations: list[dict[str, Any]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Number of records per kind (relations included)."""
        return {**{k: len(v) for k, v in self.records.items()}, "relations": len(self.relations)}


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def make_orcid(n: int) -> str:
    """A well-formed synthetic ORCID iD (0009-9... block) with a correct ISO 7064 check character."""
    base = f"00099{n:010d}"
    digits = base + orcid_check_char(base)
    return "-".join(digits[i:i + 4] for i in range(0, 16, 4))


class _Names:
    """Unique synthetic names."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.used: set[str] = set()

    def make(self, build: Callable[[str], str]) -> str:
        for words in (2, 2, 2, 3, 3, 3, 3, 3):  # two words while they last, then three
            name = build("".join(self.rng.choice(WORDS) for _ in range(words)))
            if name not in self.used:
                self.used.add(name)
                return name
        n = len(self.used)
        while (name := build(self.rng.choice(WORDS) + self.rng.choice(WORDS) + str(n))) in self.used:
            n += 1
        self.used.add(name)
        return name


# Municipal co-handling units of the seed reply (沪科提复〔2025〕56号), full names; see commitments.units.
HANDLING_UNITS = (("上海市教育委员会", "Shanghai Municipal Education Commission"),
                  ("上海市国有资产监督管理委员会", "Shanghai State-owned Assets Supervision and Administration Commission"),
                  ("上海市人才工作局", "Shanghai Talent Work Bureau"))


def generate(size: str | DemoSize = "small", seed: int = 2025) -> DemoData:
    """The demo data set ``size`` ("small", "city" or a ``DemoSize``) for ``seed``: same seed, same data."""
    sz = SIZES[size] if isinstance(size, str) else size
    rng = random.Random(seed)
    names = _Names(rng)
    n_orgs = (sz.enterprises + sz.universities + sz.institutes + sz.new_rd + sz.hospitals + sz.service_providers
              + sz.investors + 1 + len(ref.DISTRICTS))
    bodies = iter(f"{b:08d}" for b in rng.sample(range(10**8), n_orgs))
    districts = list(DISTRICT_WEIGHTS)
    dweights = list(DISTRICT_WEIGHTS.values())
    orgs: list[dict[str, Any]] = []
    facts: list[dict[str, Any]] = []
    quals: list[dict[str, Any]] = []
    relations: list[dict[str, Any]] = []

    def org(kind: str, prefix: str, name: str, district: str, **extra: Any) -> dict[str, Any]:
        n = len(orgs) + 1
        rec = {
            "credit_code": make_credit_code(prefix, ref.DISTRICTS[district], next(bodies)),
            "name_zh": name, "name_en": f"Synthetic {ref.ORG_KINDS[kind]} {n:06d}", "kind": kind,
            "district": district, "address": f"上海市{district}{rng.choice(ROADS)}{rng.randint(1, 2999)}号",
            "industry_section": None, "industry_division": None, "ownership": None, "state_level": None,
            "founded_date": None, "is_synthetic": True,
        }
        rec.update(extra)
        orgs.append(rec)
        return rec

    # Institutions first so that the first university is a natural TTO demo binding.
    institutions: list[dict[str, Any]] = []
    for kind, count, prefix, build, section, division in (
        ("university", sz.universities, "12", lambda w: f"上海{w}大学", "P", "83"),
        ("research_institute", sz.institutes, "12", lambda w: f"上海{w}研究所", "M", "73"),
        ("new_rd_institution", sz.new_rd, "52", lambda w: f"上海{w}创新研究院", "M", "73"),
        ("hospital", sz.hospitals, "12", lambda w: f"上海{w}医院", "Q", "84"),
    ):
        for _ in range(count):
            institutions.append(org(kind, prefix, names.make(build), rng.choices(districts, dweights)[0],
                                    industry_section=section, industry_division=division, ownership="state_owned",
                                    state_level=rng.choice(("municipal", "municipal", "central")),
                                    founded_date=date(rng.randint(1920, 2015), rng.randint(1, 12), 1)))
    for inst in institutions:
        if inst["kind"] == "new_rd_institution":
            quals.append({"credit_code": inst["credit_code"], "kind": "new_rd_institution",
                          "number": f"XXYF-{rng.randint(2019, 2024)}-{len(quals) + 1:05d}",
                          "valid_from_date": date(2021, 6, 1), "valid_to_date": date(2026, 5, 31),
                          "is_synthetic": True})
    government = [org("government", "11", "上海市科学技术委员会（演示）", "黄浦区", industry_section="S",
                      industry_division="92", ownership="state_owned", state_level="municipal")]
    for d in ref.DISTRICTS:
        government.append(org("government", "11", f"{d}科学技术委员会（演示）", d, industry_section="S",
                              industry_division="92", ownership="state_owned", state_level="district"))
    for _ in range(sz.service_providers):
        trade = rng.choice(("知识产权代理", "技术转移服务", "检验检测", "科技咨询"))
        org("service_provider", "91", names.make(lambda w, t=trade: f"上海{w}{t}有限公司"),
            rng.choices(districts, dweights)[0], industry_section="M", industry_division="75", ownership="private",
            founded_date=date(rng.randint(2000, 2020), 1, 1))
    investors = [org("investor", "91", names.make(lambda w: f"上海{w}创业投资管理有限公司"),
                     rng.choices(districts, dweights)[0], industry_section="J", industry_division="67",
                     ownership=rng.choice(("private", "private", "state_owned")),
                     founded_date=date(rng.randint(2000, 2020), 1, 1)) for _ in range(sz.investors)]
    for inv in investors:
        if inv["ownership"] == "state_owned":
            inv["state_level"] = "municipal"

    # Enterprises.
    sections = list(SECTION_WEIGHTS)
    sweights = list(SECTION_WEIGHTS.values())
    enterprises: list[dict[str, Any]] = []
    for i in range(sz.enterprises):
        showcase = i == 0  # the first enterprise (demo enterprise log-in): a high-tech software firm in Pudong
        section = "I" if showcase else rng.choices(sections, sweights)[0]
        lo, hi, _zh, _en = ref.INDUSTRY_SECTIONS[section]
        pref = PREFERRED_DIVISIONS.get(section)
        division = rng.choice(pref) if pref and rng.random() < 0.7 else f"{rng.randint(lo, hi):02d}"
        district = "浦东新区" if showcase else rng.choices(districts, dweights)[0]
        ownership = "private" if showcase else _pick(rng, OWNERSHIP_WEIGHTS)
        trade = rng.choice(TRADES.get(section, ("实业", "发展")))
        form = "股份有限公司" if rng.random() < 0.1 else "有限公司"
        founded_year = 2012 if showcase else max(1985, 2023 - int(rng.expovariate(1 / 9)))
        e = org("enterprise", "91", names.make(lambda w, t=trade, f=form: f"上海{w}{t}{f}"), district,
                industry_section=section, industry_division=division, ownership=ownership,
                state_level=rng.choice(("central", "municipal", "district")) if ownership == "state_owned" else None,
                founded_date=date(founded_year, rng.randint(1, 12), rng.randint(1, 28)))
        enterprises.append(e)
        tech = section in TECH_SECTIONS
        # Size: log-normal employees (median ~18), revenue per employee log-normal (median ~600k yuan).
        employees = min(50_000, int(rng.lognormvariate(math.log(18), 1.25)) + 1)
        if showcase:
            employees = 260
        revenue_yuan = employees * rng.lognormvariate(math.log(600_000), 0.8)
        if tech:
            intensity = min(0.6, rng.lognormvariate(math.log(0.035), 0.9))
            st_share = rng.uniform(0.08, 0.6)
        else:
            intensity = 0.0 if rng.random() < 0.7 else min(0.2, rng.lognormvariate(math.log(0.005), 0.8))
            st_share = rng.uniform(0.0, 0.1)
        if showcase:
            intensity, st_share = 0.08, 0.45
        # 高新技术企业 criteria (R&D >= 3% of revenue, S&T staff >= 10%); about one in five tech firms.
        eligible = tech and intensity >= 0.03 and st_share >= 0.10
        high_tech = showcase or (eligible and rng.random() < 0.42)
        ht_share = rng.uniform(0.6, 0.95) if high_tech else (rng.uniform(0, 0.3) if tech else 0.0)
        grade = "A" if showcase else _pick(rng, TAX_GRADE_WEIGHTS)
        growth = 1.0
        for year in reversed(YEARS):
            if year < founded_year:
                break
            emp_y = max(1, round(employees / growth))
            rev = int(revenue_yuan / growth * 100)
            facts.append({
                "credit_code": e["credit_code"], "year": year, "source_department": "市统计局",
                "as_of_date": date(year + 1, 5, 31), "revenue_fen": rev, "rd_expense_fen": int(rev * intensity),
                "rd_domestic_share": Decimal(str(round(rng.uniform(0.85, 1.0), 4))) if intensity else None,
                "employees": emp_y, "st_staff": min(emp_y, int(emp_y * st_share)),
                "high_tech_income_fen": int(rev * ht_share), "total_assets_fen": int(rev * rng.lognormvariate(0, 0.5)),
                "profit_fen": int(rev * rng.gauss(0.06, 0.1)), "tax_credit_grade": grade,
                "serious_dishonesty": (not showcase) and rng.random() < 0.003,
                "major_incident": (not showcase) and rng.random() < 0.002, "is_synthetic": True,
            })
            growth *= min(1.6, max(0.7, rng.gauss(1.08, 0.12)))
        code = e["credit_code"]
        if high_tech:
            start = date(rng.choice((2022, 2023, 2024)), rng.choice((10, 11, 12)), rng.randint(1, 28))
            quals.append({"credit_code": code, "kind": "high_tech", "number": f"GR{start.year}31{len(quals):07d}",
                          "valid_from_date": start, "valid_to_date": date(start.year + 3, start.month, start.day),
                          "is_synthetic": True})
        if tech and employees <= 500 and revenue_yuan <= 2e8 and (showcase or rng.random() < 0.35):
            quals.append({"credit_code": code, "kind": "tech_sme", "number": f"2024310{len(quals):09d}",
                          "valid_from_date": date(2024, rng.randint(3, 9), 1), "valid_to_date": date(2024, 12, 31),
                          "is_synthetic": True})
        if section in ("C", "I") and 20 <= employees <= 1000 and (showcase or rng.random() < 0.05):
            quals.append({"credit_code": code, "kind": "specialised", "number": f"ZJTX-{len(quals):07d}",
                          "valid_from_date": date(2023, 1, 1), "valid_to_date": date(2025, 12, 31),
                          "is_synthetic": True})
        if ownership == "foreign_invested" and section in ("C", "M") and rng.random() < 0.03:
            quals.append({"credit_code": code, "kind": "foreign_rd_centre", "number": f"WZYF-{len(quals):06d}",
                          "valid_from_date": date(rng.randint(2015, 2023), 7, 1), "valid_to_date": None,
                          "is_synthetic": True})
        # Relations: investors hold minority stakes in some tech firms; some state-owned firms have a parent.
        if tech and investors and rng.random() < 0.06:
            relations.append({"credit_code": code, "kind": "shareholder",
                              "related_credit_code": rng.choice(investors)["credit_code"],
                              "share": Decimal(str(round(rng.uniform(0.05, 0.3), 4)))})
        state = [x for x in enterprises[-50:-1] if x["ownership"] == "state_owned"] \
            if ownership == "state_owned" else None
        if state and rng.random() < 0.3:
            relations.append({"credit_code": code, "kind": "parent", "related_credit_code": rng.choice(state)[
                "credit_code"]})

    # People: researchers and experts at institutions, entrepreneurs at enterprises, officers at government.
    people: list[dict[str, Any]] = []
    universities = [x for x in institutions if x["kind"] == "university"] or institutions
    represented: set[str] = set()
    for i in range(sz.people):
        if i < 2:  # the demo researcher and expert: at the first university
            roles, where = (["researcher"] if i == 0 else ["expert", "researcher"]), universities[0]
        else:
            r = rng.random()
            if r < 0.6:
                roles, where = ["researcher"], rng.choice(institutions)
            elif r < 0.8:
                roles = ["expert", "researcher"] if rng.random() < 0.6 else ["expert"]
                where = rng.choice(institutions if rng.random() < 0.7 else enterprises)
            elif r < 0.95:
                roles, where = ["entrepreneur"], rng.choice(enterprises)
            else:
                roles, where = ["officer"], rng.choice(government)
        research = "researcher" in roles or "expert" in roles
        position = rng.choice(("研究员", "副研究员", "教授", "副教授", "高级工程师")) if research else (
            "董事长" if "entrepreneur" in roles else "处长")
        person = {
            "name_zh": rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.choice((1, 2)))),
            "name_en": f"Synthetic Person {i + 1:06d}",
            "orcid": make_orcid(i + 1) if research or rng.random() < 0.2 else None,
            "external_id": f"DEMO-P{i + 1:06d}", "roles": roles,
            "discipline_codes": sorted(rng.sample(DISCIPLINES, rng.randint(1, 2))) if research else [],
            "talent_category": rng.choice(list(ref.TALENT_CATEGORIES)) if research else None,
            "affiliation_credit_code": where["credit_code"], "position": position,
            "affiliation_start_date": date(rng.randint(2005, 2023), rng.randint(1, 12), 1),
            "is_synthetic": True,
        }
        people.append(person)
        if "entrepreneur" in roles and where["credit_code"] not in represented:
            represented.add(where["credit_code"])
            relations.append({"credit_code": where["credit_code"], "kind": "legal_representative",
                              "related_external_id": person["external_id"]})
            relations.append({"credit_code": where["credit_code"], "kind": "shareholder",
                              "related_external_id": person["external_id"],
                              "share": Decimal(str(round(rng.uniform(0.3, 0.6), 4)))})
    # Municipal units that co-handle the seed reply (承办单位), so that a handling-unit officer can be bound to
    # one. Drawn from their own generator so that every record above stays as it was for the same seed.
    unit_rng = random.Random(seed + 1)
    for name_zh, name_en in HANDLING_UNITS:
        orgs.append({
            "credit_code": make_credit_code("11", ref.DISTRICTS["黄浦区"], f"{unit_rng.randrange(10**8):08d}"),
            "name_zh": f"{name_zh}（演示）", "name_en": f"{name_en} (synthetic)", "kind": "government",
            "district": "黄浦区", "address": f"上海市黄浦区{unit_rng.choice(ROADS)}{unit_rng.randint(1, 2999)}号",
            "industry_section": "S", "industry_division": "92", "ownership": "state_owned",
            "state_level": "municipal", "founded_date": None, "is_synthetic": True,
        })
    return DemoData(records={"organisations": orgs, "people": people, "facts": facts, "qualifications": quals},
                    relations=relations)


@dataclass
class LoadResult:
    """What ``load`` did: the importer's result and the relations created."""

    result: importer.ImportResult
    relations_created: int
    relations_unchanged: int


def _dedupe_relations(relations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[tuple[Any, ...]] = set()
    out = []
    for r in relations:
        key = (r["credit_code"], r["kind"], r.get("related_credit_code"), r.get("related_external_id"))
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


def load(session: Session, principal: Principal, data: DemoData, source: str, dry_run: bool = False,
         progress: importer.Progress | None = None) -> LoadResult:
    """Write ``data`` through the registry importer (validated, upserted, audited), then its relations."""
    require(principal, service.WRITE_REGISTRY)
    result = importer.import_records(session, principal, data.records, source=source, dry_run=dry_run,
                                     progress=progress)
    relations = _dedupe_relations(data.relations)
    if dry_run:
        return LoadResult(result, len(relations), 0)
    codes = {r["credit_code"] for r in relations} | {r["related_credit_code"] for r in relations
                                                     if r.get("related_credit_code")}
    ext_ids = {r["related_external_id"] for r in relations if r.get("related_external_id")}
    org_ids = {row["credit_code"]: row["id"] for row in importer.rows_where_in(
        session, [Organisation.id, Organisation.credit_code], Organisation.credit_code, codes)}
    person_ids = {row["external_id"]: row["id"] for row in importer.rows_where_in(
        session, [Person.id, Person.external_id], Person.external_id, ext_ids)}
    existing = {tuple(row.values()) for row in importer.rows_where_in(
        session, [OrganisationRelation.organisation_id, OrganisationRelation.kind,
                  OrganisationRelation.related_organisation_id, OrganisationRelation.related_person_id],
        OrganisationRelation.organisation_id, [org_ids[c] for c in {r["credit_code"] for r in relations}])}
    rows = []
    for r in relations:
        row = {"organisation_id": org_ids[r["credit_code"]], "kind": r["kind"],
               "related_organisation_id": org_ids.get(r.get("related_credit_code")),
               "related_person_id": person_ids.get(r.get("related_external_id")),
               "share": r.get("share"), "is_synthetic": True}
        if (row["organisation_id"], row["kind"], row["related_organisation_id"], row["related_person_id"]) \
                not in existing:
            rows.append(row)
    for i in range(0, len(rows), 5000):
        session.execute(insert(OrganisationRelation.__table__), rows[i:i + 5000])
    if rows:
        session.flush()
        if len(rows) <= importer.AUDIT_DETAIL_LIMIT:
            ids = {(r.organisation_id, r.kind, r.related_organisation_id, r.related_person_id): r.id
                   for r in session.execute(select(OrganisationRelation).where(
                       OrganisationRelation.organisation_id.in_(sorted({x["organisation_id"] for x in rows}))))
                   .scalars()}
            for row in rows:
                key = (row["organisation_id"], row["kind"], row["related_organisation_id"], row["related_person_id"])
                audit.record(session, principal, "registry.relation.create", "organisation_relation", ids[key],
                             after=row)
        else:
            audit.record(session, principal, "registry.relation.bulk_create", "import", source,
                         after={"source": source, "created": len(rows)})
    return LoadResult(result, len(rows), len(relations) - len(rows))


def demo_size(size: str, scale: float | None = None) -> DemoSize:
    """The named size, optionally scaled down (tests of the ``city`` shape on fewer rows)."""
    sz = SIZES[size]
    if scale is None:
        return sz
    return replace(sz, **{k: max(1, int(v * scale)) for k, v in vars(sz).items()})
