"""Reader robustness (13-column caches, corrupt and truncated files), determinism, cache and CLI."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pytest_realfin.cli import main
from pytest_realfin.errors import DataError, MissingDataError
from pytest_realfin.market import Market, build_dataset

SEED, N = 11, 20
ORIGINAL_13 = [
    "date",
    "code",
    "open",
    "high",
    "low",
    "close",
    "preclose",
    "volume",
    "amount",
    "turn",
    "pctChg",
    "tradestatus",
    "isST",
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_dataset(tmp_path_factory.mktemp("tiny"), seed=SEED, universe=N, plants=())


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_seed_same_bytes_across_processes(tiny: Path, tmp_path: Path) -> None:
    code = (
        "import sys; from pytest_realfin.market import build_dataset; "
        f"build_dataset(sys.argv[1], seed={SEED}, universe={N}, plants=())"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, timeout=300)
    other = tmp_path / "api_cache"
    assert _digest(other) == _digest(tiny)
    fp = json.loads((tiny / "DATASET.json").read_text())["fingerprint"]
    assert Market.load(other, use_cache=False).fingerprint == fp


def test_other_seed_differs(tiny: Path, tmp_path: Path) -> None:
    other = build_dataset(tmp_path, seed=SEED + 1, universe=N, plants=())
    assert Market.load(other, use_cache=False).fingerprint != Market.load(tiny).fingerprint


def test_warm_cache_gives_the_same_panels(tiny: Path) -> None:
    cold = Market.load(tiny, use_cache=False)
    Market.load(tiny)
    warm = Market.load(tiny)
    assert warm.codes == cold.codes
    assert warm.dates.equals(cold.dates)
    for f in cold.fields:
        assert np.array_equal(warm.panel(f).to_numpy(), cold.panel(f).to_numpy(), equal_nan=True)


def test_thirteen_column_cache(tiny: Path, tmp_path: Path) -> None:
    daily = tmp_path / "api_cache" / "baostock" / "daily_qfq_20230101_20260331"
    daily.mkdir(parents=True)
    for p in sorted((tiny / "baostock" / "daily_qfq_20200102_20260331").glob("*.csv"))[:5]:
        df = pd.read_csv(p, dtype=str, keep_default_na=False)
        df = df[df["date"] >= "2023-01-01"][ORIGINAL_13]
        df.to_csv(daily / p.name, index=False)
    m = Market.load(tmp_path / "api_cache", use_cache=False)
    assert len(m.codes) == 5
    assert m.dates[0] >= pd.Timestamp("2023-01-03")
    assert {"daily:peTTM", "daily:pbMRQ", "profit", "min30", "universe", "etf:sz159929"} <= set(
        m.missing
    )
    assert m.panel("close").notna().to_numpy().mean() > 0.8
    m.require("daily:close", "daily:turn")
    with pytest.raises(MissingDataError, match="peTTM"):
        m.require("daily:close", "daily:peTTM")
    with pytest.raises(MissingDataError, match=r"profit_quarterly\.csv"):
        m.require("profit")
    with pytest.raises(MissingDataError, match="peTTM"):
        m.panel("peTTM")
    with pytest.raises(MissingDataError, match="universe"):
        _ = m.universe


def _copy(tiny: Path, tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "api_cache"
    shutil.copytree(tiny, root)
    return root, sorted((root / "baostock" / "daily_qfq_20200102_20260331").glob("*.csv"))[3]


def test_corrupt_value_names_file_and_line(tiny: Path, tmp_path: Path) -> None:
    root, victim = _copy(tiny, tmp_path)
    lines = victim.read_text().splitlines(keepends=True)
    fields = lines[9].split(",")
    fields[5] = "abc"
    lines[9] = ",".join(fields)
    victim.write_text("".join(lines))
    with pytest.raises(DataError, match=rf"{victim.name}: line 10: column 'close' has 'abc'"):
        Market.load(root)


def test_truncated_mid_line_names_file_and_line(tiny: Path, tmp_path: Path) -> None:
    root, victim = _copy(tiny, tmp_path)
    data = victim.read_bytes()
    cut = data[: data.index(b"\n", len(data) // 2) + 15]
    victim.write_bytes(cut)
    line = cut.count(b"\n") + 1
    with pytest.raises(DataError, match=rf"{victim.name}: line {line}: "):
        Market.load(root)


def test_truncated_at_line_end_is_caught_by_the_manifest(tiny: Path, tmp_path: Path) -> None:
    root, victim = _copy(tiny, tmp_path)
    lines = victim.read_text().splitlines(keepends=True)
    victim.write_text("".join(lines[:100]))
    with pytest.raises(DataError, match=rf"{victim.name}: line 101: .*truncated"):
        Market.load(root)


def test_not_a_cache(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="daily_qfq"):
        Market.load(tmp_path)


def test_default_dataset_builds_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_realfin.market import cache

    monkeypatch.setenv("REALFIN_DATA_CACHE", str(tmp_path))
    calls: list[int] = []

    def fake_build(out: Path, seed: int | None = None, universe: int | None = None) -> Path:
        calls.append(1)
        api = Path(out) / "api_cache"
        api.mkdir(parents=True)
        (api / "DATASET.json").write_text("{}")
        return api

    monkeypatch.setattr(cache, "build_dataset", fake_build)
    first = cache.default_dataset(seed=1, universe=30)
    second = cache.default_dataset(seed=1, universe=30)
    assert first == second
    assert first.is_dir()
    assert calls == [1]
    assert not list(tmp_path.glob("*.tmp-*"))


def test_cli_info(tiny: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "info", str(tiny)]) == 0
    out = capsys.readouterr().out
    assert "fingerprint" in out
    assert "min30" in out
    assert "MB" in out
    assert main(["data", "info", str(tiny.parent / "nowhere")]) == 2
