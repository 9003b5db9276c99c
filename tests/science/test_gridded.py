"""Gridded forecast scoring: NetCDF and zipped-Zarr uploads, validation of dims/coords/units with clear
errors, non-finite values counted and shown, baselines on the leaderboard, reproducibility."""

import numpy as np
import pytest

from kechuang.core.auth import Role
from kechuang.core.errors import ValidationFailed
from kechuang.science import gridded, service, uploads
from kechuang.science.tasks import TASKS
from tests.conftest import principal
from tests.science.helpers_b import gridded_forecast

pytest.importorskip("xarray")
pytest.importorskip("h5netcdf")
TASK_ID = "gridded-weather-forecast"
USER = principal(Role.RESEARCHER, user_id=41)


def _card(slug, **kw):
    return {"slug": slug, "version": "1.0.0", "name": slug, "domain": "weather", "task_kind": "gridded forecast", **kw}


@pytest.fixture(scope="module")
def task():
    return TASKS[TASK_ID]


def test_baselines_are_ordered_and_skill_falls_with_lead(task):
    data = task.load()
    s = {m: task.score(data, fn(task, data)).scores for m, fn in task.baselines.items()}
    adv, pers, clim = s["baseline-damped-advection"], s["baseline-persistence"], s["baseline-climatology"]
    assert adv["acc"] > pers["acc"] > clim["acc"] == 0.0
    assert pers["acc@1"] > pers["acc@3"] > pers["acc@7"]
    assert adv["rmse.z500"] < clim["rmse.z500"]
    assert clim["rmse.z500@7"] < pers["rmse.z500@7"]  # persistence saturates at √2 σ
    assert pers["rmse.t2m@1"] < clim["rmse.t2m@1"]


@pytest.mark.parametrize("fmt", ["netcdf", "zarr"])
def test_file_round_trip_gives_the_baseline_scores(task, tmp_path, fmt):
    data = task.load()
    fc = gridded_forecast(task, data)
    path = gridded.write_forecast(fc, task_spec(), tmp_path / f"f.{fmt}", fmt)
    assert gridded.detect_format(path) == fmt
    back = gridded.read_forecast(path, task_spec())
    assert np.allclose(back, fc)


def task_spec():
    from kechuang.science.tasks import gridded_weather

    return gridded_weather.grid_spec("test")


def test_reader_reorders_lat_lon_and_accepts_weatherbench_names(task, tmp_path):
    data = task.load()
    fc = gridded_forecast(task, data)
    ds = gridded.to_dataset(fc, task_spec())
    ds = ds.isel(lat=slice(None, None, -1)).rename({"init_time": "time", "lead_time": "prediction_timedelta",
                                                    "lat": "latitude", "lon": "longitude"})
    ds = ds.assign_coords(longitude=((ds.longitude + 180) % 360) - 180).sortby("longitude")
    ds["z500"].attrs["units"] = "m**2 s**-2"
    ds.to_netcdf(tmp_path / "wb2.nc", engine="h5netcdf")
    assert np.allclose(gridded.read_forecast(tmp_path / "wb2.nc", task_spec()), fc)


@pytest.mark.parametrize(("change", "field", "words"), [
    (lambda ds: ds.drop_vars("t850"), "t850", "variable missing"),
    (lambda ds: ds.assign(t2m=ds.t2m.assign_attrs(units="degC")), "t2m", "units 'degC'"),
    (lambda ds: ds.assign(t2m=ds.t2m.drop_attrs()), "t2m", "units attribute missing"),
    (lambda ds: ds.isel(lead_time=slice(0, 3)), "lead_time", "value 5 is missing"),
    (lambda ds: ds.isel(init_time=slice(1, None)), "init_time", "is missing"),
    (lambda ds: ds.isel(lat=slice(0, 16)), "lat", "covers -87.1875..-2.8125 only"),
    (lambda ds: ds.rename({"lon": "x"}), "lon", "dimension missing"),
])
def test_validation_names_the_field(task, tmp_path, change, field, words):
    data = task.load()
    ds = change(gridded.to_dataset(gridded_forecast(task, data), task_spec()))
    ds.to_netcdf(tmp_path / "bad.nc", engine="h5netcdf")
    with pytest.raises(gridded.ForecastFileError) as e:
        gridded.read_forecast(tmp_path / "bad.nc", task_spec())
    assert e.value.field == field and words in e.value.problem
    with pytest.raises(ValidationFailed) as e2:
        uploads.register_model(_session_holder["s"], USER, _card("bad-fc"), "predictions",
                               file=tmp_path / "bad.nc", task=TASK_ID)
    err = e2.value.errors[0].render("en")
    assert err["field"] == "file" and field in err["reason"]


_session_holder: dict = {}


@pytest.fixture(autouse=True)
def _hold_session(session):
    _session_holder["s"] = session
    yield
    _session_holder.clear()


def test_upload_run_counts_nonfinite_and_is_reproducible(session, task, tmp_path):
    data = task.load()
    fc = gridded_forecast(task, data, "damped-advection")
    fc[3, 0, 1, 5, 7] = np.nan  # one init with a NaN in t850
    fc[10, 2, 0, :2, :3] = np.inf  # one init with six infinite z500 values
    fc[20, 4, 2, 0, 0] = 9e9  # one init exploding (t2m beyond its physical range)
    path = gridded.write_forecast(fc, task_spec(), tmp_path / "fc.zip", "zarr")
    m = uploads.register_model(session, USER, _card("toy-fc"), "predictions", file=path, task=TASK_ID)
    assert m.file_sha256 and len(m.file_sha256) == 64 and m.adapter_config["format"] == "zarr"
    r1 = service.run(session, USER, TASK_ID, "toy-fc")
    r2 = service.run(session, USER, TASK_ID, "toy-fc")
    assert r1.status == "ok" and r1.n_nonfinite == 2 and r1.n_exploding == 1 and r1.n_items == 73
    assert r1.details["nonfinite_values"] == {"z500": 6, "t850": 1, "t2m": 0}
    assert r1.scores == r2.scores and r1.ci == r2.ci and r1.predictions_hash == r2.predictions_hash
    assert 0.5 < r1.scores["acc"] < 0.7
    from kechuang.science import boards

    page = boards.run_items(session, USER, r1.id, page=1, per_page=10)
    assert page["total"] == 73 and page["pages"] == 8 and len(page["items"]) == 10
    assert [i["usable"] for i in page["items"]].count(False) == 1 and not page["items"][3]["usable"]
    assert page["items"][3]["prediction"].endswith("(30720)")  # 5 leads × 3 variables × 32 × 64
    service.run(session, USER, TASK_ID, "baseline-climatology")
    board = service.leaderboard(session, USER, TASK_ID)
    models = [row["model"] for row in board["rows"]]
    assert models.index("toy-fc") < models.index("baseline-climatology")
    row = next(x for x in board["rows"] if x["model"] == "toy-fc")
    assert row["n_nonfinite"] == 2 and row["n_exploding"] == 1


def test_all_nan_forecast_fails_without_scores(session, task, tmp_path):
    fc = np.full(task.load().targets.shape, np.nan)
    path = gridded.write_forecast(fc, task_spec(), tmp_path / "nan.nc")
    uploads.register_model(session, USER, _card("nan-fc"), "predictions", file=path, task=TASK_ID)
    r = service.run(session, USER, TASK_ID, "nan-fc")
    assert r.status == "failed" and r.scores == {} and r.n_nonfinite == 73 and "no finite" in r.error


def test_not_a_forecast_file_is_refused(session, tmp_path):
    (tmp_path / "x.bin").write_bytes(b"\x00garbage")
    with pytest.raises(ValidationFailed) as e:
        uploads.register_model(session, USER, _card("junk"), "predictions", file=tmp_path / "x.bin", task=TASK_ID)
    assert e.value.errors[0].field == "file"
