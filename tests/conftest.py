"""Shared fixtures: paths to the small committed fixtures and to the shared real data."""

from __future__ import annotations

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
