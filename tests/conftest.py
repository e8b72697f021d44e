"""Shared fixtures for the project's own tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakeserver import FakeOpenAI


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """A scripted OpenAI-compatible server on loopback (see tests/fakeserver.py), stopped after."""
    with FakeOpenAI() as server:
        yield server
