"""Repo-local wiring only.

The plugin is loaded by its ``pytest11`` entry point; listing it in ``pytest_plugins`` here would
register it twice, which pluggy refuses (man-group/pytest-plugins#233).
"""

from __future__ import annotations

# Run folders hold agent workspaces (scripts an agent wrote); `pytest .` must not collect them.
collect_ignore = ["realfin-results"]
