"""Import organisations, yearly facts, qualifications and people from CSV or XLSX (docs/import-format.md).

Two phases. *Validate*: every row of every sheet is parsed and checked (types, required fields, the
business rules of ``registry.service``, references, duplicates in the file); every problem is collected
into one report and ``ValidationFailed`` is raised before anything is written. *Write*: creates and
updates go to the database in bulk (executemany ``insert()``/``update()`` with key maps loaded up
front), inside the caller's transaction; unchanged rows are neither written nor audited.

Audit rule (docs/import-format.md, "Audit"): every import that changes something appends one
``registry.import`` entry (file name, SHA-256, counts). When at most ``AUDIT_DETAIL_LIMIT`` objects
change, each also gets its own create/update entry with before/after; above that, the batch entry
carries the keys of the created objects and the before/after of each changed field of updated ones.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from kechuang.core import audit
from kechuang.core.auth import Principal
from kechuang.core.errors import FieldError, ValidationFailed
from kechuang.core.i18n import N_, gettext
from kechuang.core.identifiers import credit_code_problem, normalize_orcid
from kechuang.core.permissions import require
from kechuang.db import utcnow
from kechuang.registry import reference as ref
from kechuang.registry import service
from kechuang.registry.models import Affiliation, Organisation, OrganisationFact, Person, Qualification

# The order in which kinds are written (facts and qualifications refer to organisations; people's
# affiliations too).
KINDS = ("organisations", "people", "facts", "qualifications")
AUDIT_DETAIL_LIMIT = 1000  # at most this many changed objects: one audit entry each
CHANGE_SAMPLE = 200  # changes listed in the result (dry-run display)
_CHUNK = 500  # keys per IN (...) lookup

Progress = Callable[[str, int, int], None]


# ---------------------------------------------------------------- result
@dataclass
class KindCounts:
    """Rows of one kind and what happened to them."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class Change:
    """One created or updated object (a sample is kept for display)."""

    kind: str
    key: str
    action: str  # "create" or "update"
    fields: list[str]


@dataclass
class ImportResult:
    """What an import did (or, for a dry run, would do)."""

    filename: str
    sha256: str
    dry_run: bool
    kinds: dict[str, KindCounts] = field(default_factory=dict)
    ignored_columns: list[str] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)

    @property
    def created(self) -> int:
        """Objects created, all kinds."""
        return sum(c.created for c in self.kinds.values())

    @property
    def updated(self) -> int:
        """Objects updated, all kinds."""
        return sum(c.updated for c in self.kinds.values())

    @property
    def unchanged(self) -> int:
        """Rows that matched the registry exactly, all kinds."""
        return sum(c.unchanged for c in self.kinds.values())

    @property
    def rows(self) -> int:
        """Data rows read, all kinds."""
        return sum(c.rows for c in self.kinds.values())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (API)."""
        return {
            "filename": self.filename, "sha256": self.sha256, "dry_run": self.dry_run,
            "rows": self.rows, "created": self.created, "updated": self.updated, "unchanged": self.unchanged,
            "kinds": {k: vars(c) for k, c in self.kinds.items()},
            "ignored_columns": self.ignored_columns,
            "changes": [vars(c) for c in self.changes],
        }


# ---------------------------------------------------------------- value parsers
class _Bad(Exception):
    def __init__(self, reason: str, **params: Any):
        super().__init__(reason)
        self.reason = reason
        self.params = params


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def _text(max_len: int) -> Callable[[Any], str]:
    def parse(v: Any) -> str:
        s = (v.isoformat() if isinstance(v, date) else str(v)).strip()
        if isinstance(v, float) and v.is_integer():
            s = str(int(v))
        if len(s) > max_len:
            raise _Bad(N_("At most {max} characters."), max=max_len)
        return s
    return parse


def _code(v: Any) -> str:
    return "".join(str(v).split()).upper()


def _int(lo: int | None = 0, hi: int | None = None) -> Callable[[Any], int]:
    def parse(v: Any) -> int:
        if type(v) is str and v.isdigit():
            n = int(v)
        elif isinstance(v, bool):
            raise _Bad(N_("A whole number is expected."))
        elif isinstance(v, int):
            n = v
        elif isinstance(v, float):
            if not v.is_integer():
                raise _Bad(N_("A whole number is expected."))
            n = int(v)
        else:
            s = str(v).strip().replace(",", "").replace("，", "")
            try:
                d = Decimal(s)
            except InvalidOperation:
                raise _Bad(N_("A whole number is expected.")) from None
            if d != d.to_integral_value():
                raise _Bad(N_("A whole number is expected."))
            n = int(d)
        if lo is not None and n < lo:
            raise _Bad(N_("A number of at least {min} is expected."), min=lo)
        if hi is not None and n > hi:
            raise _Bad(N_("A number of at most {max} is expected."), max=hi)
        return n
    return parse


def _yuan(lo: int | None = 0, fen_per_unit: int = 100) -> Callable[[Any], int]:
    """An amount in yuan (or thousands / ten-thousands of yuan) to integer fen, refusing fractions of a fen."""
    def parse(v: Any) -> int:
        try:
            d = Decimal(str(v).strip().replace(",", "").replace("，", ""))
        except InvalidOperation:
            raise _Bad(N_("An amount is expected, e.g. 1234.56.")) from None
        if not d.is_finite():
            raise _Bad(N_("An amount is expected, e.g. 1234.56."))
        fen = d * fen_per_unit
        if fen != fen.to_integral_value():
            raise _Bad(N_("The amount has fractions of a fen."))
        if lo is not None and fen < lo:
            raise _Bad(N_("A number of at least {min} is expected."), min=lo)
        return int(fen)
    return parse


def _unit_missing(_v: Any) -> Any:  # a money header without its unit: refused at the header
    raise AssertionError("unreachable")


def _fraction(v: Any) -> Decimal:
    s = str(v).strip()
    try:
        d = Decimal(s[:-1]) / 100 if s.endswith("%") else Decimal(s if not isinstance(v, float) else repr(v))
    except InvalidOperation:
        raise _Bad(N_("A fraction between 0 and 1 is expected, e.g. 0.85 or 85%.")) from None
    if not d.is_finite() or not 0 <= d <= 1:
        raise _Bad(N_("A fraction between 0 and 1 is expected, e.g. 0.85 or 85%."))
    if d != d.quantize(Decimal("0.0001")):
        raise _Bad(N_("At most four decimal places."))
    return d.quantize(Decimal("0.0001"))


_DATE_RES = (re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$"), re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
             re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"))


def _date(v: Any) -> date:
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, date):
        return v
    s = str(v).strip()
    if len(s) == 10 and s[4] == "-" and s[7] == "-":
        try:
            return date.fromisoformat(s)
        except ValueError:
            raise _Bad(N_("A date is expected, e.g. 2024-03-31.")) from None
    if isinstance(v, int | float):
        s = str(int(v))
    s = s.split(" ")[0].split("T")[0]
    for rx in _DATE_RES:
        m = rx.match(s)
        if m:
            try:
                return date(int(m[1]), int(m[2]), int(m[3]))
            except ValueError:
                break
    raise _Bad(N_("A date is expected, e.g. 2024-03-31."))


_TRUE = {"1", "true", "yes", "y", "t", "是", "有", "√"}
_FALSE = {"0", "false", "no", "n", "f", "否", "无", "没有"}


_BOOL_FAST = {**dict.fromkeys(_TRUE, True), **dict.fromkeys(_FALSE, False)}


def _bool(v: Any) -> bool:
    if type(v) is str and v in _BOOL_FAST:
        return _BOOL_FAST[v]
    if isinstance(v, bool):
        return v
    s = str(v).strip().lower()
    if isinstance(v, int | float):
        s = str(int(v))
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise _Bad(N_("Yes or no is expected (是/否, yes/no, 1/0)."))


def _norm(s: str) -> str:
    """Header and vocabulary normal form: NFKC (full-width brackets), lower case, no spaces/underscores."""
    return re.sub(r"[\s_\-]+", "", unicodedata.normalize("NFKC", str(s)).lower().lstrip("\ufeff"))


# Chinese synonyms of the controlled vocabularies (the codes and English labels are accepted too).
_VOCAB_ZH: dict[str, dict[str, tuple[str, ...]]] = {
    "org_kind": {"enterprise": ("企业",), "university": ("高校", "大学", "高等院校"),
                 "research_institute": ("科研院所", "研究院所", "研究机构"),
                 "new_rd_institution": ("新型研发机构",), "hospital": ("医院", "医疗机构"),
                 "service_provider": ("服务机构", "科技服务机构"), "investor": ("投资机构",),
                 "government": ("政府部门", "政府单位", "机关")},
    "ownership": {"state_owned": ("国有", "国有企业"), "private": ("民营", "私营"),
                  "foreign_invested": ("外资", "外商投资"), "mixed": ("混合所有制", "混合")},
    "state_level": {"central": ("中央", "央企"), "municipal": ("市属", "市级"), "district": ("区属", "区级")},
    "qualification": {"high_tech": ("高新技术企业", "高企"), "tech_sme": ("科技型中小企业",),
                      "specialised": ("专精特新", "专精特新中小企业"), "foreign_rd_centre": ("外资研发中心",),
                      "new_rd_institution": ("新型研发机构",)},
    "role": {"researcher": ("研究人员", "科研人员"), "expert": ("专家",), "entrepreneur": ("企业家", "创业者"),
             "officer": ("管理人员", "干部")},
    "talent": {"basic_research": ("基础研究类",), "applied_rd": ("应用研发类",), "tech_service": ("科技服务类",),
               "public_welfare": ("社会公益研究类",)},
}


def _vocab(name: str, mapping: dict[str, str]) -> Callable[[Any], str]:
    lookup: dict[str, str] = {}
    for code, label in mapping.items():
        for alias in (code, label, *_VOCAB_ZH.get(name, {}).get(code, ())):
            lookup[_norm(alias)] = code

    seen: dict[str, str] = {}  # value as written -> code (files repeat a handful of values)

    def parse(v: Any) -> str:
        s = str(v).strip()
        if s in seen:
            return seen[s]
        code = lookup.get(_norm(s))
        if code is not None and len(seen) < 1000:
            seen[s] = code
        if code is None:  # translated labels (catalogs may change at run time)
            for c, label in mapping.items():
                if _norm(gettext(label, "zh")) == _norm(s):
                    return c
            raise _Bad(N_("Unknown value; allowed: {allowed}."), allowed=", ".join(mapping))
        return code
    return parse


def _district(v: Any) -> str:
    s = str(v).strip()
    if s in ref.DISTRICTS:
        return s
    for zh, en in ref.DISTRICT_EN.items():
        if _norm(s) in (_norm(en), _norm(zh[:-1]), _norm(en.replace(" New Area", ""))):
            return zh
    return s  # organisation_problems names it


def _list(item: Callable[[Any], str] | None = None) -> Callable[[Any], list[str]]:
    def parse(v: Any) -> list[str]:
        parts = [str(p) for p in v] if isinstance(v, list | tuple) else re.split(r"[;,；，、|]", str(v))
        out = [p.strip() for p in parts if p.strip()]
        return [item(p) for p in out] if item else out
    return parse


# ---------------------------------------------------------------- columns
@dataclass(frozen=True)
class Column:
    """One importable column: its field, the headers that name it, and its parser."""

    field: str
    aliases: tuple[str, ...]
    parse: Callable[[Any], Any]
    required: bool = False


def _money(fld: str, zh: str, en: str, lo: int | None = 0) -> list[Column]:
    # The unit must be in the header (统计报表 often use 千元 or 万元): a bare 营业收入 is refused.
    return [Column(fld, (fld, f"{zh}（分）", f"{en} (fen)"), _int(lo)),
            Column(fld, (f"{zh}（元）", f"{en} (yuan)"), _yuan(lo, 100)),
            Column(fld, (f"{zh}（千元）", f"{en} (thousand yuan)"), _yuan(lo, 100_000)),
            Column(fld, (f"{zh}（万元）", f"{en} (10k yuan)"), _yuan(lo, 1_000_000)),
            Column(fld, (zh, en), _unit_missing)]


_SYN = Column("is_synthetic", ("is_synthetic", "synthetic", "合成数据", "演示数据"), _bool)

ORGANISATION_COLUMNS: list[Column] = [
    Column("credit_code", ("credit_code", "统一社会信用代码", "信用代码", "credit code",
                           "unified social credit code"), _code, True),
    Column("name_zh", ("name_zh", "名称", "单位名称", "企业名称", "机构名称", "中文名称", "name", "name (chinese)"),
           _text(200), True),
    Column("kind", ("kind", "机构类型", "单位类型", "类型", "organisation kind"), _vocab("org_kind", ref.ORG_KINDS),
           True),
    Column("name_en", ("name_en", "英文名称", "name (english)", "english name"), _text(300)),
    Column("province", ("province", "省份", "省"), _text(20)),
    Column("district", ("district", "所在区", "区", "所属区"), _district),
    Column("address", ("address", "地址", "注册地址", "通讯地址"), _text(300)),
    Column("industry_section", ("industry_section", "行业门类", "门类", "industry section"), _code),
    Column("industry_division", ("industry_division", "行业大类", "大类", "industry division"),
           lambda v: f"{int(v):02d}" if isinstance(v, int | float) else str(v).strip().zfill(2)),
    Column("ownership", ("ownership", "所有制", "所有制类型", "经济类型"), _vocab("ownership", ref.OWNERSHIP)),
    Column("state_level", ("state_level", "国有层级", "隶属层级", "state-ownership level", "state level"),
           _vocab("state_level", ref.STATE_LEVELS)),
    Column("founded_date", ("founded_date", "成立日期", "founded", "founding date"), _date),
    _SYN,
]
FACT_COLUMNS: list[Column] = [
    Column("credit_code", ORGANISATION_COLUMNS[0].aliases, _code, True),
    Column("year", ("year", "年度", "年份"), _int(1949, 2100), True),
    Column("source_department", ("source_department", "来源部门", "数据来源", "source department", "source"),
           _text(100), True),
    Column("as_of_date", ("as_of_date", "截至日期", "截止日期", "数据日期", "as of", "as-of date"), _date, True),
    *_money("revenue_fen", "营业收入", "revenue"),
    *_money("rd_expense_fen", "研发费用", "R&D expense"),
    Column("rd_domestic_share", ("rd_domestic_share", "境内研发费用占比", "境内研发占比", "R&D domestic share"),
           _fraction),
    Column("employees", ("employees", "从业人员", "从业人员数", "职工人数"), _int()),
    Column("st_staff", ("st_staff", "科技人员", "科技人员数", "S&T staff"), _int()),
    *_money("high_tech_income_fen", "高新技术产品收入", "high-tech product income"),
    *_money("total_assets_fen", "资产总额", "total assets"),
    *_money("profit_fen", "利润总额", "profit", lo=None),
    Column("tax_credit_grade", ("tax_credit_grade", "纳税信用等级", "tax credit grade"), _code),
    Column("serious_dishonesty", ("serious_dishonesty", "严重失信", "严重失信主体", "serious dishonesty"), _bool),
    Column("major_incident", ("major_incident", "重大安全环保事故", "重大事故", "major incident"), _bool),
    _SYN,
]
QUALIFICATION_COLUMNS: list[Column] = [
    Column("credit_code", ORGANISATION_COLUMNS[0].aliases, _code, True),
    Column("kind", ("kind", "资质类型", "资质", "认定类型", "qualification"), _vocab("qualification",
                                                                               ref.QUALIFICATION_KINDS), True),
    Column("number", ("number", "证书编号", "编号", "certificate number"), _text(64), True),
    Column("valid_from_date", ("valid_from_date", "有效期起", "发证日期", "认定日期", "valid from"), _date, True),
    Column("valid_to_date", ("valid_to_date", "有效期止", "有效期至", "valid to", "valid until"), _date),
    _SYN,
]
PERSON_COLUMNS: list[Column] = [
    Column("name_zh", ("name_zh", "姓名", "中文姓名", "name", "name (chinese)"), _text(100), True),
    Column("name_en", ("name_en", "英文姓名", "name (english)", "english name"), _text(200)),
    Column("orcid", ("orcid", "orcid id"), lambda v: normalize_orcid(str(v))),
    Column("external_id", ("external_id", "外部编号", "人员编号", "external id"), _text(64)),
    Column("roles", ("roles", "角色"), _list(_vocab("role", ref.PERSON_ROLES))),
    Column("discipline_codes", ("discipline_codes", "学科代码", "discipline codes"), _list()),
    Column("talent_category", ("talent_category", "人才类别", "talent category"), _vocab("talent",
                                                                                      ref.TALENT_CATEGORIES)),
    Column("affiliation_credit_code", ("affiliation_credit_code", "工作单位信用代码", "单位信用代码",
                                       "affiliation credit code"), _code),
    Column("position", ("position", "职务", "职位"), _text(100)),
    Column("affiliation_start_date", ("affiliation_start_date", "任职开始日期", "入职日期", "affiliation start"),
           _date),
    Column("affiliation_end_date", ("affiliation_end_date", "任职结束日期", "离职日期", "affiliation end"), _date),
    _SYN,
]
COLUMNS: dict[str, list[Column]] = {
    "organisations": ORGANISATION_COLUMNS, "facts": FACT_COLUMNS,
    "qualifications": QUALIFICATION_COLUMNS, "people": PERSON_COLUMNS,
}
# The columns written to the model (the rest are keys or affiliation columns).
_ORG_FIELDS = [c.field for c in ORGANISATION_COLUMNS]
_FACT_FIELDS = list(dict.fromkeys(c.field for c in FACT_COLUMNS if c.field != "credit_code"))
_QUAL_FIELDS = ["valid_from_date", "valid_to_date", "is_synthetic"]
_PERSON_FIELDS = ["name_zh", "name_en", "orcid", "external_id", "roles", "discipline_codes", "talent_category",
                  "is_synthetic"]
_AFF_FIELDS = {"position": "position", "affiliation_start_date": "start_date", "affiliation_end_date": "end_date"}


def _export_aliases(kind: str) -> dict[str, str]:
    """Headers written by ``registry.export`` (English and the current zh catalog) -> field."""
    from kechuang.registry import export

    cols = {"organisations": export.ORG_COLUMNS, "people": export.PERSON_COLUMNS}.get(kind, [])
    out: dict[str, str] = {}
    for fld, label in cols:
        out[_norm(label)] = fld
        out[_norm(gettext(label, "zh"))] = fld
    return out


def header_map(kind: str) -> dict[str, Column]:
    """Normalised header -> column for ``kind`` (documented in docs/import-format.md)."""
    out: dict[str, Column] = {}
    by_field: dict[str, Column] = {}
    for col in COLUMNS[kind]:
        by_field.setdefault(col.field, col)
        for alias in col.aliases:
            out.setdefault(_norm(alias), col)
    for alias, fld in _export_aliases(kind).items():
        if fld in by_field:
            out.setdefault(alias, by_field[fld])
    return out


# ---------------------------------------------------------------- reading files
@dataclass
class Table:
    """One sheet (or a CSV file): its name and raw rows (lists of cell values)."""

    name: str
    rows: list[Sequence[Any]]


def _decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("gb18030")


def read_tables(data: bytes, filename: str) -> list[Table]:
    """The sheets of an XLSX workbook, or the one table of a CSV (UTF-8 with/without BOM, or GB18030)."""
    if data[:4] == b"PK\x03\x04" or filename.lower().endswith((".xlsx", ".xlsm")):
        from openpyxl import load_workbook

        try:
            wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds on a damaged file
            raise ValidationFailed(N_("This file could not be read as CSV or XLSX."), errors=[
                FieldError("file", N_("This file could not be read as CSV or XLSX."), value=type(exc).__name__)
            ]) from None
        try:
            return [Table(ws.title, [r for r in ws.iter_rows(values_only=True)]) for ws in wb.worksheets]
        finally:
            wb.close()
    try:
        text = _decode(data)
    except UnicodeDecodeError:
        raise ValidationFailed(errors=[FieldError("file", N_("This file could not be read as CSV or XLSX."))]) \
            from None
    first = text.split("\n", 1)[0]
    delimiter = "\t" if first.count("\t") > first.count(",") else ("；" if "；" in first and "," not in first
                                                                    else ",")
    if delimiter == "；":
        delimiter = ";"
    return [Table(Path(filename).stem or "csv", list(csv.reader(io.StringIO(text), delimiter=delimiter)))]


def _row_is_blank(row: Sequence[Any]) -> bool:
    return all(_blank(v) for v in row)


def guess_kind(headers: Iterable[str]) -> str | None:
    """The kind whose required columns are all present and which recognises most headers."""
    normed = [_norm(h) for h in headers if not _blank(h)]
    best: tuple[int, int, str] | None = None
    for rank, kind in enumerate(("facts", "qualifications", "people", "organisations")):
        hmap = header_map(kind)
        fields = {hmap[h].field for h in normed if h in hmap}
        if not all(c.field in fields for c in COLUMNS[kind] if c.required):
            continue
        score = (len(fields), -rank, kind)
        if best is None or score > best:
            best = score
    return best[2] if best else None


# ---------------------------------------------------------------- parsed rows
@dataclass
class _Row:
    sheet: str
    row: int
    values: dict[str, Any]
    raw: Any  # the record (dict) or the row's cells (sequence, positions in ``index``)
    headers: dict[str, str]  # field -> header as written
    index: dict[str, int] | None = None

    def raw_value(self, fld: str) -> Any:
        """The value as given in the file (for error reports)."""
        if self.index is None:
            return self.raw.get(fld, self.values.get(fld))
        i = self.index.get(fld)
        return self.raw[i] if i is not None and i < len(self.raw) else self.values.get(fld)


@dataclass
class _Sheet:
    kind: str
    name: str
    rows: list[_Row]


class _Errors:
    def __init__(self, multi: bool):
        self.items: list[FieldError] = []
        self.multi = multi

    def add(self, sheet: str, line: int | None, column: str, reason: str, value: Any = None,
            params: dict[str, Any] | None = None) -> None:
        col = f"{sheet}!{column}" if self.multi else column
        self.items.append(FieldError(col, reason, params or {}, row=line, value=None if _blank(value) else value))

    def at(self, r: _Row, fld: str, reason: str, **params: Any) -> None:
        value = r.raw_value(fld)
        self.add(r.sheet, r.row, r.headers.get(fld, fld), reason, value, params)


def _parse_sheet(table: Table, kind: str | None, errors: _Errors, ignored: list[str]) -> _Sheet | None:
    rows = table.rows
    # The header is the first of the first 5 rows naming at least two known columns (an export may
    # carry a note above it).
    header_idx = None
    for i, row in enumerate(rows[:5]):
        cells = [str(c) for c in row if not _blank(c)]
        if not cells:
            continue
        kinds = [kind] if kind else list(KINDS)
        if any(sum(_norm(c) in header_map(k) for c in cells) >= 2 for k in kinds):
            header_idx = i
            break
    if header_idx is None:
        if all(_row_is_blank(r) for r in rows):
            return None  # an empty sheet
        errors.add(table.name, 1, "", N_("No header row with known column names in the first five rows."))
        return None
    headers = ["" if _blank(c) else str(c).strip() for c in rows[header_idx]]
    the_kind = kind or guess_kind(headers)
    if the_kind is None:
        errors.add(table.name, header_idx + 1, "",
                   N_("Cannot tell from the headers what this sheet holds; give the kind (organisations, facts, "
                      "qualifications or people)."))
        return None
    hmap = header_map(the_kind)
    cols: list[tuple[int, Column, str]] = []
    seen: dict[str, str] = {}
    for i, h in enumerate(headers):
        if not h:
            continue
        col = hmap.get(_norm(h))
        if col is None:
            ignored.append(f"{table.name}!{h}" if errors.multi else h)
            continue
        if col.parse is _unit_missing:
            errors.add(table.name, header_idx + 1, h, N_("Give the unit in the header: {column}（分）, （元）, "
                                                         "（千元） or （万元）."), params={"column": h})
            continue
        if col.field in seen:
            errors.add(table.name, header_idx + 1, h, N_("Two columns give {field}: {first} and {second}."),
                       params={"field": col.field, "first": seen[col.field], "second": h})
            continue
        seen[col.field] = h
        cols.append((i, col, h))
    missing = [c for c in COLUMNS[the_kind] if c.required and c.field not in seen]
    for c in dict((c.field, c) for c in missing).values():
        errors.add(table.name, header_idx + 1, c.aliases[1] if len(c.aliases) > 1 else c.field,
                   N_("Required column {column} is missing."), params={"column": f"{c.aliases[1]} / {c.field}"})
    if missing:
        return None
    required = {c.field for c in COLUMNS[the_kind] if c.required}
    header_of = {col.field: h for _i, col, h in cols}
    index = {col.field: i for i, col, _h in cols}
    specs = [(i, col.field, col.parse, col.field in required) for i, col, _h in cols]
    width = max(index.values()) + 1
    out: list[_Row] = []
    for n, row in enumerate(rows[header_idx + 1:], start=header_idx + 2):
        if len(row) < width:
            row = [*row, *([None] * (width - len(row)))]
        first = row[0] if row else None
        if (first is None or (type(first) is str and not first.strip())) and \
                all(v is None or (type(v) is str and not v.strip()) for v in row):
            continue  # blank rows are skipped
        values: dict[str, Any] = {}
        r = _Row(table.name, n, values, row, header_of, index)
        for i, fld, parse, req in specs:
            v = row[i]
            if type(v) is str:
                v = v.strip() or None
            if v is None:
                values[fld] = None
                if req:
                    errors.at(r, fld, N_("Required."))
                    values["_bad"] = True
                continue
            try:
                values[fld] = parse(v)
            except _Bad as bad:
                values[fld] = None
                errors.at(r, fld, bad.reason, **bad.params)
                values["_bad"] = True
        out.append(r)
    return _Sheet(the_kind, table.name, out)


def _records_to_sheet(kind: str, records: list[dict[str, Any]], errors: _Errors) -> _Sheet:
    """Already-typed records (demo data) go through the same parsers and checks."""
    cols = {c.field: c for c in reversed(COLUMNS[kind])}
    required = {c.field for c in COLUMNS[kind] if c.required}
    out = []
    for n, rec in enumerate(records, start=1):
        values: dict[str, Any] = {}
        r = _Row(kind, n, values, rec, {})
        for fld, v in rec.items():
            col = cols[fld]
            if _blank(v):
                values[fld] = None
                if fld in required:
                    errors.at(r, fld, N_("Required."))
                    values["_bad"] = True
                continue
            try:
                values[fld] = col.parse(v)
            except _Bad as bad:
                values[fld] = None
                errors.at(r, fld, bad.reason, **bad.params)
                values["_bad"] = True
        out.append(r)
    return _Sheet(kind, kind, out)


# ---------------------------------------------------------------- the import
def _chunks(seq: list[Any], n: int = _CHUNK) -> Iterable[list[Any]]:
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


_SCAN_OVER = 5000  # more keys than this: one streamed scan of the table beats many IN (...) queries


def rows_where_in(session: Session, cols: list[Any], col: Any, keys: Iterable[Any]) -> Iterable[dict[str, Any]]:
    """Rows (as dicts) of ``cols`` whose ``col`` is one of ``keys`` (IN lists, or one scan for many keys)."""
    keys = sorted(set(keys))
    names = [c.key for c in cols]
    at = names.index(col.key)
    if len(keys) > _SCAN_OVER:
        wanted = set(keys)
        for row in session.execute(select(*cols).execution_options(yield_per=10000)):
            if row[at] in wanted:
                yield dict(zip(names, row, strict=True))
        return
    for chunk in _chunks(keys):
        for row in session.execute(select(*cols).where(col.in_(chunk))):
            yield dict(zip(names, row, strict=True))


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(v: Any) -> str:
    """A value in PostgreSQL COPY text format."""
    if v is None:
        return "\\N"
    if v is True:
        return "t"
    if v is False:
        return "f"
    if isinstance(v, str):
        return v.translate(_COPY_ESCAPES)
    if isinstance(v, datetime | date):
        return v.isoformat()
    return str(v)  # int, Decimal


class _Plan:
    """Validation, change computation and bulk writing of one import batch."""

    def __init__(self, session: Session, sheets: list[_Sheet], errors: _Errors, progress: Progress | None):
        self.s = session
        self.sheets = sheets
        self.errors = errors
        self.progress = progress or (lambda _stage, _done, _total: None)
        self.by_kind: dict[str, list[_Row]] = {k: [] for k in KINDS}
        for sh in sheets:
            self.by_kind[sh.kind].extend(sh.rows)
        self.total = sum(len(v) for v in self.by_kind.values())
        self.done = 0
        self.org_ids: dict[str, int] = {}
        self.org_kinds: dict[str, str] = {}
        self.creates: dict[str, list[tuple[_Row, dict[str, Any]]]] = {k: [] for k in KINDS}
        self.updates: dict[str, list[tuple[_Row, int, dict[str, Any], dict[str, Any]]]] = {k: [] for k in KINDS}
        self.counts = {k: KindCounts(rows=len(v)) for k, v in self.by_kind.items() if v}
        self.aff_creates: list[dict[str, Any]] = []
        self.aff_updates: list[tuple[int, dict[str, Any], dict[str, Any]]] = []

    def _tick(self, stage: str) -> None:
        self.done += 1
        if self.done % 1000 == 0 or self.done == self.total:
            self.progress(stage, self.done, self.total)

    # ---- lookups
    def _load_orgs(self) -> None:
        codes = {r.values.get("credit_code") for k in KINDS for r in self.by_kind[k]}
        codes |= {r.values.get("affiliation_credit_code") for r in self.by_kind["people"]}
        codes.discard(None)
        self.org_rows: dict[str, dict[str, Any]] = {}
        fields = _ORG_FIELDS if self.by_kind["organisations"] else ["credit_code", "kind"]
        cols = [Organisation.id, *[getattr(Organisation, f) for f in fields]]
        for row in rows_where_in(self.s, cols, Organisation.credit_code, codes):
            self.org_rows[row["credit_code"]] = row
            self.org_ids[row["credit_code"]] = row["id"]
            self.org_kinds[row["credit_code"]] = row["kind"]

    def _exists_org(self, code: str | None) -> bool:
        return code is not None and (code in self.org_ids or code in self.file_orgs)

    def _check_ref(self, r: _Row, fld: str) -> None:
        code = r.values.get(fld)
        if not code or self._exists_org(code):
            return
        problem = credit_code_problem(code)
        self.errors.at(r, fld, problem or N_("No organisation with this credit code in the file or in the registry."))

    # ---- validation and diff, per kind
    def plan(self) -> None:
        self._load_orgs()
        self.file_orgs: set[str] = {r.values["credit_code"] for r in self.by_kind["organisations"]
                                    if r.values.get("credit_code")}
        self._plan_orgs()
        self._plan_people()
        self._plan_facts()
        self._plan_qualifications()

    def _diff(self, kind: str, r: _Row, key: str, current: dict[str, Any] | None, new: dict[str, Any],
              obj_id: int | None) -> None:
        c = self.counts[kind]
        if current is None:
            self.creates[kind].append((r, new))
            c.created += 1
            return
        changed = {f: v for f, v in new.items() if current.get(f) != v}
        if changed:
            self.updates[kind].append((r, obj_id, {f: current.get(f) for f in changed}, changed))
            c.updated += 1
        else:
            c.unchanged += 1

    def _plan_orgs(self) -> None:
        first: dict[str, int] = {}
        for r in self.by_kind["organisations"]:
            self._tick("validate")
            v = r.values
            n_err = len(self.errors.items)
            data = {f: v[f] for f in _ORG_FIELDS if f in v}
            for e in service.organisation_problems({k: x for k, x in data.items() if x is not None or k ==
                                                    "credit_code"}):
                if e.field == "credit_code" and v.get("credit_code") is None:
                    continue  # already reported as required
                self.errors.at(r, e.field, e.reason, **e.params)
            code = v.get("credit_code")
            if code:
                if code in first:
                    self.errors.at(r, "credit_code", N_("The same {key} already appears in row {row}."),
                                   key="credit_code", row=first[code])
                else:
                    first[code] = r.row
            current = self.org_rows.get(code) if code else None
            if current and v.get("kind") and v["kind"] != current["kind"]:
                self.errors.at(r, "kind", N_("The kind of a registered organisation cannot be changed "
                                             "(registered as {kind})."), kind=current["kind"])
            if len(self.errors.items) > n_err or "_bad" in v:
                continue
            if current is None:
                data.setdefault("is_synthetic", False)
                data["is_synthetic"] = bool(data["is_synthetic"])
                if data.get("province") is None:
                    data["province"] = "上海"
            else:
                for f in ("is_synthetic", "province"):  # left empty: kept
                    if f in data and data[f] is None:
                        data[f] = current[f]
            self._diff("organisations", r, code, current, data, current["id"] if current else None)

    def _plan_facts(self) -> None:
        rows = self.by_kind["facts"]
        keys = sorted({self.org_ids[r.values["credit_code"]] for r in rows
                       if r.values.get("credit_code") in self.org_ids})
        existing: dict[tuple[int, int], dict[str, Any]] = {}
        cols = [OrganisationFact.id, OrganisationFact.organisation_id, OrganisationFact.year,
                *[getattr(OrganisationFact, f) for f in _FACT_FIELDS if f != "year"]]
        for row in rows_where_in(self.s, cols, OrganisationFact.organisation_id, keys):
            existing[(row["organisation_id"], row["year"])] = row
        first: dict[tuple[str, int], int] = {}
        for r in rows:
            self._tick("validate")
            v = r.values
            n_err = len(self.errors.items)
            for e in service.fact_problems(v):
                self.errors.at(r, e.field, e.reason, **e.params)
            code, year = v.get("credit_code"), v.get("year")
            self._check_ref(r, "credit_code")
            if code and year is not None:
                if (code, year) in first:
                    self.errors.at(r, "year", N_("The same {key} already appears in row {row}."),
                                   key="credit_code + year", row=first[(code, year)])
                else:
                    first[(code, year)] = r.row
            if len(self.errors.items) > n_err or "_bad" in v:
                continue
            data = {f: v[f] for f in _FACT_FIELDS if f in v}
            oid = self.org_ids.get(code)
            current = existing.get((oid, year)) if oid else None
            if current is None:
                data["is_synthetic"] = bool(data.get("is_synthetic"))
            elif "is_synthetic" in data and data["is_synthetic"] is None:
                data["is_synthetic"] = current["is_synthetic"]
            self._diff("facts", r, f"{code}/{year}", current, data, current["id"] if current else None)

    def _plan_qualifications(self) -> None:
        rows = self.by_kind["qualifications"]
        keys = sorted({self.org_ids[r.values["credit_code"]] for r in rows
                       if r.values.get("credit_code") in self.org_ids})
        existing: dict[tuple[int, str, str], dict[str, Any]] = {}
        cols = [Qualification.id, Qualification.organisation_id, Qualification.kind, Qualification.number,
                *[getattr(Qualification, f) for f in _QUAL_FIELDS]]
        for row in rows_where_in(self.s, cols, Qualification.organisation_id, keys):
            existing[(row["organisation_id"], row["kind"], row["number"])] = row
        first: dict[tuple[str, str, str], int] = {}
        for r in rows:
            self._tick("validate")
            v = r.values
            n_err = len(self.errors.items)
            if v.get("kind") is not None:
                for e in service.qualification_problems(v):
                    self.errors.at(r, e.field, e.reason, **e.params)
            code = v.get("credit_code")
            self._check_ref(r, "credit_code")
            key = (code, v.get("kind"), v.get("number"))
            if all(key):
                if key in first:
                    self.errors.at(r, "number", N_("The same {key} already appears in row {row}."),
                                   key="credit_code + kind + number", row=first[key])
                else:
                    first[key] = r.row
            if len(self.errors.items) > n_err or "_bad" in v:
                continue
            data = {f: v[f] for f in _QUAL_FIELDS if f in v}
            data["kind"], data["number"] = v["kind"], v["number"]
            oid = self.org_ids.get(code)
            current = existing.get((oid, v["kind"], v["number"])) if oid else None
            if current is None:
                data["is_synthetic"] = bool(data.get("is_synthetic"))
            elif "is_synthetic" in data and data["is_synthetic"] is None:
                data["is_synthetic"] = current["is_synthetic"]
            self._diff("qualifications", r, "/".join(key), current, data, current["id"] if current else None)

    def _plan_people(self) -> None:
        rows = self.by_kind["people"]
        orcids = sorted({r.values["orcid"] for r in rows if r.values.get("orcid")})
        ext_ids = sorted({r.values["external_id"] for r in rows if r.values.get("external_id")})
        cols = [Person.id, *[getattr(Person, f) for f in _PERSON_FIELDS]]
        by_orcid: dict[str, dict[str, Any]] = {}
        by_ext: dict[str, dict[str, Any]] = {}
        for keys, col, target in ((orcids, Person.orcid, by_orcid), (ext_ids, Person.external_id, by_ext)):
            for row in rows_where_in(self.s, cols, col, keys):
                target[row[col.key]] = row
        person_ids = sorted({p["id"] for p in (*by_orcid.values(), *by_ext.values())})
        affs: dict[tuple[int, int], dict[str, Any]] = {}
        aff_cols = [Affiliation.id, Affiliation.person_id, Affiliation.organisation_id, Affiliation.position,
                    Affiliation.start_date, Affiliation.end_date]
        for row in rows_where_in(self.s, aff_cols, Affiliation.person_id, person_ids):
            affs[(row["person_id"], row["organisation_id"])] = row
        first_orcid: dict[str, int] = {}
        first_ext: dict[str, int] = {}
        self.person_aff: dict[int, dict[str, Any]] = {}  # id(row) -> affiliation values (new people)
        for r in rows:
            self._tick("validate")
            v = r.values
            n_err = len(self.errors.items)
            for e in service.person_problems(v):
                self.errors.at(r, e.field, e.reason, **e.params)
            orcid, ext = v.get("orcid"), v.get("external_id")
            if not orcid and not ext and "_bad" not in v:
                self.errors.at(r, "orcid" if "orcid" in r.headers else "external_id",
                               N_("Give an ORCID or an external id (the key of a person)."))
            for val, first, fld in ((orcid, first_orcid, "orcid"), (ext, first_ext, "external_id")):
                if val:
                    if val in first:
                        self.errors.at(r, fld, N_("The same {key} already appears in row {row}."), key=fld,
                                       row=first[val])
                    else:
                        first[val] = r.row
            a, b = by_orcid.get(orcid) if orcid else None, by_ext.get(ext) if ext else None
            if a and b and a["id"] != b["id"]:
                self.errors.at(r, "external_id", N_("This ORCID and this external id belong to two different "
                                                    "people in the registry."))
            aff_code = v.get("affiliation_credit_code")
            self._check_ref(r, "affiliation_credit_code")
            start, end = v.get("affiliation_start_date"), v.get("affiliation_end_date")
            if start and end and end < start:
                self.errors.at(r, "affiliation_end_date", N_("The end date is before the start date."))
            if (v.get("position") or start or end) and not aff_code and "affiliation_credit_code" in r.headers:
                self.errors.at(r, "affiliation_credit_code", N_("Required."))
            if len(self.errors.items) > n_err or "_bad" in v:
                continue
            current = a or b
            data = {f: v[f] for f in _PERSON_FIELDS if f in v}
            for f in ("roles", "discipline_codes"):
                if f in data and data[f] is None:
                    data[f] = []
            if current is None:
                data["is_synthetic"] = bool(data.get("is_synthetic"))
                data.setdefault("roles", [])
                data.setdefault("discipline_codes", [])
            else:
                for f in ("orcid", "external_id", "is_synthetic"):  # a key or flag left empty is kept
                    if f in data and data[f] is None:
                        data[f] = current[f]
            aff_change = False
            aff = {_AFF_FIELDS[f]: v[f] for f in _AFF_FIELDS if f in v} if aff_code else None
            if aff is not None:
                if current is None:
                    self.person_aff[id(r)] = {"code": aff_code, **aff}
                else:
                    key = (current["id"], self.org_ids.get(aff_code, -1))
                    old = affs.get(key)
                    if old is None:
                        self.aff_creates.append({"person_id": current["id"], "code": aff_code, **aff})
                        aff_change = True
                    else:
                        changed = {f: x for f, x in aff.items() if old[f] != x}
                        if changed:
                            self.aff_updates.append((old["id"], {f: old[f] for f in changed}, changed))
                            aff_change = True
            label = orcid or ext
            before = self.counts["people"].unchanged
            self._diff("people", r, label, current, data, current["id"] if current else None)
            if aff_change and self.counts["people"].unchanged > before:  # only the affiliation changed
                self.counts["people"].unchanged -= 1
                self.counts["people"].updated += 1
                self.updates["people"].append((r, current["id"], {}, {}))

    # ---- writing
    def write(self, principal: Principal, detailed: bool, log: dict[str, Any]) -> None:
        now = utcnow()
        done = 0
        total = sum(len(v) for v in self.creates.values()) + sum(len(v) for v in self.updates.values())

        def tick(n: int) -> None:
            nonlocal done
            done += n
            self.progress("write", done, total)

        def record(action: str, otype: str, oid: Any, before: Any, after: Any) -> None:
            if detailed:
                audit.record(self.s, principal, action, otype, oid, before=before, after=after)

        # organisations
        rows = [dict(d, created_at=now, updated_at=now) for _r, d in self.creates["organisations"]]
        self._insert(Organisation, rows, tick)
        # Plain executemany and one read-back: RETURNING with many rows is several times slower on PostgreSQL.
        for row in rows_where_in(self.s, [Organisation.id, Organisation.credit_code], Organisation.credit_code,
                                  [d["credit_code"] for d in rows]):
            self.org_ids[row["credit_code"]] = row["id"]
        for _r, d in self.creates["organisations"]:
            record("registry.organisation.create", "organisation", self.org_ids[d["credit_code"]], None, d)
        self._bulk_update(Organisation, "organisations", now, tick, record, "registry.organisation.update",
                          "organisation")
        log["organisations"] = {"created": [d["credit_code"] for _r, d in self.creates["organisations"]],
                                "updated": {r.values["credit_code"]: {"before": b, "after": a}
                                            for r, _i, b, a in self.updates["organisations"]}}
        # people and their affiliations
        rows = [dict(d, created_at=now, updated_at=now) for _r, d in self.creates["people"]]
        new_ids: dict[tuple[str | None, str | None], int] = {}
        self._insert(Person, rows, tick)
        pcols = [Person.id, Person.orcid, Person.external_id]
        for col, keys in ((Person.orcid, [d["orcid"] for d in rows if d.get("orcid")]),
                          (Person.external_id, [d["external_id"] for d in rows if not d.get("orcid")])):
            for row in rows_where_in(self.s, pcols, col, keys):
                new_ids[(row["orcid"], row["external_id"])] = row["id"]
        affs = list(self.aff_creates)
        for r, d in self.creates["people"]:
            pid = new_ids[(d.get("orcid"), d.get("external_id"))]
            record("registry.person.create", "person", pid, None, d)
            if id(r) in self.person_aff:
                affs.append({"person_id": pid, **self.person_aff[id(r)]})
        aff_rows = [{"person_id": a["person_id"], "organisation_id": self.org_ids[a["code"]],
                     **{f: a.get(f) for f in ("position", "start_date", "end_date")}} for a in affs]
        self._insert(Affiliation, aff_rows, lambda _n: None)
        if detailed:
            for a in aff_rows:
                record("registry.affiliation.create", "affiliation", None, None, a)
        for aid, before, after in self.aff_updates:
            self.s.execute(update(Affiliation), [{"id": aid, **after}])
            record("registry.affiliation.update", "affiliation", aid, before, after)
        self._bulk_update(Person, "people", now, tick, record, "registry.person.update", "person")
        log["people"] = {"created": [d.get("orcid") or d.get("external_id") for _r, d in self.creates["people"]],
                         "updated": {(r.values.get("orcid") or r.values.get("external_id")): {"before": b, "after": a}
                                     for r, _i, b, a in self.updates["people"]},
                         "affiliations_created": len(aff_rows), "affiliations_updated": len(self.aff_updates)}
        # facts and qualifications
        for kind, model, otype in (("facts", OrganisationFact, "organisation_fact"),
                                   ("qualifications", Qualification, "qualification")):
            rows = [{"organisation_id": self.org_ids[r.values["credit_code"]], **d} for r, d in self.creates[kind]]
            self._insert(model, rows, tick)
            if detailed and rows:
                keys = (model.organisation_id, model.year) if kind == "facts" else \
                    (model.organisation_id, model.kind, model.number)
                ids = {tuple(row[k.key] for k in keys): row["id"] for row in
                       rows_where_in(self.s, [model.id, *keys], model.organisation_id,
                                      [d["organisation_id"] for d in rows])}
                for d in rows:
                    oid = ids[tuple(d[k.key] for k in keys)]
                    record(f"registry.{otype.split('_')[-1]}.create", otype, oid, None, d)
            self._bulk_update(model, kind, None, tick, record, f"registry.{otype.split('_')[-1]}.update", otype)

            def key(r: _Row, kind: str = kind) -> str:
                v = r.values
                return f"{v['credit_code']}/{v['year']}" if kind == "facts" else \
                    f"{v['credit_code']}/{v['kind']}/{v['number']}"
            log[kind] = {"created": [key(r) for r, _d in self.creates[kind]],
                         "updated": {key(r): {"before": b, "after": a} for r, _i, b, a in self.updates[kind]}}

    def _insert(self, model: Any, rows: list[dict[str, Any]], tick: Callable[[int], None]) -> None:
        # PostgreSQL: COPY on the session's own connection (same transaction), several times faster than
        # executemany. Elsewhere (and for JSON columns): Core executemany, no ORM bookkeeping per row.
        if not rows:
            return
        conn = self.s.connection()
        if conn.dialect.name == "postgresql" and model is not Person:
            groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
            for row in rows:
                groups.setdefault(tuple(row), []).append(row)
            dbapi = conn.connection.dbapi_connection
            for cols, group in groups.items():
                names = ", ".join(f'"{c}"' for c in cols)
                with dbapi.cursor() as cur, cur.copy(f'COPY "{model.__tablename__}" ({names}) FROM STDIN') as cp:
                    for chunk in _chunks(group, 5000):
                        lines = ["\t".join([_copy_text(row[c]) for c in cols]) for row in chunk]
                        cp.write(("\n".join(lines) + "\n").encode("utf-8"))
                        tick(len(chunk))
            return
        for chunk in _chunks(rows, 5000):
            self.s.execute(insert(model.__table__), chunk)
            tick(len(chunk))

    def _bulk_update(self, model: Any, kind: str, now: datetime | None, tick: Callable[[int], None],
                     record: Callable[..., None], action: str, otype: str) -> None:
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for _r, oid, before, after in self.updates[kind]:
            if not after:
                continue
            values = {"id": oid, **after}
            if now is not None:
                values["updated_at"] = now
            groups.setdefault(tuple(sorted(values)), []).append(values)
            record(action, otype, oid, before, after)
        for rows in groups.values():
            for chunk in _chunks(rows, 5000):
                self.s.execute(update(model), chunk)
                tick(len(chunk))


def _run(session: Session, principal: Principal, sheets: list[_Sheet], errors: _Errors, *, filename: str,
         digest: str, dry_run: bool, ignored: list[str], progress: Progress | None,
         action: str = "registry.import") -> ImportResult:
    plan = _Plan(session, sheets, errors, progress)
    plan.plan()
    if errors.items:
        errors.items.sort(key=lambda e: (e.field.split("!")[0] if errors.multi else "", e.row or 0))
        raise ValidationFailed(N_("The file has {count} problems; nothing was imported."), errors=errors.items,
                               count=len(errors.items))
    result = ImportResult(filename=filename, sha256=digest, dry_run=dry_run, kinds=plan.counts,
                          ignored_columns=ignored)
    for kind in KINDS:
        for r, d in plan.creates[kind]:
            if len(result.changes) >= CHANGE_SAMPLE:
                break
            result.changes.append(Change(kind, _label(kind, r), "create", sorted(d)))
        for r, _i, _b, after in plan.updates[kind]:
            if len(result.changes) >= CHANGE_SAMPLE:
                break
            result.changes.append(Change(kind, _label(kind, r), "update", sorted(after) or ["affiliation"]))
    changed = result.created + result.updated
    if dry_run or not changed:
        return result
    detailed = changed <= AUDIT_DETAIL_LIMIT
    log: dict[str, Any] = {}
    plan.write(principal, detailed, log)
    session.flush()
    after: dict[str, Any] = {"file": filename, "sha256": digest, "kinds": {k: vars(c) for k, c in plan.counts.items()},
                             "per_object_entries": detailed}
    if not detailed:
        after["changes"] = log
    audit.record(session, principal, action, "import", digest[:16], after=after)
    return result


def _label(kind: str, r: _Row) -> str:
    v = r.values
    if kind == "organisations":
        return v["credit_code"]
    if kind == "facts":
        return f"{v['credit_code']} {v['year']}"
    if kind == "qualifications":
        return f"{v['credit_code']} {v['kind']} {v['number']}"
    return v.get("orcid") or v.get("external_id") or ""


def import_file(
    session: Session,
    principal: Principal,
    path_or_bytes: str | Path | bytes,
    filename: str | None = None,
    kind: str | None = None,
    dry_run: bool = False,
    *,
    progress: Progress | None = None,
) -> ImportResult:
    """Validate then import a CSV or XLSX file of organisations, facts, qualifications or people.

    ``path_or_bytes``: a path, or the file's bytes (then give ``filename``; its extension and the
    content decide CSV or XLSX). ``kind``: "organisations", "facts", "qualifications" or "people";
    ``None`` guesses each sheet's kind from its headers (a workbook may hold one sheet per kind).
    ``dry_run``: compute the same result and write nothing. ``progress(stage, done, total)`` is called
    every 1000 rows (stages "validate", "write"). Needs ``registry.write``. Raises ``ValidationFailed``
    with one ``FieldError(field=column, row=, value=)`` per problem and writes nothing if any row is bad;
    otherwise writes in the caller's transaction (the caller commits) and returns the counts.
    """
    require(principal, service.WRITE_REGISTRY)
    if kind is not None and kind not in KINDS:
        raise ValidationFailed(errors=[FieldError("kind", N_("Unknown value; allowed: {allowed}."),
                                                  {"allowed": ", ".join(KINDS)}, value=kind)])
    if isinstance(path_or_bytes, bytes):
        data = path_or_bytes
        name = filename or "upload.csv"
    else:
        p = Path(path_or_bytes)
        data = p.read_bytes()
        name = filename or p.name
    digest = hashlib.sha256(data).hexdigest()
    tables = [t for t in read_tables(data, name) if t.rows]
    errors = _Errors(multi=len(tables) > 1)
    ignored: list[str] = []
    sheets = [s for t in tables if (s := _parse_sheet(t, kind, errors, ignored)) is not None]
    if not sheets and not errors.items:
        errors.add("", None, "file", N_("The file has no data rows."))
    return _run(session, principal, sheets, errors, filename=name, digest=digest, dry_run=dry_run,
                ignored=ignored, progress=progress)


def import_records(
    session: Session,
    principal: Principal,
    records: dict[str, list[dict[str, Any]]],
    source: str,
    dry_run: bool = False,
    *,
    progress: Progress | None = None,
) -> ImportResult:
    """Import already-typed records keyed by field name (``{kind: [row, ...]}``, e.g. demo data) with
    the same checks, upserts and audit as ``import_file``; ``source`` names the batch in the audit log."""
    require(principal, service.WRITE_REGISTRY)
    errors = _Errors(multi=True)
    sheets = [_records_to_sheet(k, records[k], errors) for k in KINDS if records.get(k)]
    digest = hashlib.sha256(repr(sorted((k, len(v)) for k, v in records.items())).encode()
                            + source.encode()).hexdigest()
    return _run(session, principal, sheets, errors, filename=source, digest=digest, dry_run=dry_run, ignored=[],
                progress=progress)
