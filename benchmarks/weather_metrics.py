"""Headline figure: WeatherBench-2-style latitude-weighted RMSE and ACC (against a day-of-year
climatology) on 5 variables × 365 initialisations × 10 lead times on a 64 × 32 grid (float32), computed by
``kechuang.science.metrics`` side by side with plain xarray (when installed) and hand-written numpy.

    .venv/bin/python benchmarks/weather_metrics.py [--repeat 3] [--dtype float32]

Goal (issue 6): at least as fast as hand-written numpy and at most 1.5 GiB peak. Peak memory is the
tracemalloc peak of each computation (numpy and xarray allocations are traced) on top of the inputs;
the process's maximum RSS is printed too. All three must agree to 1e-4.
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc

import numpy as np

from kechuang.science.metrics import lat_weighted_acc, lat_weighted_rmse, lat_weights

NVAR, NINIT, NLEAD, NLAT, NLON = 5, 365, 10, 32, 64


def make_data(dtype):
    """Synthetic fields with a seasonal cycle, truth = clim + anomaly, forecast = truth + growing error."""
    rng = np.random.default_rng(0)
    lat = np.linspace(-90 + 180 / NLAT / 2, 90 - 180 / NLAT / 2, NLAT)
    doy = np.arange(366)
    season = np.cos(2 * np.pi * doy / 365.25)[None, :, None, None]
    clim = (10 + 5 * season * np.cos(np.deg2rad(lat))[None, None, :, None]
            + np.arange(NVAR)[:, None, None, None]).astype(dtype)  # (var, 366, lat, 1)
    clim = np.broadcast_to(clim, (NVAR, 366, NLAT, NLON)).copy()
    valid_doy = (np.arange(NINIT)[:, None] + np.arange(1, NLEAD + 1)[None, :]) % 366  # (init, lead)
    clim_valid = clim[:, valid_doy]  # (var, init, lead, lat, lon)
    truth = clim_valid + rng.standard_normal(clim_valid.shape, dtype=np.float32).astype(dtype)
    err_scale = np.linspace(0.2, 1.5, NLEAD, dtype=dtype)[None, None, :, None, None]
    forecast = truth + err_scale * rng.standard_normal(truth.shape, dtype=np.float32).astype(dtype)
    return lat, forecast, truth, clim_valid


def ours(lat, f, o, c):
    """kechuang.science.metrics (time axis = initialisations)."""
    rmse, _ = lat_weighted_rmse(f, o, lat, time_axis=1)
    acc, _ = lat_weighted_acc(f, o, c, lat, time_axis=1)
    return rmse, acc


def numpy_handwritten(lat, f, o, c):
    """The formulas written out with broadcasting, no einsum."""
    w = lat_weights(lat)[:, None].astype(f.dtype)
    rmse = np.sqrt((((f - o) ** 2) * w).mean(axis=(-2, -1)).mean(axis=1))
    fa, oa = f - c, o - c
    acc = ((fa * oa * w).mean(axis=(-2, -1)) / np.sqrt((fa**2 * w).mean(axis=(-2, -1)) * (oa**2 * w).mean(axis=(-2, -1))))
    return rmse, acc.mean(axis=1)


def xarray_plain(lat, f, o, c):
    """Plain xarray, the way WeatherBench-2 users write it."""
    import xarray as xr

    dims = ("variable", "init", "lead", "lat", "lon")
    fx, ox, cx = (xr.DataArray(a, dims=dims, coords={"lat": lat}) for a in (f, o, c))
    w = xr.DataArray(lat_weights(lat).astype(f.dtype), dims="lat", coords={"lat": lat})
    rmse = np.sqrt(((fx - ox) ** 2).weighted(w).mean(["lat", "lon"]).mean("init"))
    fa, oa = fx - cx, ox - cx
    acc = ((fa * oa).weighted(w).mean(["lat", "lon"])
           / np.sqrt((fa**2).weighted(w).mean(["lat", "lon"]) * (oa**2).weighted(w).mean(["lat", "lon"])))
    return rmse.values, acc.mean("init").values


def measure(fn, args, repeat):
    times = []
    peak = 0
    out = None
    for _ in range(repeat):
        tracemalloc.start()
        t0 = time.perf_counter()
        out = fn(*args)
        times.append(time.perf_counter() - t0)
        peak = max(peak, tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    return min(times), peak, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    args = ap.parse_args()
    dtype = np.dtype(args.dtype)
    lat, f, o, c = make_data(dtype)
    inputs_gib = 3 * f.nbytes / 2**30
    print(f"grid {NVAR} vars × {NINIT} inits × {NLEAD} leads × {NLON}×{NLAT}, {dtype}; "
          f"inputs (forecast, truth, climatology) {inputs_gib:.2f} GiB")
    contenders = [("kechuang.science.metrics", ours), ("hand-written numpy", numpy_handwritten)]
    try:
        import xarray

        contenders.append((f"plain xarray {xarray.__version__}", xarray_plain))
    except ImportError:
        print("xarray not installed: comparing with hand-written numpy only")
    ref = None
    for name, fn in contenders:
        secs, peak, (rmse, acc) = measure(fn, (lat, f, o, c), args.repeat)
        if ref is None:
            ref = (rmse, acc)
        agree = np.allclose(rmse, ref[0], rtol=1e-4) and np.allclose(acc, ref[1], rtol=1e-4)
        print(f"{name:32s} {secs:7.3f} s   peak +{peak / 2**30:.2f} GiB (total ≈ {(peak / 2**30) + inputs_gib:.2f} GiB)"
              f"   agrees: {agree}   RMSE lead1/lead10 var0: {rmse[0, 0]:.3f}/{rmse[0, -1]:.3f}"
              f"   ACC: {acc[0, 0]:.3f}/{acc[0, -1]:.3f}")
    print(f"max RSS of the process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")


if __name__ == "__main__":
    main()
