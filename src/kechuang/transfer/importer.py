"""Import technology contracts or achievements from CSV/XLSX: validate every row first, then write all
rows or none, idempotently (a row equal to the record is neither written nor audited).

It reuses the registry import's file reader and value parsers (``kechuang.registry.importer``: UTF-8/BOM/
GB18030 CSV or XLSX, yuan→fen, dates like 2024-03-31 / 2024年3月31日, 是/否) and follows its audit rule:
one ``transfer.import`` entry per import that changes something, plus one entry per object when at most
``AUDIT_DETAIL_LIMIT`` objects change. Keys: a contract's number; an achievement's kind + number.

Contract columns: 合同编号, 合同类别, 卖方信用代码, 买方信用代码 or 买方名称, 项目名称, 签订日期, 成交额（元）,
非技术性费用（元）, 技术交易额（元, checked: 成交额 − 非技术性费用）, 登记日期 + 登记证书编号 (both or
neither: registered), 合成数据. Achievement columns: 成果类型, 成果名称, 编号, TRL, 领域, 关键词,
财政资助（元）, 涉密, 权属单位 ("credit code[:share]; ..."), 完成人 ("external id or ORCID:contribution; ...").
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.orm import Session

from kechuang.core import audit
from kechuang.core.auth import Principal
from kechuang.core.errors import FieldError, ValidationFailed
from kechuang.core.i18n import N_
from kechuang.core.permissions import require
from kechuang.db import utcnow
from kechuang.registry.importer import (
    AUDIT_DETAIL_LIMIT,
    Column,
    ImportResult,
    KindCounts,
    _Bad,
    _blank,
    _bool,
    _chunks,
    _code,
    _date,
    _int,
    _list,
    _norm,
    _text,
    _yuan,
    read_tables,
    rows_where_in,
)
from kechuang.registry.models import Organisation, Person
from kechuang.transfer import service
from kechuang.transfer.models import (
    Achievement,
    AchievementMember,
    AchievementOwner,
    LedgerEntry,
    TechnologyContract,
)

KINDS = ("contracts", "achievements")

_CATEGORY_ALIASES = {
    "development_commissioned": ("技术开发（委托）", "技术开发(委托)", "委托开发", "委托开发合同"),
    "development_cooperative": ("技术开发（合作）", "技术开发(合作)", "合作开发", "合作开发合同"),
    "transfer": ("技术转让", "技术转让合同"), "licence": ("技术许可", "技术许可合同", "license"),
    "consulting": ("技术咨询", "技术咨询合同", "consultancy"), "service": ("技术服务", "技术服务合同"),
}
_KIND_ALIASES = {
    "invention_patent": ("发明专利", "发明"), "utility_model": ("实用新型", "实用新型专利"),
    "design": ("外观设计", "外观设计专利"), "software_copyright": ("软件著作权", "计算机软件著作权", "软著"),
    "ic_layout": ("集成电路布图设计", "布图设计"), "plant_variety": ("植物新品种",), "technical_secret": ("技术秘密",),
    "drug_registration": ("药品注册证书", "药品注册"), "device_registration": ("医疗器械注册证", "医疗器械注册"),
}


def _vocab(codes: dict[str, str], aliases: dict[str, tuple[str, ...]]) -> Callable[[Any], str]:
    lookup = {_norm(c): c for c in codes}
    for code, names in aliases.items():
        for n in names:
            lookup[_norm(n)] = code
    for code, label in codes.items():
        lookup[_norm(label)] = code

    def parse(v: Any) -> str:
        code = lookup.get(_norm(str(v)))
        if code is None:
            raise _Bad(N_("Unknown value; allowed: {allowed}."), allowed=", ".join(codes))
        return code
    return parse


def _pairs(v: Any) -> list[tuple[str, Decimal | None]]:
    """"KEY:share; KEY:share" -> [(KEY, Decimal)], share optional ("KEY" alone: no share)."""
    out: list[tuple[str, Decimal | None]] = []
    for part in _list()(v):
        key, _, share = part.replace("：", ":").partition(":")
        key = key.strip()
        if not key:
            raise _Bad(N_("Write each entry as key:share, separated by semicolons."))
        if share.strip():
            s = share.strip()
            try:
                d = Decimal(s[:-1]) / 100 if s.endswith("%") else Decimal(s)
            except InvalidOperation:
                raise _Bad(N_("Write each entry as key:share, separated by semicolons.")) from None
            out.append((key, d))
        else:
            out.append((key, None))
    return out


_SYN = Column("is_synthetic", ("is_synthetic", "synthetic", "合成数据", "演示数据"), _bool)


def _money(fld: str, zh: str, en: str, required: bool = False) -> list[Column]:
    return [Column(fld, (fld, f"{zh}（分）", f"{zh}(分)", f"{en} (fen)"), _int(0), required),
            Column(fld, (f"{zh}（元）", f"{zh}(元)", zh, f"{en} (yuan)", en), _yuan(0), required)]


CONTRACT_COLUMNS: list[Column] = [
    Column("number", ("number", "合同编号", "contract number"), _text(64), True),
    Column("category", ("category", "合同类别", "合同类型", "技术合同类别"),
           _vocab(service.CONTRACT_CATEGORIES, _CATEGORY_ALIASES), True),
    Column("seller_credit_code", ("seller_credit_code", "卖方信用代码", "卖方统一社会信用代码", "seller credit code"),
           _code, True),
    Column("buyer_credit_code", ("buyer_credit_code", "买方信用代码", "买方统一社会信用代码", "buyer credit code"),
           _code),
    Column("buyer_name", ("buyer_name", "买方名称", "买方", "buyer"), _text(200)),
    Column("subject", ("subject", "项目名称", "合同名称", "标的"), _text(300), True),
    Column("signed_date", ("signed_date", "签订日期", "signed"), _date, True),
    *_money("total_fen", "成交额", "turnover", True),
    *_money("non_technical_fen", "非技术性费用", "non-technical"),
    *_money("technical_fen", "技术交易额", "technical amount"),
    Column("registered_date", ("registered_date", "登记日期", "认定登记日期", "registered"), _date),
    Column("certificate_number", ("certificate_number", "登记证书编号", "登记编号", "certificate"), _text(64)),
    _SYN,
]
ACHIEVEMENT_COLUMNS: list[Column] = [
    Column("kind", ("kind", "成果类型", "类型"), _vocab(service.ACHIEVEMENT_KINDS, _KIND_ALIASES), True),
    Column("title", ("title", "成果名称", "名称"), _text(300), True),
    Column("number", ("number", "编号", "专利号", "登记号", "证书号"), _text(64), True),
    Column("trl", ("trl", "技术成熟度", "成熟度"), _int(1, 9)),
    Column("fields", ("fields", "领域", "技术领域"), _list()),
    Column("keywords", ("keywords", "关键词"), _list()),
    *_money("government_funding_fen", "财政资助", "government funding"),
    Column("is_classified", ("is_classified", "涉密", "classified"), _bool),
    Column("owners", ("owners", "权属单位", "owner credit codes"), _pairs, True),
    Column("members", ("members", "完成人", "团队", "team"), _pairs, True),
    _SYN,
]
COLUMNS = {"contracts": CONTRACT_COLUMNS, "achievements": ACHIEVEMENT_COLUMNS}
_CONTRACT_FIELDS = ["category", "seller_organisation_id", "buyer_organisation_id", "buyer_name", "subject",
                    "signed_date", "total_fen", "non_technical_fen", "technical_fen", "registered_date",
                    "certificate_number", "state", "is_synthetic"]
_ACH_FIELDS = ["title", "trl", "fields", "keywords", "government_funding_fen", "is_classified", "is_synthetic"]


def _header_map(kind: str) -> dict[str, Column]:
    out: dict[str, Column] = {}
    for col in COLUMNS[kind]:
        for alias in col.aliases:
            out.setdefault(_norm(alias), col)
    return out


class _Errors(list):
    def at(self, line: int | None, column: str, reason: str, value: Any = None, /, **params: Any) -> None:
        self.append(FieldError(column, reason, params, row=line, value=None if _blank(value) else value))


def _parse(data: bytes, name: str, kind: str, errors: _Errors) -> tuple[list[tuple[int, dict[str, Any]]],
                                                                         dict[str, str], list[str]]:
    """Rows (line number, values) of the first non-empty sheet; header names by field; ignored headers."""
    hmap = _header_map(kind)
    for table in read_tables(data, name):
        rows = table.rows
        header_idx = next((i for i, r in enumerate(rows[:5])
                           if sum(_norm(str(c)) in hmap for c in r if not _blank(c)) >= 2), None)
        if header_idx is None:
            continue
        headers = ["" if _blank(c) else str(c).strip() for c in rows[header_idx]]
        cols: list[tuple[int, Column]] = []
        names: dict[str, str] = {}
        ignored: list[str] = []
        for i, h in enumerate(headers):
            col = hmap.get(_norm(h)) if h else None
            if col is None:
                if h:
                    ignored.append(h)
                continue
            if col.field in names:
                errors.at(header_idx + 1, h, N_("Two columns give {field}: {first} and {second}."),
                          field=col.field, first=names[col.field], second=h)
                continue
            names[col.field] = h
            cols.append((i, col))
        for col in COLUMNS[kind]:
            if col.required and col.field not in names:
                errors.at(header_idx + 1, col.aliases[1], N_("Required column missing."))
        out: list[tuple[int, dict[str, Any]]] = []
        for n, raw in enumerate(rows[header_idx + 1:], start=header_idx + 2):
            if all(_blank(v) for v in raw):
                continue
            values: dict[str, Any] = {}
            for i, col in cols:
                v = raw[i] if i < len(raw) else None
                if _blank(v):
                    values[col.field] = None
                    if col.required:
                        errors.at(n, names[col.field], N_("Required."))
                    continue
                try:
                    values[col.field] = col.parse(v)
                except _Bad as bad:
                    values[col.field] = None
                    errors.at(n, names[col.field], bad.reason, v, **bad.params)
            out.append((n, values))
        return out, names, ignored
    errors.at(1, "", N_("No header row with known column names in the first five rows."))
    return [], {}, []


def _org_ids(session: Session, codes: set[str]) -> dict[str, int]:
    return {r["credit_code"]: r["id"] for r in rows_where_in(
        session, [Organisation.id, Organisation.credit_code], Organisation.credit_code, codes)}


def _person_ids(session: Session, keys: set[str]) -> dict[str, int]:
    out = {r["external_id"]: r["id"] for r in rows_where_in(
        session, [Person.id, Person.external_id], Person.external_id, keys)}
    for r in rows_where_in(session, [Person.id, Person.orcid], Person.orcid, keys - set(out)):
        out[r["orcid"]] = r["id"]
    return out


def import_file(session: Session, principal: Principal, path_or_bytes: str | Path | bytes, kind: str,
                filename: str | None = None, dry_run: bool = False) -> ImportResult:
    """Validate then import a CSV/XLSX of ``kind`` ("contracts" or "achievements"). Raises ``ValidationFailed``
    listing every bad row and writes nothing if any row is bad; otherwise creates/updates in the caller's
    transaction (unchanged rows untouched) and returns the counts. Needs ``transfer.import`` (operators)."""
    require(principal, service.IMPORT)
    if kind not in KINDS:
        raise ValidationFailed(errors=[FieldError("kind", N_("Unknown value; allowed: {allowed}."),
                                                  {"allowed": ", ".join(KINDS)}, value=kind)])
    if isinstance(path_or_bytes, bytes):
        data, name = path_or_bytes, filename or "upload.csv"
    else:
        data, name = Path(path_or_bytes).read_bytes(), filename or Path(path_or_bytes).name
    digest = hashlib.sha256(data).hexdigest()
    errors = _Errors()
    rows, names, ignored = _parse(data, name, kind, errors)
    plan = (_plan_contracts if kind == "contracts" else _plan_achievements)(session, rows, names, errors)
    if not rows and not errors:
        errors.at(None, "file", N_("The file has no data rows."))
    if errors:
        errors.sort(key=lambda e: e.row or 0)
        raise ValidationFailed(N_("The file has {count} problems; nothing was imported."), errors=list(errors),
                               count=len(errors))
    creates, updates, unchanged = plan
    result = ImportResult(filename=name, sha256=digest, dry_run=dry_run, ignored_columns=ignored,
                          kinds={kind: KindCounts(rows=len(rows), created=len(creates), updated=len(updates),
                                                  unchanged=unchanged)})
    if dry_run or not (creates or updates):
        return result
    detailed = len(creates) + len(updates) <= AUDIT_DETAIL_LIMIT
    (_write_contracts if kind == "contracts" else _write_achievements)(session, principal, creates, updates,
                                                                        detailed)
    audit.record(session, principal, "transfer.import", "import", digest[:16],
                 after={"file": name, "sha256": digest, "kind": kind, "rows": len(rows), "created": len(creates),
                        "updated": len(updates), "unchanged": unchanged, "per_object_entries": detailed,
                        **({} if detailed else {"created_keys": [c.get("number") for c in creates][:10000]})})
    return result


# ---------------------------------------------------------------- contracts
def _plan_contracts(session: Session, rows: list[tuple[int, dict[str, Any]]], names: dict[str, str],
                    errors: _Errors) -> tuple[list[dict[str, Any]], list[tuple[int, dict, dict]], int]:
    def col(f: str) -> str:
        return names.get(f, f)
    codes = {v[f] for _n, v in rows for f in ("seller_credit_code", "buyer_credit_code") if v.get(f)}
    orgs = _org_ids(session, codes)
    numbers = [v["number"] for _n, v in rows if v.get("number")]
    existing = {r["number"]: r for r in rows_where_in(
        session, [TechnologyContract.id, TechnologyContract.number, *[getattr(TechnologyContract, f)
                                                                      for f in _CONTRACT_FIELDS]],
        TechnologyContract.number, numbers)}
    seen: dict[str, int] = {}
    creates: list[dict[str, Any]] = []
    updates: list[tuple[int, dict, dict]] = []
    unchanged = 0
    for n, v in rows:
        number = v.get("number")
        if number in seen:
            errors.at(n, col("number"), N_("The same contract number is also on row {row}."), number,
                      row=seen[number])
            continue
        if number:
            seen[number] = n
        seller = orgs.get(v.get("seller_credit_code") or "")
        if v.get("seller_credit_code") and seller is None:
            errors.at(n, col("seller_credit_code"), N_("No organisation with this credit code in the registry."),
                      v["seller_credit_code"])
        buyer = orgs.get(v.get("buyer_credit_code") or "")
        if v.get("buyer_credit_code") and buyer is None:
            errors.at(n, col("buyer_credit_code"), N_("No organisation with this credit code in the registry."),
                      v["buyer_credit_code"])
        non_tech = v.get("non_technical_fen") or 0
        rec = {"number": number, "category": v.get("category"), "seller_organisation_id": seller,
               "buyer_organisation_id": buyer, "buyer_name": v.get("buyer_name"), "subject": v.get("subject"),
               "signed_date": v.get("signed_date"), "total_fen": v.get("total_fen"), "non_technical_fen": non_tech,
               "technical_fen": v.get("technical_fen"), "registered_date": v.get("registered_date"),
               "certificate_number": v.get("certificate_number"), "is_synthetic": bool(v.get("is_synthetic"))}
        for e in service.contract_problems(rec):
            errors.at(n, col(e.field), e.reason, e.value, **e.params)
        if bool(rec["registered_date"]) != bool(rec["certificate_number"]):
            errors.at(n, col("certificate_number"), N_("A registered contract has both its registration date and "
                                                       "certificate number."))
        if rec["registered_date"] and rec["signed_date"] and rec["registered_date"] < rec["signed_date"]:
            errors.at(n, col("registered_date"), N_("Registered before it was signed."), rec["registered_date"])
        if rec["total_fen"] is not None:
            rec["technical_fen"] = rec["total_fen"] - non_tech
        rec["state"] = "registered" if rec["registered_date"] else "draft"
        old = existing.get(number)
        if old is None:
            creates.append(rec)
            continue
        changed = {f: rec[f] for f in _CONTRACT_FIELDS if rec[f] != old[f]}
        if changed:
            updates.append((old["id"], {f: old[f] for f in changed}, changed))
        else:
            unchanged += 1
    return creates, updates, unchanged


def _write_contracts(session: Session, principal: Principal, creates: list[dict[str, Any]],
                     updates: list[tuple[int, dict, dict]], detailed: bool) -> None:
    now = utcnow()
    for chunk in _chunks(creates, 5000):
        rows = [dict(r, created_at=now, updated_at=now) for r in chunk]
        if detailed:
            ids = list(session.scalars(insert(TechnologyContract).returning(
                TechnologyContract.id, sort_by_parameter_order=True), rows))
            for i, r in zip(ids, chunk, strict=True):
                audit.record(session, principal, "transfer.contract.create", "technology_contract", i, after=r)
        else:
            session.execute(insert(TechnologyContract), rows)
    for cid, before, after in updates:
        session.execute(update(TechnologyContract), [{"id": cid, **after, "updated_at": now}])
        if detailed:
            audit.record(session, principal, "transfer.contract.update", "technology_contract", cid, before=before,
                         after=after)


# ---------------------------------------------------------------- achievements
def _plan_achievements(session: Session, rows: list[tuple[int, dict[str, Any]]], names: dict[str, str],
                       errors: _Errors) -> tuple[list[dict[str, Any]], list[tuple[int, dict, dict]], int]:
    def col(f: str) -> str:
        return names.get(f, f)
    codes = {k.upper() for _n, v in rows for k, _s in v.get("owners") or []}
    people = {k for _n, v in rows for k, _s in v.get("members") or []}
    orgs, persons = _org_ids(session, codes), _person_ids(session, people)
    keys = [(v.get("kind"), v.get("number")) for _n, v in rows]
    existing: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows_where_in(session, [Achievement.id, Achievement.kind, Achievement.number,
                                     *[getattr(Achievement, f) for f in _ACH_FIELDS]],
                           Achievement.number, {k[1] for k in keys if k[1]}):
        existing[(r["kind"], r["number"])] = r
    seen: dict[tuple, int] = {}
    creates: list[dict[str, Any]] = []
    updates: list[tuple[int, dict, dict]] = []
    unchanged = 0
    for n, v in rows:
        key = (v.get("kind"), v.get("number"))
        if key in seen:
            errors.at(n, col("number"), N_("The same result is also on row {row}."), key[1], row=seen[key])
            continue
        seen[key] = n
        owners = v.get("owners") or []
        members = v.get("members") or []
        if len(owners) == 1 and owners[0][1] is None:
            owners = [(owners[0][0], Decimal(1))]
        if len(members) == 1 and members[0][1] is None:
            members = [(members[0][0], Decimal(1))]
        for code, _s in owners:
            if code.upper() not in orgs:
                errors.at(n, col("owners"), N_("No organisation with this credit code in the registry."), code)
        for pk, _s in members:
            if pk not in persons:
                errors.at(n, col("members"), N_("No person with this external id or ORCID."), pk)
        if any(s is None for _k, s in owners + members):
            errors.at(n, col("owners"), N_("Give a share for each owner and member when there are several."))
            continue
        rec = {"kind": v.get("kind"), "number": v.get("number"), "title": v.get("title"), "trl": v.get("trl"),
               "fields": v.get("fields") or [], "keywords": v.get("keywords") or [],
               "government_funding_fen": v.get("government_funding_fen") or 0,
               "is_classified": bool(v.get("is_classified")), "is_synthetic": bool(v.get("is_synthetic"))}
        check = dict(rec, owners=[{"organisation_id": orgs.get(c.upper(), -1), "share": s} for c, s in owners],
                     members=[{"person_id": persons.get(p, -1), "contribution": s} for p, s in members])
        for e in service.achievement_problems(check):
            errors.at(n, col(e.field), e.reason, e.value, **e.params)
        old = existing.get(key)
        if old is None:
            rec["_owners"] = [(orgs.get(c.upper()), s) for c, s in owners]
            rec["_members"] = [(persons.get(p), s) for p, s in members]
            creates.append(rec)
            continue
        changed = {f: rec[f] for f in _ACH_FIELDS if rec[f] != old[f]}
        if changed:
            updates.append((old["id"], {f: old[f] for f in changed}, changed))
        else:
            unchanged += 1
    return creates, updates, unchanged


def _write_achievements(session: Session, principal: Principal, creates: list[dict[str, Any]],
                        updates: list[tuple[int, dict, dict]], detailed: bool) -> None:
    now = utcnow()
    today = service.today()
    for chunk in _chunks(creates, 5000):
        rows = [{k: v for k, v in r.items() if not k.startswith("_")} | {"created_at": now, "updated_at": now}
                for r in chunk]
        ids = list(session.scalars(insert(Achievement).returning(Achievement.id, sort_by_parameter_order=True),
                                   rows))
        owners = [{"achievement_id": i, "organisation_id": o, "share": s}
                  for i, r in zip(ids, chunk, strict=True) for o, s in r["_owners"]]
        members = [{"achievement_id": i, "person_id": p, "contribution": s}
                   for i, r in zip(ids, chunk, strict=True) for p, s in r["_members"]]
        session.execute(insert(AchievementOwner), owners)
        session.execute(insert(AchievementMember), members)
        session.execute(insert(LedgerEntry), [{"organisation_id": o["organisation_id"],
                                               "achievement_id": o["achievement_id"], "stage": "registered",
                                               "book_value_fen": 0, "registered_date": today, "updated_at": now}
                                              for o in owners])
        if detailed:
            for i, r in zip(ids, rows, strict=True):
                audit.record(session, principal, "transfer.achievement.create", "achievement", i, after=r)
    for aid, before, after in updates:
        session.execute(update(Achievement), [{"id": aid, **after, "updated_at": now}])
        if detailed:
            audit.record(session, principal, "transfer.achievement.update", "achievement", aid, before=before,
                         after=after)
