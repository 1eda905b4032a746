"""Shared fixtures: paths to the small committed fixtures and to the shared real data; the sample ingested once
per session (each module reads its own copy) and the whole report run once on the sample with its defaults."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from finops_lib import engine, paths

DATA = Path(__file__).parent / "data"
REAL = paths.PROJECT_ROOT.parent / "shared" / "data" / "real"


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture
def real_dir() -> Path:
    if not REAL.is_dir():
        pytest.skip(f"shared real data not found at {REAL}")
    return REAL


@pytest.fixture
def con():
    c = engine.memory()
    yield c
    c.disconnect()


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium through playwright (skips when either is missing)."""
    from browser_util import CHROMIUM, CHROMIUM_ARGS

    if not CHROMIUM.exists():
        pytest.skip(f"headless Chromium not installed at {CHROMIUM}")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def _sample_warehouse_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The committed sample ingested once for the session (never opened by a test: see ``sample_warehouse``)."""
    from finops_lib.warehouse import open_data

    path = tmp_path_factory.mktemp("sample_master") / "sample.duckdb"
    open_data(paths.SAMPLE_DIR, warehouse=path).disconnect()
    return path


@pytest.fixture(scope="module")
def sample_warehouse(tmp_path_factory: pytest.TempPathFactory, _sample_warehouse_master: Path) -> Path:
    """A module's own copy of the ingested sample: ``open_data`` on it finds every file already ingested
    (a no-op), and writes or locks in one module never reach another."""
    path = tmp_path_factory.mktemp("sample_warehouse") / "sample.duckdb"
    shutil.copyfile(_sample_warehouse_master, path)
    return path


@pytest.fixture(scope="session")
def sample_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``finops report`` on the sample with every default, run once: the catalog's browser test reads its pages
    and the notebook tests read each notebook's default ``results.json`` (``<report>/<stem>/results.json``)
    from it instead of running the notebook again. The notebooks ingest the sample themselves (their
    default warehouse under build/), as in a user's run."""
    from finops_lib import report

    out = tmp_path_factory.mktemp("sample_report")
    report.run_report(out_dir=out)
    return out
