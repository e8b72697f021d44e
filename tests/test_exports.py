"""Every module declares its public API in ``__all__`` and every name there exists (as httpx)."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import pytest_realfin

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(pytest_realfin.__path__, "pytest_realfin.")
    if not info.name.rsplit(".", 1)[-1].startswith("_")
)


def test_top_level_api():
    for name in pytest_realfin.__all__:
        assert hasattr(pytest_realfin, name), name
    assert pytest_realfin.__version__


@pytest.mark.parametrize("name", MODULES)
def test_module_all_names_exist(name: str):
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert isinstance(exported, list | tuple), f"{name} has no __all__"
    missing = [n for n in exported if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names missing attributes: {missing}"
    assert len(set(exported)) == len(exported), f"{name}.__all__ has duplicates"
