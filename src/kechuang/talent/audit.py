"""Rule-text audit (全面清理): find clauses of an institution's rules that link pay, titles, promotion,
projects, resources or awards to talent titles ("帽子") or to paper/project counts, impact factors,
grant amounts, degrees or awards (破五唯).

Pure module (no database). The text is cut into clauses (。；! ? new lines, numbered items); in each
clause a small grammar finds BASIS mentions (what something is linked to) and LINK mentions (what is
linked); a BASIS mention inside the scope of a prohibition ("不得将人才称号作为…", "不以论文数量为唯一
依据", "…不与绩效工资挂钩") is not a finding, while requirements and privileges ("未入选…者不得申报",
"入选…计划者可直接…", "不少于3篇", "不受…限制") are. Offsets are character offsets into the input
(``text[start:end] == clause``).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import yaml

LINKS = ("pay", "title", "promotion", "project", "resource", "award")
BASES = ("talent_title", "paper_count", "impact_factor", "project_count", "grant_amount", "degree", "award")

# The negative-list rule each basis breaks lives in the framework file (``audit_rules``), with its sources.
FRAMEWORK_FILE = Path(__file__).resolve().parent / "library" / "framework.yaml"


@lru_cache(maxsize=1)
def basis_rules() -> dict[str, tuple[str, str]]:
    """basis → (rule id, English reason with a ``{link}`` slot), from the framework's ``audit_rules``."""
    data = yaml.safe_load(FRAMEWORK_FILE.read_text(encoding="utf-8"))
    return {r["basis"]: (r["id"], r["reason"]) for r in data["audit_rules"]}


LINK_LABELS = {"pay": "pay", "title": "professional titles (职称)", "promotion": "promotion or appointment",
               "project": "projects", "resource": "resources", "award": "awards"}


@dataclass(frozen=True)
class Finding:
    """A clause that links ``link`` to ``basis``; ``text[start:end] == clause``."""

    clause: str
    start: int
    end: int
    link: str
    basis: str
    reason: str

    def to_dict(self) -> dict[str, object]:
        """The JSON form (exactly the contract's fields)."""
        return asdict(self)


# --------------------------------------------------------------------------- segmentation

_SENTENCE_END = re.compile(r"[。；;！!？?\n\r]+")
# Numbered items: （一） (1) （1） ①… anywhere; "1、" "1." "一、" "第三条" only at the start of a line/piece,
# after whitespace or a colon.
_ITEM = re.compile(
    r"(?:[（(][一二三四五六七八九十\d]{1,3}[)）]|[①②③④⑤⑥⑦⑧⑨⑩]"
    r"|(?:(?<=^)|(?<=[\s：:]))(?:\d{1,2}[、.．](?!\d)|[一二三四五六七八九十]{1,3}、|第[一二三四五六七八九十百零]+条))"
)
_LEAD = re.compile(r"^[\s\u3000、，,：:.．]+")


def segment(text: str) -> list[tuple[int, int]]:
    """Clause spans ``(start, end)``: sentences cut at 。；!?/new lines and at numbered items, trimmed."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for m in [*_SENTENCE_END.finditer(text), None]:
        end = m.start() if m else len(text)
        piece = text[pos:end]
        cuts = [0] + [im.start() for im in _ITEM.finditer(piece) if im.start() > 0] + [len(piece)]
        for a, b in zip(cuts, cuts[1:], strict=False):
            s, e = pos + a, pos + b
            im = _ITEM.match(text, s)
            if im and im.start() == s:
                s = im.end()
            lead = _LEAD.match(text[s:e])
            if lead:
                s += lead.end()
            while e > s and (text[e - 1].isspace() or text[e - 1] in "：:，,、"):
                e -= 1
            if e - s >= 4:
                spans.extend(_split_long(text, s, e))
        pos = m.end() if m else len(text)
    return spans


MAX_CLAUSE = 600  # longer "clauses" (no sentence punctuation) are cut at commas: bounded work per clause


def _split_long(text: str, s: int, e: int) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    while e - s > MAX_CLAUSE:
        cut = max(text.rfind("，", s, s + MAX_CLAUSE), text.rfind(",", s, s + MAX_CLAUSE))
        cut = cut if cut > s else s + MAX_CLAUSE
        out.append((s, cut))
        s = cut + 1 if text[cut] in "，," else cut
    if e - s >= 4:
        out.append((s, e))
    return out


# --------------------------------------------------------------------------- grammar

_NB = r"[^，,。；;：:]"  # inside one comma part
_CN_NUM = r"(?:\d+|[一二三四五六七八九十两]+)"

_BASIS_PATTERNS: list[tuple[str, str]] = [
    ("talent_title", r"人才称号|人才帽子|帽子|(?:学术|人才)头衔|头衔|称号获得者|人才(?:计划|工程|项目|专项|支持计划)|长江学者|杰青|杰出青年科学基金"
                     r"|优青|优秀青年科学基金|千人计划|青年千人|青千|万人计划|百人计划|百千万人才|四青"
                     r"|国家级(?:高层次)?人才|省部级人才|省级(?:高层次)?人才|高层次人才(?:计划|项目|称号)"
                     r"|领军人才|拔尖人才|青年英才|特聘教授|讲座教授|青年学者"
                     r"|高层次(?:青年)?人才|教学名师|(?:泰山|闽江|珠江|东方|钱江|楚天|天府|三秦|燕赵|龙江|南强|旗山|紫金|黄河)学者"
                     r"|院士(?!工作站|专家工作站|大会)|有突出贡献(?:的)?中青年专家|政府特殊津贴专家"
                     r"|入选" + _NB + r"{0,16}?(?:计划|工程)"),
    ("paper_count", r"论文(?:数量|数|篇数)|" + _CN_NUM + r"\s*篇|篇(?:及)?以上|每篇|SCI(?:/SSCI)?(?:收录)?论文|SSCI"
                    r"|SCI收录|EI(?:收录|论文|期刊)|CSSCI|核心期刊|权威期刊|[一二三]类期刊|顶级期刊|高水平(?:学术)?论文|按篇|按论文"
                    r"|唯论文|Nature|Science|CNS|热点论文|高被引论文"),
    ("impact_factor", r"影响因子|IF\s*[≥>＞≧<≤]|IF值|JCR|[一二三四]区(?:论文|期刊)?|分区|高被引|被引(?:次数|频次)"
                      r"|引用次数|他引|[hH]指数|ESI|SCI(?:论文)?相关指标"),
    ("project_count", r"项目数|课题数|唯项目|" + _CN_NUM + r"\s*项(?:及)?以上?" + _NB + r"{0,10}?(?:项目|课题|基金)"
                      r"|主持(?:过)?" + _NB + r"{0,16}?(?:项目|课题)" + _NB + r"{0,6}?" + _CN_NUM + r"\s*项"
                      r"|主持(?:过)?(?:国家|省部|省级|部级)" + _NB + r"{0,16}?(?:项目|课题|基金)"
                      r"|承担" + _NB + r"{0,8}?(?:国家级|省部级)" + _NB + r"{0,8}?(?:项目|课题)"
                      r"|(?:国家级|省部级|纵向)(?:科研)?(?:项目|课题)\s*" + _CN_NUM + r"\s*项"),
    ("grant_amount", r"(?:科研|项目|到账|横向|纵向|课题|研究)经费" + _NB + r"{0,12}?" + _CN_NUM + r"\s*万"
                     r"|经费(?:数额|总额|额度|数量|到账)|到账经费|经费总额|累计经费|科研经费|课题经费|经费多少"
                     r"|" + _CN_NUM + r"\s*万元(?:及)?以上的?" + _NB + r"{0,4}?(?:项目|课题|经费)"),
    ("degree", r"博士学位|硕士学位|学士学位|(?:博士|硕士)研究生学历|(?:研究生|本科|大专)学历|第一学历|学历|学位"
               r"|海外博士|985|211|双一流(?:高校|大学|建设高校)|唯学历|名校"),
    ("award", r"获(?:得)?" + _NB + r"{0,14}?奖(?!励|金|学金|补)|(?:科学技术|科技进步|自然科学|技术发明|教学成果)奖"
              r"|[一二三特]等奖|唯奖项|奖项|(?:科技|科学技术|省部级|国家级)奖励"),
]
_LINK_PATTERNS: list[tuple[str, str]] = [
    ("award", r"评奖|评优|评先|标兵|奖(?:评审|评选|推荐)|奖项(?:评审|推荐|申报)|推荐" + _NB + r"{0,8}?奖|荣誉(?:称号)?评选|先进" + _NB + r"{0,4}?评选"
              r"|表彰|评选"),
    ("pay", r"薪酬|薪资|工资|年薪|绩效|津贴|奖金|待遇|安家(?:费|补贴)|(?:住房|购房|生活|人才)补贴|收入分配|报酬|酬金"
            r"|奖励" + _NB + r"{0,8}?元|" + _CN_NUM + r"\s*(?:万)?元|一次性奖励|(?:给予|予以|发放)" + _NB + r"{0,6}?奖励"
            r"|奖励标准|科研奖励|奖励办法|奖励|计发|分配|年终奖"),
    ("title", r"职称|专业技术职务|(?:正|副)?高级(?:专业技术)?职务|正高|副高|副?教授|副?研究员|(?:高级)?工程师"
              r"|评聘|任职资格|讲师|实验师"),
    ("promotion", r"晋升|晋级|提拔|升级|聘任|聘用|聘为|录用|招聘|引进|岗位(?:等级|聘任|设置|聘用)|考核|破格|直聘|职级"
                  r"|选拔|准入|遴选|入编|续聘|转正|评价|竞聘|人选|新进|新聘|入职|出站|退休|(?:博士生|硕士生)?导师|学科带头人|带头人|院长|系主任|所长|负责人|学术委员会|二级岗|不受|申报人|申报者|低聘|高聘|降级|解聘|赋分|计分|加分|积分|岗位(?!职责)"),
    ("project", r"项目申报|申报" + _NB + r"{0,10}?(?:项目|课题|基金)|项目(?:评审|立项|遴选|负责人|申请)|立项|课题申报"
                r"|申请" + _NB + r"{0,8}?(?:基金|项目)|(?:承担|牵头)" + _NB + r"{0,6}?(?:项目|课题)|科研项目|科技计划|(?:研发|科研|重点)专项"),
    ("resource", r"资源(?:配置|分配)|配置" + _NB + r"{0,4}?资源|学术资源|科研资源|实验室|实验用房|办公用房|用房"
                 r"|科研启动(?:经)?费|启动经费|启动费|平台|招生(?:名额|指标)|(?:研究生|博士生|硕士生)(?:招生)?名额"
                 r"|(?:博导|硕导|导师)资格|经费支持|经费资助|资助|条件保障|场地|仪器设备|建设经费|资源|运行经费|专项经费|住房|周转房"),
]
# Generic link words, used only when a clause has no more specific one.
_WEAK_LINKS = frozenset({"分配", "评价", "考核", "资源", "奖励", "资助", "平台", "岗位"})
_BASIS_RE = [(b, re.compile(p)) for b, p in _BASIS_PATTERNS]
_LINK_RE = [(k, re.compile(p)) for k, p in _LINK_PATTERNS]

# Prohibitions and reform verbs. A bare 不 counts unless it is part of a threshold or a privilege
# (不少于/不低于/不超过/不受…限制) or of a missing-requirement (不具备/不具有).
_CUE = re.compile(
    r"禁止|严禁|杜绝|避免|防止|取消|清理|废止|破除|克服|摒弃|扭转|纠正|淡化|反对|去除|删除|剔除|规范使用|改变|摒除|无需|无须"
    r"|不(?:得|应|宜|能|再|可|要|必|需|作|与|唯|设|简单|单纯|单独|片面|直接|列入|纳入|要求|强制|以|将|把|按|因|对|向|是"
    r"|使用|采用|搞|计|折算|进行|另行|与|分|区别|等同|挂钩|作为)(?!少于|低于|超过|多于|高于|满|足)"
)
# After a basis: a prohibition followed by one of these negates the linkage ("…不作为条件", "…不与…挂钩").
_ANTI_LINK = re.compile(r"作为|挂钩|赋分|计分|加分|折算|排序|排名|依据|条件|门槛|标准|限制|简单|唯一|直接|前置|指标|要求|简单|片面|挂靠|关联|衡量|评价|标签")
# Before a basis: it is required ("未入选…者", "不具备…的").
_REQUIRED = re.compile(r"(?:未|没有|无(?![需须])|尚未|不具备|不具有|不符合)" + _NB + r"{0,12}$")
# A comma part that starts a new positive provision ends the negation scope of the part before.
_POSITIVE = re.compile(r"可|须|需|必须|应当|直接|即可|优先|给予|予以|享受|要求|按|聘为|晋升|奖励|不受")
# The link itself is withdrawn after the mention: "…不再进行奖励", "…取消配套奖金".
_LINK_WITHDRAWN = re.compile(r"不再|取消|不另行|一律不")
# What a link should follow instead ("按照岗位职责和业绩确定"): the clause ties the link to something else.
_LEGIT = re.compile(r"(?:按照?|根据|依据|以)(?:其)?(?:岗位职责|实际贡献|工作业绩|工作实绩|业绩|贡献|研究任务|任务|实际能力|能力|成果质量)")
# A link preceded by these is an obligation, not a privilege ("接受聘期考核", "同等参加年度考核").
_OBLIGATION = re.compile(r"(?:接受|参加|实行|履行|同等)" + _NB + r"{0,3}$")
_OBLIGED_LINKS = ("考核", "评价")
_CONTRAST = re.compile(r"但是|但|然而|同时|另外|此外")
_PARTS = re.compile(r"[，,：:]")


def _spans(patterns, text: str, blocked: list[tuple[int, int]]) -> list[tuple[str, int, int]]:
    out: list[tuple[str, int, int]] = []
    taken = bytearray(len(text))
    for a, b in blocked:
        taken[a:b] = b"\x01" * (b - a)
    for kind, rx in patterns:
        pos = 0
        while (m := rx.search(text, pos)) is not None:
            s, e = m.span()
            if e == s or any(taken[s:e]):  # overlaps a span already taken: try again one character later
                pos = s + 1
                continue
            out.append((kind, s, e))
            taken[s:e] = b"\x01" * (e - s)
            pos = e
    return sorted(out, key=lambda t: t[1])


def _scope_start(clause: str, pos: int) -> int:
    """Where the negation scope that could reach ``pos`` begins (a contrast or a new positive part resets it)."""
    start = 0
    for m in _CONTRAST.finditer(clause, 0, pos):
        start = m.end()
    bounds = [m.start() for m in _PARTS.finditer(clause, start, pos)]
    for b in bounds:
        nxt = _PARTS.search(clause, b + 1)
        part = clause[b + 1: nxt.start() if nxt else len(clause)]
        if _POSITIVE.search(part) and not _CUE.search(part):
            start = b + 1
    return start


def _negated(clause: str, s: int, e: int) -> bool:
    """Is the basis mention at ``clause[s:e]`` inside a prohibition's scope?"""
    if _REQUIRED.search(clause[max(0, s - 14):s]):
        return False
    scope = _scope_start(clause, s)
    if any(c.start() < s for c in _CUE.finditer(clause, scope, e)):
        return True
    # A prohibition after the mention: "人才称号不得作为…条件", "论文数量不与绩效工资挂钩".
    stop = _CONTRAST.search(clause, e)
    end = stop.start() if stop else len(clause)
    for c in _CUE.finditer(clause, e, end):
        if _ANTI_LINK.search(clause, c.end(), end):
            return True
    if _LINK_WITHDRAWN.search(clause, e, end):
        return True
    legit = _LEGIT.search(clause, e)
    return bool(legit) and not _CONTRAST.search(clause, e, legit.start())


def audit_clause(clause: str) -> list[tuple[str, str]]:
    """The (link, basis) pairs a clause establishes, one per basis (the link nearest to it)."""
    award_links = _spans(_LINK_RE[:1], clause, [])
    bases = _spans(_BASIS_RE, clause, [(s, e) for _, s, e in award_links])
    if not bases:
        return []
    links = award_links + _spans(_LINK_RE[1:], clause, [(s, e) for _, s, e in bases + award_links])
    links = [t for t in links if not (clause[t[1]:t[2]].endswith(_OBLIGED_LINKS)
                                      and _OBLIGATION.search(clause[max(0, t[1] - 8):t[1]]))]
    if not links:
        return []
    strong = [t for t in links if clause[t[1]:t[2]] not in _WEAK_LINKS]
    links = strong or links
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for basis, s, e in bases:
        if basis in seen or _negated(clause, s, e):
            continue
        link = min(links, key=lambda t: min(abs(t[1] - e), abs(s - t[2])))[0]
        out.append((link, basis))
        seen.add(basis)
    return out


LINK_LABELS_ZH = {"pay": "薪酬待遇", "title": "职称评聘", "promotion": "岗位聘用或晋升", "project": "项目申报与立项",
                  "resource": "资源配置", "award": "评奖评优"}


@lru_cache(maxsize=1)
def _rules_zh() -> dict[str, tuple[str, str, tuple[str, ...]]]:
    data = yaml.safe_load(FRAMEWORK_FILE.read_text(encoding="utf-8"))
    return {r["basis"]: (r["id"], r.get("reason_zh") or r["reason"], tuple(r.get("sources") or ()))
            for r in data["audit_rules"]}


def rule_of(basis: str) -> str:
    """The id of the negative-list rule a finding on ``basis`` breaks."""
    return basis_rules()[basis][0]


def sources_of(basis: str) -> tuple[str, ...]:
    """Ids of the framework's cited sources (``basis`` section) behind the rule for ``basis``."""
    return _rules_zh()[basis][2]


def localized_reason(link: str, basis: str, locale: str) -> str:
    """The explanation of a finding in ``zh`` or ``en`` (the stored reason is the English one)."""
    if locale == "zh":
        rule, text, _sources = _rules_zh()[basis]
        return f"[{rule}] " + text.format(link=LINK_LABELS_ZH[link])
    return reason_for(link, basis)


def reason_for(link: str, basis: str) -> str:
    """English explanation naming the negative-list rule and its source."""
    rule, text = basis_rules()[basis]
    return f"[{rule}] " + text.format(link=LINK_LABELS[link])


def audit_text(text: str) -> list[Finding]:
    """Every finding in a rule text, in document order."""
    findings: list[Finding] = []
    for s, e in segment(text):
        clause = text[s:e]
        for link, basis in audit_clause(clause):
            findings.append(Finding(clause, s, e, link, basis, reason_for(link, basis)))
    return findings


def is_violating(clause: str) -> bool:
    """True if the clause links anything to a forbidden basis."""
    return bool(audit_clause(clause))
