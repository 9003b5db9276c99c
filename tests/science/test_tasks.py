import numpy as np
import pytest

from kechuang.science.tasks import TASKS, lorenz96


def test_lorenz96_rk4_conserves_fixed_point_and_is_seeded():
    x = np.full(lorenz96.K, lorenz96.FORCING)  # X_k = F is a fixed point
    assert np.allclose(lorenz96.rk4_step(x), x)
    a, b = lorenz96._load("test"), lorenz96._load("test")
    assert np.array_equal(a.targets, b.targets) and np.array_equal(a.inputs, b.inputs)
    assert a.targets.shape == (200, len(lorenz96.LEAD_STEPS), lorenz96.K)


def test_lorenz96_baselines_are_ordered_as_expected():
    task = TASKS["lorenz96-forecast"]
    data = task.load()
    s = {m: task.score(data, fn(task, data)) for m, fn in task.baselines.items()}
    perfect, clim, pers = (s[m].scores for m in ("baseline-perfect-model", "baseline-climatology",
                                                  "baseline-persistence"))
    assert perfect["rmse"] < 1.0 < clim["rmse"] < pers["rmse"]
    assert perfect["acc"] > 0.95 and clim["acc"] == 0.0
    # the perfect model's error grows with lead time (initial-condition error only)
    assert perfect["rmse@0.1"] < perfect["rmse@0.5"] < perfect["rmse@1.0"]
    assert pers["rmse@0.1"] < clim["rmse@0.1"]  # persistence beats climatology at short lead


def test_exploding_and_nonfinite_forecasts_are_counted_not_dropped():
    task = TASKS["lorenz96-forecast"]
    data = task.load()
    pred = task.baselines["baseline-perfect-model"](task, data)
    pred[0, 3, 5] = np.nan
    pred[1, 9, 0] = 1e6
    ev = task.score(data, pred)
    assert (ev.n_items, ev.n_nonfinite, ev.n_exploding, ev.ok) == (200, 1, 1, True)
    all_bad = task.score(data, np.full_like(pred, np.inf))
    assert not all_bad.ok and all_bad.n_nonfinite == 200


def test_content_hash_is_stable():
    task = TASKS["lorenz96-forecast"]
    assert len(task.content_hash) == 64
    assert task.content_hash == task.describe()["content_hash"]


def test_co2_baselines():
    if "co2-maunaloa" not in TASKS:
        pytest.skip("statsmodels not installed (extra 'science')")
    task = TASKS["co2-maunaloa"]
    data = task.load()
    assert len(data.item_ids) == 48 and data.item_ids[0] == "1998-01"
    scores = {m: task.score(data, fn(task, data)).scores["rmse"] for m, fn in task.baselines.items()}
    assert scores["baseline-linear-trend"] < scores["baseline-seasonal-naive"] < scores["baseline-mean"]
    assert 360 < data.targets.mean() < 375  # ppm, 1998–2001


def test_tmy_next_day_temperature():
    if "tmy-next-day-temperature" not in TASKS:
        pytest.skip("pvlib not installed (extra 'science')")
    task = TASKS["tmy-next-day-temperature"]
    data = task.load()
    assert len(data.item_ids) == 2 * (364 - 273)
    s = {m: task.score(data, fn(task, data)).scores for m, fn in task.baselines.items()}
    assert 1.0 < s["baseline-persistence"]["rmse"] < 5.0  # day-to-day change of a daily mean, °C
    assert s["baseline-ar1"]["rmse"] <= s["baseline-persistence"]["rmse"] * 1.05


def test_s22x5_split_by_dimer():
    if "s22x5-interaction-energy" not in TASKS:
        pytest.skip("ase not installed (extra 'science')")
    task = TASKS["s22x5-interaction-energy"]
    test, train = task.load(), task.load("train")
    dimers = {i.split("@")[0] for i in test.item_ids}
    assert len(test.item_ids) == 55 and not dimers & {i.split("@")[0] for i in train.item_ids}
    assert (test.targets[test.inputs[:, 3] == 1.0] < 0).all()  # bound at equilibrium
    s = {m: task.score(test, fn(task, test)).scores["mae"] for m, fn in task.baselines.items()}
    assert s["baseline-distance-mean"] < s["baseline-mean"] < 0.5
