"""Headline figure: requests per second and p50/p99 latency of the organisation list and the organisation
360° page (HTML page and JSON API), served by uvicorn on loopback, logged in as the demo commission officer.

    # the `city` demo data (100,000 enterprises, 5 years of facts) in a database of its own:
    KECHUANG_DATABASE_URL=sqlite:///var/city.db .venv/bin/kechuang db upgrade
    KECHUANG_DATABASE_URL=sqlite:///var/city.db .venv/bin/kechuang demo load --size city --execute
    .venv/bin/python benchmarks/api_load.py --database-url sqlite:///var/city.db [--requests 2000] [--concurrency 8]

Without ``--database-url`` a scratch SQLite file with the ``small`` data set is built (quick check only; the
reported figures need ``city``). The client is httpx (HTTP/1.1 keep-alive) with a bounded number of requests;
the server is one uvicorn worker process, so the figures are per worker. Run it on an otherwise idle machine:
the load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent
DEMO_USER, DEMO_PASSWORD = "demo_commission", "kechuang-demo-2026"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _prepare(database_url: str | None, env: dict[str, str]) -> str:
    if database_url:
        subprocess.run([str(BIN / "kechuang"), "db", "upgrade"], env={**env, "KECHUANG_DATABASE_URL": database_url},
                       check=True, capture_output=True)
        return database_url
    url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='kechuang-bench-')) / 'small.db'}"
    for cmd in (["db", "upgrade"], ["demo", "load", "--size", "small", "--execute"]):
        subprocess.run([str(BIN / "kechuang"), *cmd], env={**env, "KECHUANG_DATABASE_URL": url}, check=True,
                       capture_output=True)
    return url


async def _run(client: httpx.AsyncClient, urls: list[str], concurrency: int) -> tuple[float, list[float], int]:
    latencies: list[float] = []
    errors = 0
    queue = iter(urls)

    async def worker() -> None:
        nonlocal errors
        for url in queue:
            t0 = time.perf_counter()
            try:
                r = await client.get(url)
                ok = r.status_code == 200
            except httpx.HTTPError:
                ok = False
            latencies.append(time.perf_counter() - t0)
            errors += not ok

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - start, latencies, errors


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="a database with demo data loaded (city for the headline figure)")
    parser.add_argument("--requests", type=int, default=2000, help="requests per scenario (default 2000)")
    parser.add_argument("--concurrency", type=int, default=4, help="concurrent client connections (default 4)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    env = {**os.environ, "KECHUANG_DEMO_MODE": "true", "KECHUANG_LOG_LEVEL": "WARNING",
           "KECHUANG_SECRET_KEY": os.environ.get("KECHUANG_SECRET_KEY", "benchmark-only")}
    url = _prepare(args.database_url, env)
    env["KECHUANG_DATABASE_URL"] = url
    subprocess.run([str(BIN / "kechuang"), "demo", "load", "--size", "small", "--if-empty", "--execute"], env=env,
                   check=True, capture_output=True)  # demo log-ins exist after any demo load
    port = _free_port()
    server = subprocess.Popen([str(BIN / "python"), "-m", "uvicorn", "kechuang.app:create_app", "--factory",
                               "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
                               "--no-access-log"], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30,
                                     limits=httpx.Limits(max_connections=args.concurrency)) as client:
            deadline = time.monotonic() + 180  # the app imports every domain (scientific packages too)
            while time.monotonic() < deadline:
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    await asyncio.sleep(0.2)
            r = await client.post("/api/v1/auth/login", json={"username": DEMO_USER, "password": DEMO_PASSWORD})
            r.raise_for_status()
            r = await client.get("/api/v1/registry/organisations", params={"per_page": 1})
            if r.status_code != 200:
                raise SystemExit(f"organisation list answered {r.status_code}: {r.text[:500]}")
            listing = r.json()
            total = listing["total"]
            ids = [o["id"] for o in (await client.get("/api/v1/registry/organisations",
                                                        params={"per_page": 200, "sort": "id"})).json()["items"]]
            rng = random.Random(args.seed)
            pages = max(1, min(total // 25, 2000))
            n = args.requests
            scenarios = {
                "organisation list, HTML page (25/page)":
                    [f"/registry/organisations?page={rng.randint(1, pages)}" for _ in range(n)],
                "organisation list, JSON API (25/page)":
                    [f"/api/v1/registry/organisations?page={rng.randint(1, pages)}" for _ in range(n)],
                "organisation list, search + filter, HTML":
                    [f"/registry/organisations?q=科技&district=浦东新区&page={rng.randint(1, 5)}" for _ in range(n)],
                "organisation list, 4-character search (trigram index), JSON":
                    [f"/api/v1/registry/organisations?q=科技有限&page={rng.randint(1, 5)}" for _ in range(n)],
                "360° page, HTML (facts chart, qualifications, relations)":
                    [f"/registry/organisations/{rng.choice(ids)}" for _ in range(n)],
                "360° view, JSON API": [f"/api/v1/registry/organisations/{rng.choice(ids)}" for _ in range(n)],
            }
            print(f"load average before the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
            print(f"kechuang API load on {base}: {total:,} organisations visible, database "
                  f"{url.split(':', 1)[0]}, {n} requests per scenario, concurrency {args.concurrency}, 1 worker")
            print(f"{'scenario':58} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
            for name, urls in scenarios.items():
                await _run(client, urls[: max(20, n // 20)], args.concurrency)  # warm-up
                elapsed, lat, errors = await _run(client, urls, args.concurrency)
                print(f"{name:58} {n / elapsed:8.1f} {statistics.median(lat) * 1000:8.1f} "
                      f"{_pct(lat, 99) * 1000:8.1f} {errors:7d}")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    asyncio.run(main())
