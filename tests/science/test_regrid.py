"""Uploaded gridded forecasts on another global lat/lon grid are regridded to the task's grid with xarray's
bilinear interpolation (not refused): exact for fields linear in latitude, close for smooth ones, across the
dateline and towards the poles; regional grids are refused by name; a run on regridded input is scored and
marked as such (run details, leaderboard, run and task pages)."""

import dataclasses

import numpy as np
import pytest

from kechuang.core.auth import Role
from kechuang.science import gridded, service, uploads
from kechuang.science.tasks import TASKS
from tests.conftest import principal
from tests.science.helpers_b import gridded_forecast

pytest.importorskip("xarray")
pytest.importorskip("h5netcdf")
pytest.importorskip("scipy")
TASK_ID = "gridded-weather-forecast"
USER = principal(Role.RESEARCHER, user_id=91)


def _spec():
    from kechuang.science.tasks import gridded_weather

    return gridded_weather.grid_spec("test")


def _grid(dlat: float, dlon: float, lon0: float = 0.0, lat_range=(-90.0, 90.0), lon_span=360.0):
    """Cell-centre latitudes and longitudes of a regular grid."""
    lat = np.arange(lat_range[0] + dlat / 2, lat_range[1], dlat)
    lon = lon0 + np.arange(0.0, lon_span - 1e-9, dlon)
    return lat, lon


def _write(tmp_path, field, lat, lon, name="fc.nc"):
    """A file with ``field(lat, lon)`` (2-D, broadcast over inits, leads, variables) on the given grid, in the
    task's units, written with latitudes north→south and longitudes in [-180, 180)."""
    spec = _spec()
    other = dataclasses.replace(spec, lat=tuple(lat), lon=tuple(lon))
    values = np.broadcast_to(field, other.shape).astype(np.float64)
    ds = gridded.to_dataset(values, other).isel(lat=slice(None, None, -1))
    ds = ds.assign_coords(lon=((ds.lon + 180) % 360) - 180).sortby("lon")
    ds.to_netcdf(tmp_path / name, engine="h5netcdf")
    return tmp_path / name


def test_bilinear_is_exact_in_latitude_close_elsewhere_and_wraps_at_the_dateline(tmp_path):
    spec = _spec()
    lat, lon = _grid(2.8125, 2.8125, lon0=1.40625)  # 64×128, no meridian on 0°: the dateline must wrap
    la, lo = np.deg2rad(lat)[:, None], np.deg2rad(lon)[None, :]
    path = _write(tmp_path, 250.0 + 0.3 * np.rad2deg(la) + 0 * lo, lat, lon)
    info = {}
    out = gridded.read_forecast(path, spec, info=info)
    want = 250.0 + 0.3 * np.asarray(spec.lat)[:, None] + 0 * np.asarray(spec.lon)[None, :]
    assert out.shape == spec.shape and np.allclose(out, want, atol=1e-9)  # linear in lat: exact
    assert info["regridded"]["source_grid"] == "64×128 (2.8125°×2.8125°)"
    assert info["regridded"]["target_grid"] == "32×64" and "bilinear" in info["regridded"]["method"]
    path = _write(tmp_path, 250.0 + 5.0 * np.cos(la) * np.cos(lo), lat, lon, "smooth.nc")
    out = gridded.read_forecast(path, spec)
    tla, tlo = np.deg2rad(np.asarray(spec.lat))[:, None], np.deg2rad(np.asarray(spec.lon))[None, :]
    err = np.abs(out[0, 0, 0] - (250.0 + 5.0 * np.cos(tla) * np.cos(tlo)))
    h = np.deg2rad(2.8125)
    assert err.max() < 5.0 * h * h / 4  # bilinear error bound (h²/8 per direction, |f''| ≤ 5)
    assert err[:, 0].max() < 5.0 * h * h / 4  # the 0° column, interpolated across the dateline


def test_a_coarser_grid_gives_the_polar_rows_its_outermost_row(tmp_path):
    spec = _spec()
    lat, lon = _grid(11.25, 11.25)  # 16×32: centres reach ±84.375, the task's rows ±87.1875
    path = _write(tmp_path, 270.0 + 0.5 * lat[:, None] + 0 * lon[None, :], lat, lon)
    out = gridded.read_forecast(path, spec)[0, 0, 0]
    assert np.allclose(out[0], 270.0 + 0.5 * -84.375) and np.allclose(out[-1], 270.0 + 0.5 * 84.375)
    assert np.allclose(out[1:-1, 0], 270.0 + 0.5 * np.asarray(spec.lat)[1:-1])


@pytest.mark.parametrize(("grid", "field", "words"), [
    (dict(lon_span=180.0), "lon", "covers"),
    (dict(lat_range=(-45.0, 45.0)), "lat", "covers"),
])
def test_regional_grids_are_refused_by_name(tmp_path, grid, field, words):
    lat, lon = _grid(2.8125, 2.8125, **grid)
    path = _write(tmp_path, np.zeros((len(lat), len(lon))) + 280.0, lat, lon)
    with pytest.raises(gridded.ForecastFileError) as e:
        gridded.read_forecast(path, _spec())
    assert e.value.field == field and words in e.value.problem


def _refined(task, fc):
    """``fc`` on a grid twice as fine (each task cell split into 2×2 equal cells), with latitudes north to south
    and longitudes in [-180, 180): bilinear interpolation back to the task's cell centres is exact."""
    spec = _spec()
    lat = np.repeat(np.asarray(spec.lat), 2) + np.tile([-1.40625, 1.40625], len(spec.lat))
    lon = np.repeat(np.asarray(spec.lon), 2) + np.tile([-1.40625, 1.40625], len(spec.lon))
    fine = np.repeat(np.repeat(fc, 2, axis=-2), 2, axis=-1).astype(np.float32)
    other = dataclasses.replace(spec, lat=tuple(lat), lon=tuple(lon))
    ds = gridded.to_dataset(fine, other).isel(lat=slice(None, None, -1))
    return ds.assign_coords(lon=((ds.lon + 180) % 360) - 180).sortby("lon")


def test_a_regridded_upload_is_scored_and_marked_on_the_run(session, client_as, tmp_path):
    task = TASKS[TASK_ID]
    data = task.load()
    fc = gridded_forecast(task, data, "damped-advection").astype(np.float32).astype(np.float64)
    path = tmp_path / "fine.nc"
    _refined(task, fc).to_netcdf(path, engine="h5netcdf")
    m = uploads.register_model(session, USER, {"slug": "fine-grid-fc", "version": "1.0.0", "name": "fine grid",
                                               "domain": "weather", "task_kind": "gridded forecast"},
                               "predictions", file=path, task=TASK_ID)
    assert m.adapter_config["regridded"]["source_grid"] == "64×128 (2.8125°×2.8125°)"
    r = service.run(session, USER, TASK_ID, "fine-grid-fc")
    direct = task.score(data, fc)
    assert r.status == "ok" and r.details["regridded"]["target_grid"] == "32×64"
    assert r.scores["acc"] == pytest.approx(direct.scores["acc"], abs=1e-9)
    assert r.scores["rmse.z500@1"] == pytest.approx(direct.scores["rmse.z500@1"], rel=1e-9)
    base = service.run(session, USER, TASK_ID, "baseline-persistence")
    assert "regridded" not in (base.details or {})
    rows = {x["model"]: x for x in service.leaderboard(session, USER, TASK_ID)["rows"]}
    assert rows["fine-grid-fc"]["regridded"] is True and rows["baseline-persistence"]["regridded"] is False
    c = client_as(USER)
    run_page = c.get(f"/science/runs/{r.id}?lang=en", headers={"accept": "text/html"}).text
    assert 'id="run-regridded"' in run_page and "64×128" in run_page and "conservatively" in run_page
    task_page = c.get(f"/science/tasks/{TASK_ID}?lang=en", headers={"accept": "text/html"}).text
    assert task_page.count(">Regridded<") == 1
    assert c.get(f"/api/v1/science/runs/{r.id}").json()["details"]["regridded"]["method"].startswith("bilinear")
