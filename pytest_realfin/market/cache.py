"""Build the default data set once per machine, safely under concurrent pytest-xdist workers.

The data set lives in ``$REALFIN_DATA_CACHE`` (or the user cache dir) in a folder keyed by the
generator version, the plant digest, the seed and the universe size. The first process to arrive
takes a file lock, builds into a temporary folder next to the target, and renames it into place;
everyone else waits on the lock and then finds the finished folder. A half-written folder is never
visible under the final name.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["build_dataset", "cache_root", "dataset_key", "default_dataset"]


def cache_root() -> Path:
    """``$REALFIN_DATA_CACHE`` if set, else the platform's user cache dir for pytest-realfin."""
    env = os.environ.get("REALFIN_DATA_CACHE")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("pytest-realfin"))


def build_dataset(
    out_dir: Path | str,
    seed: int | None = None,
    universe: int | None = None,
    plants: tuple[object, ...] | None = None,
) -> Path:
    """Generate the market and write it to ``out_dir/api_cache``; return that folder.

    Args:
        out_dir: parent folder (created if needed); an existing ``api_cache`` inside is replaced.
        seed: generator seed (default ``DEFAULT_SEED``).
        universe: number of stocks (default ``DEFAULT_UNIVERSE``, at least 10).
        plants: plants to place (default: the registry in ``plant_specs``).
    """
    from pytest_realfin.market.generator import DEFAULT_SEED, DEFAULT_UNIVERSE, generate
    from pytest_realfin.market.plants import Plant
    from pytest_realfin.market.writer import write_market

    typed = None if plants is None else tuple(p for p in plants if isinstance(p, Plant))
    synth = generate(
        DEFAULT_SEED if seed is None else seed,
        DEFAULT_UNIVERSE if universe is None else universe,
        typed,
    )
    return write_market(synth, Path(out_dir) / "api_cache")


def dataset_key(seed: int, universe: int) -> str:
    """Folder name of a cached data set: generator version, seed, universe and plant digest."""
    from pytest_realfin.market.generator import GENERATOR_VERSION
    from pytest_realfin.market.plant_specs import PLANTS
    from pytest_realfin.market.plants import plant_digest

    return f"realfin-synth-v{GENERATOR_VERSION}-s{seed}-u{universe}-p{plant_digest(PLANTS)[:12]}"


def default_dataset(seed: int | None = None, universe: int | None = None) -> Path:
    """Return the ``api_cache`` of the cached data set, building it first if no process has yet."""
    from filelock import FileLock

    from pytest_realfin.market.generator import DEFAULT_SEED, DEFAULT_UNIVERSE

    seed = DEFAULT_SEED if seed is None else seed
    universe = DEFAULT_UNIVERSE if universe is None else universe
    root = cache_root()
    key = dataset_key(seed, universe)
    final = root / key
    done = final / "api_cache" / "DATASET.json"
    if done.exists():
        return final / "api_cache"
    root.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root / f"{key}.lock")):
        if done.exists():
            return final / "api_cache"
        for stale in root.glob(f"{key}.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=f"{key}.tmp-", dir=root))
        try:
            build_dataset(tmp, seed=seed, universe=universe)
            if final.exists():
                shutil.rmtree(final)
            tmp.rename(final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return final / "api_cache"
