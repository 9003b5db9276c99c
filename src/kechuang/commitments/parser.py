"""Parser for reply letters to proposals (提案答复), such as 沪科提复〔2025〕56号. Pure: text in, a
``ParsedReply`` out. Officers correct what it gets wrong through the service."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

CN_DIGITS = "一二三四五六七八九十"
_TERMINAL = "。；！？：”」）"
_SECTION_RE = re.compile(r"^([一二三四五六七八九十]+)、(.+)$")
_ITEM_RE = re.compile(r"^([一二三四五六七八九十]+是)(.*)$")
_DATE_RE = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日")
_UNIT_LIST_RE = re.compile(r"(?:我委|本委|我局|我办)(?:同|会同|联合)(.+?)等(?:单位|部门)")

# Known units, to recognise lead and co-handling units inside a commitment's phrase.
KNOWN_UNITS = ("市科委", "市教委", "市国资委", "市人才局", "市经信委", "市发展改革委", "市财政局", "市人社局",
               "市知识产权局", "市卫生健康委", "市商务委", "市市场监管局", "市数据局")

# Kinds of measure, recognised from wording; the first match wins (officers can correct).
KIND_PATTERNS: list[tuple[str, tuple[str, ...]]] = [
    ("policy", ("政策", "文件", "制度", "办法", "措施", "免申即享", "直达快享", "准备金")),
    ("reform", ("改革", "机制", "赋权", "评价", "破除", "单列管理", "尽职免责")),
    ("platform", ("平台", "数据集", "评测体系", "大模型", "基础设施", "专家库", "创新券", "概念验证", "孵化器")),
    ("programme", ("计划", "专项", "攻关", "项目", "联合体", "基金", "培育", "培养")),
    ("statistic", ("统计", "监测", "指标")),
]


@dataclass
class ParsedFigure:
    """A figure reported in the letter."""

    code: str
    label_zh: str
    period: str
    value: Decimal
    unit: str
    qualifier: str  # "=" or ">"
    quote: str


@dataclass
class ParsedCommitment:
    """One 下一步 commitment."""

    section: int
    ordinal: int
    phrase: str
    item_label: str | None = None
    item_title: str | None = None
    lead_unit: str = "市科委"
    co_units: list[str] = field(default_factory=list)
    kind: str = "programme"


@dataclass
class ParsedSection:
    ordinal: int
    title: str
    paragraphs: list[str]


@dataclass
class ParsedReply:
    """Everything recognised in a reply letter."""

    doc_no: str | None = None
    signed_unit: str | None = None
    reply_date: date | None = None
    handling_result: str | None = None
    disclosure: str | None = None
    session_name: str | None = None
    proposal_number: str | None = None
    proposer: str | None = None
    proposal_title: str | None = None
    co_units: list[str] = field(default_factory=list)
    contact_name: str | None = None
    contact_phone: str | None = None
    contact_address: str | None = None
    postcode: str | None = None
    copy_to: list[str] = field(default_factory=list)
    printed_by: str | None = None
    printed_date: date | None = None
    sections: list[ParsedSection] = field(default_factory=list)
    commitments: list[ParsedCommitment] = field(default_factory=list)
    figures: list[ParsedFigure] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def cn_number(text: str) -> int:
    """一..十 and 十一..九十九 as integers."""
    if text == "十":
        return 10
    if "十" in text:
        tens, _, ones = text.partition("十")
        return (CN_DIGITS.index(tens) + 1 if tens else 1) * 10 + (CN_DIGITS.index(ones) + 1 if ones else 0)
    return CN_DIGITS.index(text) + 1


def _field(text: str, label: str) -> str | None:
    m = re.search(rf"^{label}[：:]\s*(.+?)\s*$", text, re.M)
    return m.group(1) if m else None


def _date(value: str | None) -> date | None:
    if not value:
        return None
    m = _DATE_RE.search(value)
    return date(int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None


def paragraphs(body: str) -> list[str]:
    """Rebuild paragraphs from lines: a line that does not end a sentence continues on the next line
    (the published text breaks lines mid-word, e.g. 科学多模态大 / 模型共性技术); headings stand alone."""
    out: list[str] = []
    buf = ""
    for raw in body.splitlines():
        line = raw.strip()
        if not line:
            continue
        if _SECTION_RE.match(line) and not buf:
            out.append(line)
            continue
        buf += line
        if buf[-1] in _TERMINAL:
            out.append(buf)
            buf = ""
    if buf:
        out.append(buf)
    return out


def _split_units(text: str) -> list[str]:
    return [u.strip() for u in re.split(r"[、，,和及]", text) if u.strip()]


def _units_in(phrase: str) -> list[str]:
    return [u for u in KNOWN_UNITS if u in phrase and u != "市科委"]


def classify(phrase: str) -> str:
    """The kind of measure a commitment's wording describes."""
    for kind, words in KIND_PATTERNS:
        if any(w in phrase for w in words):
            return kind
    return "programme"


def _clauses(text: str) -> list[str]:
    """Split a paragraph into clauses at 。 and ；, keeping the punctuation."""
    parts = re.findall(r"[^。；]+[。；]?", text)
    return [p.strip() for p in parts if p.strip(" 。；")]


_LEAD_IN = re.compile(r"^下一步[，,](?:结合相关建议[，,])?")
_INTRO = re.compile(r"(?:着力)?推进[两三四五六七八九十]方面工作[。：]?$")


def _commitments_of_section(section: ParsedSection, start: int) -> list[ParsedCommitment]:
    found: list[ParsedCommitment] = []
    in_next_steps = False
    section_co: list[str] = []
    label = title = None
    for para in section.paragraphs:
        if para.startswith("下一步"):
            in_next_steps = True
            head = _LEAD_IN.sub("", para)
            m = re.search(r"(?:会同|联合)(.+?)[，,]", head)
            section_co = [u for u in _split_units(m.group(1)) if u.startswith("市")] if m else []
            if _INTRO.search(head.split("，")[-1] if "，" in head else head):
                continue  # "…着力推进三方面工作。": the items follow
            clauses = _clauses(head)
        elif in_next_steps:
            item = _ITEM_RE.match(para)
            if not item:
                break  # the next-steps part of this section has ended
            label = item.group(1)
            rest = item.group(2)
            first, _, remainder = rest.partition("。")
            title = first.strip()
            clauses = _clauses(remainder) if remainder.strip() else [first + "。"]
        else:
            continue
        for clause in clauses:
            phrase = clause.rstrip("；")
            if len(phrase) < 6:
                continue
            co = sorted(set(section_co) | set(_units_in(phrase)), key=KNOWN_UNITS.index)
            found.append(ParsedCommitment(section=section.ordinal, ordinal=start + len(found), phrase=phrase,
                                          item_label=label if not para.startswith("下一步") else None,
                                          item_title=title if not para.startswith("下一步") else None,
                                          co_units=co, kind=classify(phrase)))
    return found


# Figures the commission reports; label pattern → indicator code.
FIGURE_PATTERNS: list[tuple[str, str, str]] = [
    ("empowered_results", "赋权成果", r"赋权成果\s*(\d+(?:\.\d+)?)\s*(项)"),
    ("transfer_amount", "转化金额", r"转化金额(超过|超)?\s*(\d+(?:\.\d+)?)\s*(亿元)"),
    ("companies_incubated", "孵化公司", r"孵化公司\s*(\d+(?:\.\d+)?)\s*(家)"),
    ("social_capital", "吸引社会资金", r"吸引社会资金(超过|超)?\s*(\d+(?:\.\d+)?)\s*(亿元)"),
    ("tech_contract_turnover", "技术合同成交额", r"技术合同成交额\s*(\d+(?:\.\d+)?)\s*(亿元)"),
    ("tech_contract_turnover_yoy", "技术合同成交额同比增长", r"同比增长\s*(\d+(?:\.\d+)?)\s*(%)"),
    ("transfer_pilot_units", "成果转化改革试点单位", r"推动\s*(\d+)\s*(家)试点单位"),
    ("talent_pilot_units", "人才评价改革试点单位", r"选取\s*(\d+)\s*(家)"),
]


def _figures(text: str) -> list[ParsedFigure]:
    figures: list[ParsedFigure] = []
    flat = re.sub(r"\s*\n\s*", "", text)
    for code, label, pattern in FIGURE_PATTERNS:
        m = re.search(pattern, flat)
        if not m:
            continue
        groups = [g for g in m.groups()]
        qualifier = ">" if groups[0] in ("超", "超过") else "="
        nums = [g for g in groups if g and re.fullmatch(r"\d+(?:\.\d+)?", g)]
        unit = groups[-1]
        sentence_start = flat.rfind("。", 0, m.start()) + 1
        year = re.findall(r"(\d{4})\s*年", flat[sentence_start: m.start()])
        start = max(flat.rfind("，", 0, m.start()), flat.rfind("；", 0, m.start()), flat.rfind("。", 0, m.start()))
        figures.append(ParsedFigure(code, label, year[-1] if year else "", Decimal(nums[0]), unit, qualifier,
                                    flat[start + 1: m.end()].strip()))
    return figures


def parse_reply(text: str) -> ParsedReply:
    """Recognise metadata, sections, 下一步 commitments and reported figures in a reply letter."""
    r = ParsedReply()
    r.handling_result = _field(text, "办理结果")
    r.disclosure = _field(text, "公开属性")
    m = re.search(r"^(\S+〔\d{4}〕\d+号)\s*$", text, re.M)
    r.doc_no = m.group(1) if m else None
    m = re.search(r"^对(.+?会议)\s*第?(\d+)号提案的答复", text, re.M)
    if m:
        r.session_name, r.proposal_number = m.group(1).strip(), m.group(2)
    m = re.search(r"^(\S+?)：\s*$", text, re.M)
    r.proposer = m.group(1) if m else None
    m = re.search(r"你们提出的[“\"](.+?)[”\"]", text)
    r.proposal_title = m.group(1).removeprefix("关于").removesuffix("的提案") if m else None
    m = _UNIT_LIST_RE.search(text)
    r.co_units = _split_units(m.group(1)) if m else []
    r.contact_name = _field(text, "联系人姓名")
    r.contact_phone = _field(text, "联系电话")
    r.contact_address = _field(text, "联系地址")
    r.postcode = _field(text, "邮政编码")
    copy = _field(text, "抄送")
    r.copy_to = [c for c in re.split(r"[，,、]", copy.rstrip("。")) if c] if copy else []
    m = re.search(r"^(\S+)\s*\n\s*\n?\s*(\d{4}年\d{1,2}月\d{1,2}日)印发", text, re.M)
    if m:
        r.printed_by, r.printed_date = m.group(1), _date(m.group(2))
    signed = re.findall(r"^(\S+委员会|\S+局|\S+办公室)\s*\n\s*\n?\s*(\d{4}年\d{1,2}月\d{1,2}日)\s*$", text, re.M)
    if signed:
        r.signed_unit, r.reply_date = signed[0][0], _date(signed[0][1])
    elif lines := [ln.strip() for ln in text.splitlines() if ln.strip()]:
        r.signed_unit = next((ln for ln in lines if ln.endswith("委员会")), None)
    # Body: from the salutation to the closing thanks.
    start = text.find(f"{r.proposer}：") if r.proposer else 0
    end = text.find("感谢")
    body = text[start + len(r.proposer or "") + 1 if r.proposer else 0: end if end > 0 else len(text)]
    current: ParsedSection | None = None
    for para in paragraphs(body):
        sm = _SECTION_RE.match(para)
        if sm and len(para) < 60:
            current = ParsedSection(cn_number(sm.group(1)), sm.group(2).strip(), [])
            r.sections.append(current)
        elif current is not None:
            current.paragraphs.append(para)
    for section in r.sections:
        r.commitments.extend(_commitments_of_section(section, len(r.commitments) + 1))
    r.figures = _figures(body)
    year = str(r.reply_date.year) if r.reply_date else ""
    for f in r.figures:
        f.period = f.period or year
    for announced in re.finditer(r"推进([两三四五六七八九十])方面工作", body):
        n = {"两": 2}.get(announced.group(1)) or cn_number(announced.group(1))
        section = next((s for s in r.sections if announced.group(0) in "".join(s.paragraphs)), None)
        if section is not None:
            labels = {c.item_label for c in r.commitments if c.section == section.ordinal and c.item_label}
            if len(labels) != n:
                r.warnings.append(f"section {section.ordinal} announces {n} items but lists {len(labels)}")
    for name in ("doc_no", "proposal_number", "handling_result", "signed_unit"):
        if not getattr(r, name):
            r.warnings.append(f"not recognised: {name}")
    if not r.commitments:
        r.warnings.append("no 下一步 commitments recognised")
    return r
