"""Revenue sharing: exact integer fen, largest remainder, legal floor (pure; property-tested)."""

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kechuang.transfer.sharing import Rule, SharingError, allocate, net_income, split_income

D = Decimal


def test_100_fen_over_three_equal_thirds():
    third = Fraction(1, 3)
    assert allocate(100, [(3, third), (1, third), (2, third)]) == {1: 34, 2: 33, 3: 33}


def test_tie_goes_to_smallest_key_whatever_the_input_order():
    assert allocate(1, [("b", 1), ("a", 1)]) == {"a": 1, "b": 0}
    assert allocate(1, [("a", 1), ("b", 1)]) == {"a": 1, "b": 0}


def test_largest_remainder_wins_over_key_order():
    # quotas 10 × (0.15, 0.35, 0.5) = 1.5, 3.5, 5 -> 1 fen left; equal remainders .5: tie -> key 1
    assert allocate(10, [(1, D("0.15")), (2, D("0.35")), (3, D("0.5"))]) == {1: 2, 2: 3, 3: 5}
    # quotas 7 × (0.2, 0.3, 0.5) = 1.4, 2.1, 3.5 -> floors 1, 2, 3; one left to the largest remainder (3.5)
    assert allocate(7, [(1, D("0.2")), (2, D("0.3")), (3, D("0.5"))]) == {1: 1, 2: 2, 3: 4}


def test_split_by_rule_and_team_by_contribution():
    s = split_income(100_00, [(11, D("0.6")), (12, D("0.4"))], rule=Rule(D("0.7"), D("0.1"), D("0.2")))
    assert (s.team_fen, s.department_fen, s.institution_fen) == (70_00, 10_00, 20_00)
    assert s.members == {11: 42_00, 12: 28_00}
    assert s.basis == "rule"


def test_awkward_remainder_three_members():
    members = [(1, D("0.3333")), (2, D("0.3333")), (3, D("0.3334"))]
    s = split_income(101, members, rule=Rule(D("0.5"), D("0.2"), D("0.3")))
    assert s.total == 101 and sum(s.members.values()) == s.team_fen
    assert s.team_fen >= 51  # ceil(101 × 0.5): the legal minimum is rounded up


def test_legal_floor_rounded_up():
    # 1 fen, rule 50/0/50: quotas 0.5 and 0.5, tie -> team; floor ceil(0.5) = 1
    s = split_income(1, [(1, D(1))], rule=Rule(D("0.5"), D(0), D("0.5")))
    assert (s.team_fen, s.institution_fen) == (1, 0)
    # 3 fen, 50/25/25: quotas 1.5, .75, .75 -> 1,0,0 + 2 left: .75 (dept), .75 (inst)... team floor ceil(1.5)=2
    s = split_income(3, [(1, D(1))], rule=Rule(D("0.5"), D("0.25"), D("0.25")))
    assert s.team_fen == 2 and s.total == 3


def test_agreement_gives_institution_the_agreed_share_and_no_department():
    s = split_income(1000_00, [(1, D("0.5")), (2, D("0.5"))], agreed_institution_share=D("0.2"),
                     rule=Rule(D("0.5"), D("0.3"), D("0.2")))
    assert (s.team_fen, s.department_fen, s.institution_fen, s.basis) == (800_00, 0, 200_00, "agreement")


def test_default_rule_is_the_legal_minimum():
    s = split_income(99, [(1, D(1))])
    assert (s.team_fen, s.institution_fen) == (50, 49)


@pytest.mark.parametrize("kwargs, members", [
    ({"rule": Rule(D("0.4"), D("0.1"), D("0.5"))}, [(1, D(1))]),  # under the 50% floor
    ({"rule": Rule(D("0.6"), D("0.1"), D("0.2"))}, [(1, D(1))]),  # does not sum to 1
    ({}, [(1, D("0.5"))]),  # contributions do not sum to 1
    ({}, []),  # no team
    ({"agreed_institution_share": D("1.5")}, [(1, D(1))]),
])
def test_refused_inputs(kwargs, members):
    with pytest.raises(SharingError):
        split_income(100, members, **kwargs)


def test_net_income():
    assert net_income(1000, 300) == 700
    with pytest.raises(SharingError):
        net_income(100, 101)
    with pytest.raises(SharingError):
        net_income(-1, 0)


# ---------------------------------------------------------------- properties
# No per-example deadline: the machines running CI are shared and timing varies; the work is tiny anyway.
props = settings(deadline=None, max_examples=200)
shares4 = st.integers(min_value=1, max_value=10_000)


@st.composite
def contributions(draw):
    """1..12 members with positive contributions (4 decimals) summing exactly to 1."""
    n = draw(st.integers(1, 12))
    cuts = sorted(draw(st.lists(st.integers(1, 9_999), min_size=n - 1, max_size=n - 1, unique=True)))
    bounds = [0, *cuts, 10_000]
    keys = draw(st.permutations(list(range(1, n + 1))))
    return [(keys[i], D(bounds[i + 1] - bounds[i]) / D(10_000)) for i in range(n)]


@st.composite
def rules(draw):
    team = draw(st.integers(5_000, 10_000))
    dept = draw(st.integers(0, 10_000 - team))
    return Rule(D(team) / 10_000, D(dept) / 10_000, D(10_000 - team - dept) / 10_000)


@props
@given(st.integers(0, 10**13), st.lists(st.tuples(st.integers(), shares4), min_size=1, max_size=30,
                                        unique_by=lambda t: t[0]))
def test_allocate_sums_exactly_and_stays_within_one_fen(whole, weights):
    out = allocate(whole, weights)
    assert sum(out.values()) == whole
    total_w = sum(w for _k, w in weights)
    for k, w in weights:
        assert abs(out[k] - Fraction(whole * w, total_w)) < 1


@props
@given(st.integers(0, 10**13), st.lists(st.tuples(st.integers(), shares4), min_size=1, max_size=10,
                                        unique_by=lambda t: t[0]), st.randoms())
def test_allocate_does_not_depend_on_input_order(whole, weights, rnd):
    shuffled = list(weights)
    rnd.shuffle(shuffled)
    assert allocate(whole, weights) == allocate(whole, shuffled)


@props
@given(st.integers(0, 10**12), contributions(), rules())
def test_split_parts_always_sum_to_the_whole(net, members, rule):
    s = split_income(net, members, rule=rule)
    assert s.team_fen + s.department_fen + s.institution_fen == net
    assert sum(s.members.values()) == s.team_fen
    assert all(v >= 0 for v in s.members.values())
    assert s.team_fen >= Fraction(net) * Fraction(D("0.5"))  # the legal floor holds after rounding


@props
@given(st.integers(0, 10**12), contributions(), st.integers(0, 10_000))
def test_agreement_split_sums_to_the_whole(net, members, agreed):
    s = split_income(net, members, agreed_institution_share=D(agreed) / 10_000)
    assert s.total == net and sum(s.members.values()) == s.team_fen and s.department_fen == 0


def test_equity_awards_split_in_millionths():
    from kechuang.transfer.sharing import split_equity

    inst, team = split_equity(D("0.2"), [(1, D("0.5")), (2, D("0.3")), (3, D("0.2"))], team_share=D("0.7"))
    assert inst == D("0.06") and team == {1: D("0.07"), 2: D("0.042"), 3: D("0.028")}
    inst, team = split_equity(D("0.1"), [(1, D("0.3333")), (2, D("0.3333")), (3, D("0.3334"))], team_share=D("0.5"))
    assert inst + sum(team.values()) == D("0.1")
    with pytest.raises(SharingError):
        split_equity(D("0.1"), [(1, D(1))], team_share=D("0.4"))


@props
@given(st.integers(1, 1_000_000), contributions(), st.integers(5_000, 10_000))
def test_equity_parts_sum_to_the_stake(ppm, members, team):
    from kechuang.transfer.sharing import EQUITY_UNIT, split_equity

    stake = ppm * EQUITY_UNIT
    inst, shares = split_equity(stake, members, team_share=D(team) / 10_000)
    assert inst + sum(shares.values()) == stake and sum(shares.values()) >= stake / 2
