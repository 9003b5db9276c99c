import pytest

from kechuang.core.identifiers import (
    credit_code_problem,
    is_valid_credit_code,
    is_valid_orcid,
    make_credit_code,
    normalize_orcid,
    orcid_problem,
)

# Real, published codes: Huawei Technologies, Tencent (Shenzhen), Alibaba (China), a Fuzhou example from
# the GB 32100 explainer, and a public institution (事业单位, first character 1).
REAL_CODES = ["914403001922038216", "9144030071526726XG", "91330100799655058B", "91350100M000100Y43",
              "12100000400000624D"]


@pytest.mark.parametrize("code", REAL_CODES)
def test_real_credit_codes_are_valid(code):
    assert credit_code_problem(code) is None


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("91440300192203821", "18 characters"),  # too short
        ("9144030019220382166", "18 characters"),  # too long
        ("91440300I92203821A", "capital letters except"),  # I is not in the character set
        ("914403001922038z16", "capital letters except"),  # lower case
        ("C14403001922038216", "registration authority"),  # unknown registrar
        ("9A4403001922038216", "registration authority"),  # type not allowed for 工商
        ("9144A3001922038216", "administrative division"),  # letters in the division code
        ("914403001922038236", "organisation code"),  # GB 11714 check of characters 9-17 broken
        ("914403001922038217", "check character"),  # last character wrong
    ],
)
def test_invalid_credit_codes_say_why(code, fragment):
    problem = credit_code_problem(code)
    assert problem is not None and fragment in problem


def test_make_credit_code_builds_valid_codes():
    for body in ("12345678", "MA1FL1MM", "00000000"):
        assert is_valid_credit_code(make_credit_code("91", "310115", body))


@pytest.mark.parametrize("orcid", ["0000-0002-1825-0097", "0000-0001-5109-3700", "0000-0002-1694-233X",
                                   "https://orcid.org/0000-0002-1825-0097", "0000-0002-1694-233x"])
def test_valid_orcids(orcid):
    assert is_valid_orcid(orcid)


@pytest.mark.parametrize(
    ("orcid", "fragment"),
    [("0000-0002-1825-0098", "check character"), ("0000-0002-1825-009", "four groups"),
     ("0000000218250097", "four groups"), ("0000-0002-1825-00X7", "four groups")],
)
def test_invalid_orcids(orcid, fragment):
    assert fragment in orcid_problem(orcid)


def test_normalize_orcid():
    assert normalize_orcid(" https://orcid.org/0000-0002-1694-233x ") == "0000-0002-1694-233X"
