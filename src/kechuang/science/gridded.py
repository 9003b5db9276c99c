"""Gridded forecast files (no database): read a user's forecast from NetCDF (h5netcdf or netCDF4) or Zarr
(a directory or a zipped store) with xarray, check its dimensions, coordinates and units against a task's
grid, and return a plain array in the task's order; write one (tests, the demo, users' templates).

Layout of a forecast file: one data variable per task variable (e.g. ``z500``, ``t850``, ``t2m``), each
with dims ``(init_time, lead_time, lat, lon)``. WeatherBench-2 names are accepted too (``time``,
``prediction_timedelta``, ``latitude``, ``longitude``). ``lead_time`` is a timedelta or a number with a
``units`` attribute (``days`` or ``hours``); ``lat`` may run north to south and ``lon`` may be given in
[-180, 180): both are reordered. Every variable must carry a ``units`` attribute equal to the task's.
Non-finite values are kept (the scorer counts them).

A forecast on another global lat/lon grid (regular, or at least rectilinear: 1-D, strictly monotonic
coordinates) is regridded to the task's grid by bilinear interpolation with xarray's ``interp`` (SciPy),
longitude periodic across the dateline; task rows poleward of the forecast's outermost row (less than one
forecast row spacing away) take that row's values. WeatherBench 2 regrids conservatively (area-weighted),
which preserves area means and treats fine structure differently, so scores on regridded input are not
WB2's scores: the reader reports what it did (``info["regridded"]``) and the run carries that mark. A
regional grid is refused, naming the coordinate and the range it covers.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DIM_ALIASES = {"init_time": ("init_time", "time"), "lead_time": ("lead_time", "prediction_timedelta", "step"),
               "lat": ("lat", "latitude"), "lon": ("lon", "longitude")}
FORMATS = ("netcdf", "zarr")
# task id -> reader(task, path, fmt) returning the task's scoring array; filled by the gridded task modules.
READERS: dict[str, Callable[..., np.ndarray]] = {}


@dataclass(frozen=True)
class GridSpec:
    """What a forecast must cover: variables and their units, initialisations, leads (days), the grid."""

    variables: tuple[str, ...]
    units: dict[str, str]
    init_times: tuple[str, ...]  # ISO dates, e.g. 2005-01-01
    lead_days: tuple[int, ...]
    lat: tuple[float, ...]
    lon: tuple[float, ...]

    @property
    def shape(self) -> tuple[int, ...]:
        """(init, lead, variable, lat, lon): the array layout tasks score."""
        return (len(self.init_times), len(self.lead_days), len(self.variables), len(self.lat), len(self.lon))


class ForecastFileError(ValueError):
    """A forecast file that does not fit the task; ``field`` names what is wrong (a dim, coord, variable)."""

    def __init__(self, field: str, problem: str):
        self.field, self.problem = field, problem
        super().__init__(f"{field}: {problem}")


def _norm_units(u: str) -> str:
    s = str(u).strip().lower().replace("**", "").replace("^", "").replace("·", " ").replace("*", " ")
    s = re.sub(r"/\s*s2\b", " s-2", s)
    s = re.sub(r"/\s*s\b", " s-1", s)
    return " ".join(s.split())


def detect_format(path: Path) -> str:
    """``netcdf`` (HDF5 or classic signature) or ``zarr`` (a directory or a zip holding ``.zarray``/
    ``zarr.json``); ValueError otherwise."""
    path = Path(path)
    if path.is_dir():
        return "zarr"
    with path.open("rb") as fh:
        head = fh.read(8)
    if head.startswith(b"\x89HDF") or head[:3] == b"CDF":
        return "netcdf"
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
        if any(n.rsplit("/", 1)[-1] in (".zgroup", ".zarray", ".zattrs", ".zmetadata", "zarr.json") for n in names):
            return "zarr"
    raise ForecastFileError("file", "not a NetCDF file or a zipped Zarr store")


def open_dataset(path: Path, fmt: str | None = None):
    """An ``xarray.Dataset`` opened lazily from a NetCDF file or a Zarr store (directory or zip)."""
    import xarray as xr

    path = Path(path)
    fmt = fmt or detect_format(path)
    if fmt == "netcdf":
        try:
            return xr.open_dataset(path, engine="h5netcdf", decode_timedelta=True)
        except (OSError, ValueError):  # NetCDF classic (CDF signature) is not HDF5
            return xr.open_dataset(path, engine="netcdf4", decode_timedelta=True)
    import warnings

    import zarr

    store = path if path.is_dir() else zarr.storage.ZipStore(path, mode="r")
    with warnings.catch_warnings():  # stores without consolidated metadata are fine, only slower to open
        warnings.simplefilter("ignore", RuntimeWarning)
        return xr.open_zarr(store, consolidated=None, decode_timedelta=True)


def _rename_dims(ds):
    renames = {}
    for canon, aliases in DIM_ALIASES.items():
        found = [a for a in aliases if a in ds.dims or a in ds.coords]
        if not found:
            raise ForecastFileError(canon, f"dimension missing (expected one of {', '.join(aliases)})")
        if found[0] != canon:
            renames[found[0]] = canon
    return ds.rename(renames) if renames else ds


def _lead_days(coord) -> np.ndarray:
    vals = np.asarray(coord.values)
    if vals.dtype.kind == "m":
        return vals / np.timedelta64(1, "D")
    units = str(coord.attrs.get("units", "")).strip().lower()
    if units in ("day", "days", "d"):
        return vals.astype(np.float64)
    if units in ("hour", "hours", "h"):
        return vals.astype(np.float64) / 24.0
    raise ForecastFileError("lead_time", "needs a timedelta type or a units attribute of days or hours")


def _match(name: str, have: np.ndarray, want: np.ndarray, tol: float) -> np.ndarray:
    """Indices into ``have`` for each value of ``want`` (within ``tol``); error naming the first missing."""
    idx = np.empty(len(want), dtype=np.int64)
    for i, w in enumerate(want):
        hits = np.flatnonzero(np.abs(have - w) <= tol)
        if not len(hits):
            raise ForecastFileError(name, f"value {w:g} is missing ({len(have)} values given, {len(want)} expected)")
        idx[i] = hits[0]
    return idx


def _axis(name: str, values) -> np.ndarray:
    vals = np.asarray(values, dtype=np.float64)
    if vals.ndim != 1 or len(vals) < 2 or not np.isfinite(vals).all():
        raise ForecastFileError(name, "needs a one-dimensional coordinate of at least two finite values")
    return vals


def _regrid(ds, variables: tuple[str, ...], spec: GridSpec, lat: np.ndarray, lon: np.ndarray) -> tuple[object, dict]:
    """``ds`` (dims init_time, lead_time, lat, lon) interpolated bilinearly to ``spec``'s grid, and what was
    done. Refuses grids that are not global or not rectilinear."""
    import xarray as xr

    lat, lon = _axis("lat", lat), _axis("lon", lon)
    if lat.min() < -90.001 or lat.max() > 90.001:
        raise ForecastFileError("lat", "values must lie within -90..90")
    if len(np.unique(lat)) != len(lat):
        raise ForecastFileError("lat", "has repeated values")
    _, keep = np.unique(np.round(lon, 6), return_index=True)  # e.g. both 0 and 360: the same meridian once
    src = ds[list(variables)].assign_coords(lat=lat, lon=lon).isel(lon=np.sort(keep)).sortby(["lat", "lon"])
    slat, slon = src["lat"].values, src["lon"].values
    gaps = np.diff(np.concatenate([slon, [slon[0] + 360.0]]))
    if gaps.max() > 2.0 * np.median(gaps) + 1e-6:
        raise ForecastFileError("lon", f"covers {slon[0]:g}..{slon[-1]:g} only; the task's grid is global "
                                       "(regrid to a global grid first)")
    want_lat, want_lon = np.asarray(spec.lat, dtype=np.float64), np.mod(np.asarray(spec.lon, dtype=np.float64), 360.0)
    dlat = np.diff(slat)
    if want_lat.min() < slat[0] - dlat[0] - 1e-6 or want_lat.max() > slat[-1] + dlat[-1] + 1e-6:
        raise ForecastFileError("lat", f"covers {slat[0]:g}..{slat[-1]:g} only; the task's grid reaches "
                                       f"{want_lat.min():g}..{want_lat.max():g}")
    # pole rows: the outermost row repeated at ±90 (constant towards the pole), then the dateline wrap
    if slat[0] > -90.0:
        src = xr.concat([src.isel(lat=[0]).assign_coords(lat=[-90.0]), src], dim="lat")
    if slat[-1] < 90.0:
        src = xr.concat([src, src.isel(lat=[-1]).assign_coords(lat=[90.0])], dim="lat")
    src = xr.concat([src.isel(lon=[-1]).assign_coords(lon=[slon[-1] - 360.0]), src,
                                       src.isel(lon=[0]).assign_coords(lon=[slon[0] + 360.0])], dim="lon")
    out = src.astype(np.float64).interp(lat=want_lat, lon=want_lon, method="linear")
    regular = bool(np.allclose(dlat, dlat[0], atol=1e-6) and np.allclose(gaps, gaps[0], atol=1e-6))
    info = {"method": "bilinear (xarray interp, linear in lat and lon, lon periodic)",
            "source_grid": f"{len(slat)}×{len(slon)}" + (f" ({abs(dlat[0]):g}°×{gaps[0]:g}°)" if regular else
                                                        " (rectilinear)"),
            "target_grid": f"{len(want_lat)}×{len(want_lon)}",
            "note": "WeatherBench 2 regrids conservatively; scores on bilinearly regridded input differ from WB2's"}
    return out, info


def read_forecast(path: Path, spec: GridSpec, fmt: str | None = None, info: dict | None = None) -> np.ndarray:
    """The forecast in ``spec.shape`` (float64), after checking dims, coordinates and units. Extra
    initialisations, leads or variables are ignored; anything missing raises ``ForecastFileError``. A
    forecast on another global lat/lon grid is regridded bilinearly to the task's (see the module
    docstring); ``info``, when given, receives ``{"regridded": {...}}`` then."""
    ds = _rename_dims(open_dataset(path, fmt))
    try:
        missing = [v for v in spec.variables if v not in ds.data_vars]
        if missing:
            raise ForecastFileError(missing[0], f"variable missing (expected {', '.join(spec.variables)})")
        for v in spec.variables:
            dims = set(ds[v].dims)
            if dims != {"init_time", "lead_time", "lat", "lon"}:
                raise ForecastFileError(v, f"has dims {tuple(ds[v].dims)}, expected (init_time, lead_time, lat, lon)")
            units = ds[v].attrs.get("units")
            if units is None:
                raise ForecastFileError(v, f"units attribute missing (expected {spec.units[v]!r})")
            if _norm_units(units) != _norm_units(spec.units[v]):
                raise ForecastFileError(v, f"units {units!r}, expected {spec.units[v]!r}")
        init = np.asarray(ds["init_time"].values)
        if init.dtype.kind != "M":
            raise ForecastFileError("init_time", "must be a datetime coordinate")
        init_days = init.astype("datetime64[D]").astype(np.int64).astype(np.float64)
        want_init = np.array(spec.init_times, dtype="datetime64[D]").astype(np.int64).astype(np.float64)
        i_init = _match("init_time", init_days, want_init, 0.01)
        i_lead = _match("lead_time", _lead_days(ds["lead_time"]), np.asarray(spec.lead_days, dtype=np.float64), 1e-3)
        lat = np.asarray(ds["lat"].values, dtype=np.float64)
        lon = np.mod(np.asarray(ds["lon"].values, dtype=np.float64), 360.0)
        for v in spec.variables:
            if ds[v].dtype.kind not in "fiu":
                raise ForecastFileError(v, f"values must be numeric, got {ds[v].dtype}")
        data = ds
        try:  # the task's grid points are all in the file: take them as they are
            i_lat = _match("lat", lat, np.asarray(spec.lat), 1e-3)
            i_lon = _match("lon", lon, np.mod(np.asarray(spec.lon), 360.0), 1e-3)
        except ForecastFileError:  # another grid: bilinear regridding
            sub = ds[list(spec.variables)].isel(init_time=i_init, lead_time=i_lead)
            data, done = _regrid(sub.transpose("init_time", "lead_time", "lat", "lon"), spec.variables, spec, lat, lon)
            if info is not None:
                info["regridded"] = done
            i_init, i_lead = np.arange(len(spec.init_times)), np.arange(len(spec.lead_days))
            i_lat, i_lon = np.arange(len(spec.lat)), np.arange(len(spec.lon))
        out = np.empty(spec.shape, dtype=np.float64)
        for k, v in enumerate(spec.variables):
            arr = data[v].transpose("init_time", "lead_time", "lat", "lon").values
            out[:, :, k] = arr[np.ix_(i_init, i_lead, i_lat, i_lon)]
        return out
    finally:
        ds.close()


def to_dataset(forecast: np.ndarray, spec: GridSpec):
    """An ``xarray.Dataset`` in the documented layout for an array in ``spec.shape``."""
    import xarray as xr

    coords = {"init_time": np.array(spec.init_times, dtype="datetime64[ns]"),
              "lead_time": np.array(spec.lead_days, dtype="timedelta64[D]").astype("timedelta64[ns]"),
              "lat": ("lat", np.asarray(spec.lat), {"units": "degrees_north"}),
              "lon": ("lon", np.asarray(spec.lon), {"units": "degrees_east"})}
    data = {v: (("init_time", "lead_time", "lat", "lon"), forecast[:, :, k], {"units": spec.units[v]})
            for k, v in enumerate(spec.variables)}
    return xr.Dataset(data, coords=coords)


def write_forecast(forecast: np.ndarray, spec: GridSpec, path: Path, fmt: str = "netcdf") -> Path:
    """Write ``forecast`` as NetCDF-4 (h5netcdf) or as a zipped Zarr store (``fmt='zarr'``)."""
    path = Path(path)
    ds = to_dataset(forecast, spec)
    if fmt == "netcdf":
        ds.to_netcdf(path, engine="h5netcdf")
    elif fmt == "zarr":  # written to a folder, then zipped (a zip store would hold metadata twice)
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            ds.to_zarr(Path(tmp) / "store.zarr", mode="w", consolidated=False)
            with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
                for f in sorted((Path(tmp) / "store.zarr").rglob("*")):
                    if f.is_file():
                        zf.write(f, f.relative_to(Path(tmp) / "store.zarr").as_posix())
    else:
        raise ValueError(f"unknown format {fmt}")
    return path
