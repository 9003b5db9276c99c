import math

import numpy as np
import pytest

from kechuang.science import metrics as m


def test_regression_hand_values():
    t, p = [1.0, 2.0, 3.0, 4.0], [1.0, 3.0, 2.0, 6.0]
    assert m.mae(t, p) == pytest.approx(1.0)  # (0+1+1+2)/4
    assert m.rmse(t, p) == pytest.approx(math.sqrt(6 / 4))
    assert m.r2(t, p) == pytest.approx(1 - 6 / 5)  # SS_tot = 2.25+.25+.25+2.25
    assert math.isnan(m.r2([2, 2], [1, 3]))


def test_classification_hand_values():
    t = ["a", "a", "a", "b", "c", "c"]
    p = ["a", "a", "b", "b", "c", "a"]
    assert m.accuracy(t, p) == pytest.approx(4 / 6)
    assert m.balanced_accuracy(t, p) == pytest.approx((2 / 3 + 1 + 1 / 2) / 3)
    # a: tp2 fp1 fn1 -> 4/6; b: tp1 fp1 fn0 -> 2/3; c: tp1 fp0 fn1 -> 2/3
    assert m.f1_macro(t, p) == pytest.approx((4 / 6 + 2 / 3 + 2 / 3) / 3)


def test_roc_auc_pairs_and_ties():
    y = [0, 0, 1, 1]
    assert m.roc_auc(y, [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    # ties count one half: pairs (pos, neg): (0.5,0.5)=.5 (0.5,0.2)=1 (0.9,0.5)=1 (0.9,0.2)=1
    assert m.roc_auc(y, [0.5, 0.2, 0.5, 0.9]) == pytest.approx(3.5 / 4)
    rng = np.random.default_rng(1)
    yy, ss = rng.integers(0, 2, 300), rng.integers(0, 5, 300).astype(float)
    brute = np.mean([(a > b) + 0.5 * (a == b) for a in ss[yy == 1] for b in ss[yy == 0]])
    assert m.roc_auc(yy, ss) == pytest.approx(brute)
    assert math.isnan(m.roc_auc([1, 1], [0.1, 0.2]))


def test_llm_matching():
    assert m.exact_match(["Paris", "42"], [" paris. ", "41"]) == 0.5
    assert m.multiple_choice_accuracy(["B", "C", "A"], ["(B)", "c. water", "D"]) == pytest.approx(2 / 3)


def test_screen_counts_nonfinite_and_exploding_and_evaluate_scores_the_rest():
    t = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    p = np.array([1.0, np.nan, 3.5, np.inf, 1e9])
    ev = m.evaluate(["mae"], t, p, bound=1e6)
    assert (ev.n_items, ev.n_nonfinite, ev.n_exploding) == (5, 2, 1)
    assert ev.ok and ev.scores["mae"] == pytest.approx(0.25)  # items 0 and 2
    failed = m.evaluate(["mae"], t, np.full(5, np.nan))
    assert not failed.ok and failed.n_nonfinite == 5 and failed.scores == {}
    assert m.screen(np.array([["x", None], ["y", "z"]], dtype=object)).n_nonfinite == 1


def test_bootstrap_is_seeded_and_brackets_the_estimate():
    rng = np.random.default_rng(0)
    t = rng.normal(size=200)
    p = t + rng.normal(scale=0.5, size=200)
    a = m.bootstrap_ci(m.rmse, t, p, seed=3)
    assert a == m.bootstrap_ci(m.rmse, t, p, seed=3)
    assert a[0] < m.rmse(t, p) < a[1]


def test_lat_weighted_rmse_and_acc_against_loops():
    rng = np.random.default_rng(2)
    lat = np.linspace(-87.5, 87.5, 8)
    T, nlat, nlon = 6, 8, 5
    truth = rng.normal(size=(T, nlat, nlon))
    fc = truth + rng.normal(scale=0.3, size=(T, nlat, nlon))
    clim = rng.normal(scale=0.1, size=(nlat, nlon))
    w = np.cos(np.deg2rad(lat))
    w = w / w.mean()
    assert w.mean() == pytest.approx(1.0)
    mse = [sum(w[i] * (fc[t, i, j] - truth[t, i, j]) ** 2 for i in range(nlat) for j in range(nlon)) / (nlat * nlon)
           for t in range(T)]
    r, bad = m.lat_weighted_rmse(fc, truth, lat)
    assert r == pytest.approx(math.sqrt(np.mean(mse))) and bad == 0
    accs = []
    for t in range(T):
        fa, oa = fc[t] - clim, truth[t] - clim
        accs.append((w[:, None] * fa * oa).sum() / math.sqrt((w[:, None] * fa**2).sum() * (w[:, None] * oa**2).sum()))
    a, _ = m.lat_weighted_acc(fc, truth, clim, lat)
    assert a == pytest.approx(np.mean(accs))
    fc[2, 3, 1] = np.nan  # one bad initialisation is counted and excluded
    r2_, bad2 = m.lat_weighted_rmse(fc, truth, lat)
    assert bad2 == 1 and r2_ == pytest.approx(math.sqrt(np.mean([x for k, x in enumerate(mse) if k != 2])))


def test_doy_climatology():
    vals = np.array([[1.0], [3.0], [10.0]])
    clim = m.doy_climatology(vals, [1, 1, 2], n_days=3)
    assert clim[:, 0].tolist() == [2.0, 10.0, pytest.approx(14 / 3)]
