"""The module rules of the house style, checked on the source (AST), not by convention."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "pytest_realfin"
MODULES = sorted(PACKAGE.rglob("*.py"))
MAX_LINES = 450
"""House style: target 300 lines, split at about 400; beyond this a module must be split."""
PYTEST_ALLOWED = {Path("plugin.py"), Path("items.py")}
OPENAI_ALLOWED = {Path("model.py")}
BOTTOM = {"errors.py", "results.py", "spec.py"}
"""The shared records: they import nothing of the package above themselves."""


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(PACKAGE)) for p in paths]


def test_the_package_has_modules():
    assert len(MODULES) > 10


@pytest.mark.parametrize("path", MODULES, ids=_ids(MODULES))
def test_module_rules(path: Path):
    rel = path.relative_to(PACKAGE)
    imports = _imports(path)
    roots = {name.split(".")[0] for name in imports}
    if "pytest" in roots or "_pytest" in roots:
        assert rel in PYTEST_ALLOWED, f"{rel} imports pytest"
    if "openai" in roots:
        assert rel in OPENAI_ALLOWED, f"{rel} imports openai"
    above = {"pytest_realfin.plugin", "pytest_realfin.items"}
    if path.name != "plugin.py":
        assert not imports & above, f"{rel} imports the plugin layer"
    if path.name in BOTTOM and rel.parent == Path():
        allowed = {f"pytest_realfin.{m[:-3]}" for m in BOTTOM}
        for name in (n for n in imports if n.startswith("pytest_realfin.")):
            assert name in allowed or name.rsplit(".", 1)[0] in allowed, f"{rel} imports {name}"
    text = path.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= MAX_LINES, (
        f"{rel} has {len(text.splitlines())} lines; split it"
    )
    if text.strip():
        assert "from __future__ import annotations" in text, f"{rel} lacks the __future__ import"
