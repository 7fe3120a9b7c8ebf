"""Region data packs shipped in config/regions, loaded once per test session."""

from pathlib import Path

import pytest

from geo.jurisdiction import Jurisdictions

REGIONS = Path(__file__).resolve().parents[2] / "config" / "regions"
PADANG = REGIONS / "padang" / "geo"
BANGGAI = REGIONS / "banggai" / "geo"


@pytest.fixture(scope="session")
def padang_dir() -> Path:
    return PADANG


@pytest.fixture(scope="session")
def banggai_dir() -> Path:
    return BANGGAI


@pytest.fixture(scope="session")
def padang() -> Jurisdictions:
    return Jurisdictions.load(PADANG)


@pytest.fixture(scope="session")
def banggai() -> Jurisdictions:
    return Jurisdictions.load(BANGGAI)
