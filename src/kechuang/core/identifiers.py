"""Identifier checks: unified social credit code (统一社会信用代码, GB 32100-2015) and ORCID
(ISO 7064 MOD 11-2). Each returns ``None`` when valid, or the message id of the first problem."""

from __future__ import annotations

import re

from kechuang.core.i18n import N_

# GB 32100-2015: 31 characters (digits and capitals without I, O, Z, S, V).
CREDIT_CODE_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CC_VALUE = {c: i for i, c in enumerate(CREDIT_CODE_CHARS)}
_CC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# Position 1: registration authority; position 2: organisation type within that authority (GB 32100 table 1).
_CC_REGISTRARS = {
    "1": "1239",  # 机构编制: 机关, 事业单位, 中央编办直接管理机构编制的群众团体, 其他
    "2": "19",  # 外交
    "3": "1239",  # 司法行政: 律师执业机构, 公证处, 基层法律服务所, 其他 (GB 32100 amendments vary; 1-9 accepted)
    "4": "19",  # 文化
    "5": "1239",  # 民政: 社会团体, 民办非企业单位, 基金会, 其他
    "6": "19",  # 旅游
    "7": "129",  # 宗教
    "8": "19",  # 工会
    "9": "123",  # 工商: 企业, 个体工商户, 农民专业合作社
    "A": "19",  # 中央军委改革和编制办公室
    "N": "1239",  # 农业
    "Y": "1",  # 其他
}
# GB 11714 organisation code (positions 9-17) check digit.
_OC_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def credit_code_check_char(first17: str) -> str:
    """The 18th (check) character for the first 17 characters of a credit code."""
    total = sum(_CC_VALUE[c] * w for c, w in zip(first17, _CC_WEIGHTS, strict=True))
    return CREDIT_CODE_CHARS[(31 - total % 31) % 31]


def org_code_check_char(first8: str) -> str:
    """The GB 11714 check character for an 8-character organisation code body."""

    def val(c: str) -> int:
        return int(c) if c.isdigit() else ord(c) - ord("A") + 10

    r = 11 - sum(val(c) * w for c, w in zip(first8, _OC_WEIGHTS, strict=True)) % 11
    return "X" if r == 10 else ("0" if r == 11 else str(r))


def credit_code_problem(code: str) -> str | None:
    """Why ``code`` is not a valid unified social credit code, or ``None``."""
    if len(code) != 18:
        return N_("A unified social credit code has 18 characters.")
    bad = [c for c in code if c not in _CC_VALUE]
    if bad:
        return N_("A unified social credit code uses digits and capital letters except I, O, Z, S and V.")
    types = _CC_REGISTRARS.get(code[0])
    if types is None or code[1] not in types:
        return N_("The first two characters are not a known registration authority and organisation type.")
    if not code[2:8].isdigit():
        return N_("Characters 3 to 8 must be an administrative division code (six digits).")
    if code[16] != org_code_check_char(code[8:16]):
        return N_("Characters 9 to 17 are not a valid organisation code (GB 11714 check character).")
    if code[17] != credit_code_check_char(code[:17]):
        return N_("The check character (the 18th) does not match the other 17.")
    return None


def is_valid_credit_code(code: str) -> bool:
    """True if ``code`` passes every GB 32100-2015 check."""
    return credit_code_problem(code) is None


def make_credit_code(prefix: str, division: str, body8: str) -> str:
    """Build a valid credit code from its parts (demo data and tests): the organisation-code check
    character and the credit-code check character are computed."""
    first17 = prefix + division + body8 + org_code_check_char(body8)
    return first17 + credit_code_check_char(first17)


_ORCID_RE = re.compile(r"^\d{4}-\d{4}-\d{4}-\d{3}[\dX]$")


def orcid_check_char(base_digits: str) -> str:
    """ISO 7064 MOD 11-2 check character for the first 15 digits of an ORCID iD."""
    total = 0
    for d in base_digits:
        total = (total + int(d)) * 2
    result = (12 - total % 11) % 11
    return "X" if result == 10 else str(result)


def normalize_orcid(value: str) -> str:
    """Strip an ``https://orcid.org/`` prefix and whitespace; upper-case the check character."""
    v = value.strip()
    for prefix in ("https://orcid.org/", "http://orcid.org/", "orcid.org/"):
        if v.lower().startswith(prefix):
            v = v[len(prefix):]
    return v.upper()


def orcid_problem(value: str) -> str | None:
    """Why ``value`` is not a valid ORCID iD, or ``None``."""
    v = normalize_orcid(value)
    if not _ORCID_RE.match(v):
        return N_("An ORCID iD looks like 0000-0002-1825-0097 (four groups of four, the last may end in X).")
    digits = v.replace("-", "")
    if digits[15] != orcid_check_char(digits[:15]):
        return N_("The ORCID check character does not match (ISO 7064 MOD 11-2).")
    return None


def is_valid_orcid(value: str) -> bool:
    """True if ``value`` is a well-formed ORCID iD with a correct check character."""
    return orcid_problem(value) is None
