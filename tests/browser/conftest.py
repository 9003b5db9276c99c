"""A live server for browser tests: its own SQLite file (migrated, demo data loaded and committed), uvicorn in
a subprocess on a free loopback port, and Debian's Chromium driven by Playwright (no browser downloads).

Skipped when ``/usr/bin/chromium`` is missing, except under CI (env ``CI`` set), where that is a failure.
Only on SQLite: the PostgreSQL run of ``make test`` deselects ``-m browser``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
BIN = Path(sys.executable).parent
SERVER_LOG: list[Path] = []  # the live server's log file, for failure messages


def server_log_tail(chars: int = 3000) -> str:
    """The end of the live server's log (empty before the server started)."""
    return SERVER_LOG[0].read_text(errors="replace")[-chars:] if SERVER_LOG else ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _require_browser() -> None:
    if os.environ.get("KECHUANG_TEST_DATABASE_URL", "sqlite").startswith("postgresql"):
        pytest.skip("browser tests run on SQLite only")
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs the Debian package chromium")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium fonts-noto-cjk)")


@pytest.fixture(scope="session")
def live_server() -> Iterator[str]:
    """Base URL of a running kechuang with the small demo data set and demo log-ins."""
    _require_browser()
    workdir = Path(tempfile.mkdtemp(prefix="kechuang-browser-"))
    env = {**os.environ, "KECHUANG_DATABASE_URL": f"sqlite:///{workdir / 'browser.db'}", "KECHUANG_DEMO_MODE": "true",
           "KECHUANG_LANGUAGE": "zh", "KECHUANG_SECRET_KEY": "browser-tests-only", "KECHUANG_LOG_LEVEL": "WARNING"}
    kc = str(BIN / "kechuang")
    for cmd in ([kc, "db", "upgrade"], [kc, "demo", "load", "--size", "small", "--execute"]):
        done = subprocess.run(cmd, env=env, cwd=workdir, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"{cmd}: {done.stdout}\n{done.stderr}"
    port = _free_port()
    log = (workdir / "server.log").open("w")
    SERVER_LOG[:] = [workdir / "server.log"]
    server = subprocess.Popen(
        [str(BIN / "python"), "-m", "uvicorn", "kechuang.app:create_app", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning"],
        env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None:
                raise RuntimeError((workdir / "server.log").read_text())
            time.sleep(0.1)
        else:
            raise RuntimeError("the server did not start: " + (workdir / "server.log").read_text())
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        ARTIFACTS.mkdir(exist_ok=True)  # the server's own log, to read when a journey failed
        shutil.copyfile(workdir / "server.log", ARTIFACTS / "server.log")


@pytest.fixture(scope="session")
def chromium(live_server):
    """One headless Chromium for the session."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def desktop(chromium, live_server):
    """A fresh 1280 px wide browser context (own cookies) and page."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, base_url=live_server, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def phone(chromium, live_server):
    """A 390 px wide context (iPhone-sized)."""
    context = chromium.new_context(viewport={"width": 390, "height": 844}, base_url=live_server, locale="zh-CN",
                                   device_scale_factor=2, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def shot(page, name: str, full_page: bool = True) -> Path:
    """Save a screenshot to ``test-artifacts/<name>.png``."""
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
