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
