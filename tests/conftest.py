"""Shared fixtures for the project's own tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from pytest_realfin.market import Market, default_dataset
from tests.fakeserver import FakeOpenAI

settings.register_profile(
    "ci", max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("ci")


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """A scripted OpenAI-compatible server on loopback (see tests/fakeserver.py), stopped after."""
    with FakeOpenAI() as server:
        yield server


@pytest.fixture(scope="session")
def default_api_cache() -> Path:
    """The default RealFin-Synth data set (400 stocks), built once per machine and cached."""
    return default_dataset()


@pytest.fixture(scope="session")
def default_market(default_api_cache: Path) -> Market:
    """``Market`` over the default data set (loaded once per test session)."""
    return Market.load(default_api_cache)
