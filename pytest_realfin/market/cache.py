"""Build the default data set once per machine, safely under concurrent pytest-xdist workers.

The data set lives in ``$REALFIN_DATA_CACHE`` (or the user cache dir) in a folder keyed by the
generator version, the plant digest, the seed and the universe size. The first process to arrive
takes a file lock, builds into a temporary folder next to the target, and renames it into place;
everyone else waits on the lock and then finds the finished folder. A half-written folder is never
visible under the final name. ``prune`` removes the data sets and array files a key change left
behind, under the same locks.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pytest_realfin.errors import DataError

__all__ = ["Pruned", "build_dataset", "cache_root", "dataset_key", "default_dataset", "prune"]

_KEY_PREFIX = "realfin-synth-v"
"""Every data-set key, and so every folder, lock and temporary build folder, starts with this."""


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


@dataclass(frozen=True)
class Pruned:
    """What ``prune`` removed (or would remove, on a dry run) and what it had to leave.

    Attributes:
        removed: (path, bytes) of each removed top-level entry, folders counted whole.
        locked: data-set folders left whole because another process holds their key's lock.
        foreign: entries of the cache root that realfin never writes, so it never removes them.
    """

    removed: tuple[tuple[Path, int], ...]
    locked: tuple[Path, ...]
    foreign: tuple[Path, ...]

    @property
    def freed(self) -> int:
        """Bytes of everything in ``removed``."""
        return sum(size for _, size in self.removed)


def prune(keep: set[str] | None, dry_run: bool = False) -> Pruned:
    """Remove cached data sets whose key is not in ``keep`` and array files no remaining set uses.

    A key's folder, ``<key>.tmp-*`` build folders and ``<key>.lock`` go together while holding that
    lock, taken without waiting: a key another process holds (a build in progress) is skipped and
    reported in ``locked``. An array file is kept only if it is the ``Market.load`` file of a data
    set still in the cache (``reader.array_file``); arrays of data sets elsewhere
    (``realfin data build --out``) cannot be told apart from stale ones, so they go too and are
    rebuilt by the next load at the cost of one CSV parse. Only entries realfin writes (keys and
    ``arrays/``) are touched, so a ``$REALFIN_DATA_CACHE`` pointed at a shared folder stays safe.

    Args:
        keep: data-set keys to keep (``dataset_key(...)``); ``None`` removes every data set and
            the whole array cache.
        dry_run: only report what would be removed.

    Raises:
        DataError: an entry could not be removed (the message names it).
    """
    from filelock import FileLock, Timeout

    root = cache_root()
    if not root.is_dir():
        return Pruned((), (), ())
    removed: list[tuple[Path, int]] = []
    locked: list[Path] = []
    foreign: list[Path] = []
    groups: dict[str, list[Path]] = {}
    for entry in sorted(root.iterdir()):
        key = _key_of(entry.name)
        if key is not None:
            groups.setdefault(key, []).append(entry)
        elif entry.name != "arrays":
            foreign.append(entry)
    for key, entries in groups.items():
        if keep is not None and key in keep:
            continue
        lock_path = root / f"{key}.lock"
        # Build folders, then the lock file (still held), then the folder: a process that finds
        # the folder gone creates a fresh lock and builds anew, and no one waits on the old one.
        rank = {lock_path: 1, root / key: 2}
        ordered = sorted(entries, key=lambda p: (rank.get(p, 0), p.name))
        if dry_run and not lock_path.exists():
            removed += [(p, _size(p)) for p in ordered]
            continue
        lock = FileLock(str(lock_path), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            locked.append(root / key)
            continue
        try:
            for path in ordered:
                removed.append((path, _size(path)))
                if not dry_run:
                    _remove(path)
            if not dry_run:
                _remove(lock_path)  # when acquire() created it: the folder had no lock file
        finally:
            lock.release()
    removed += _prune_arrays(root, keep, {p for p, _ in removed}, dry_run)
    return Pruned(tuple(removed), tuple(locked), tuple(foreign))


def _prune_arrays(
    root: Path, keep: set[str] | None, gone: set[Path], dry_run: bool
) -> list[tuple[Path, int]]:
    from pytest_realfin.market.reader import array_file

    arrays = root / "arrays"
    if not arrays.is_dir() or arrays.is_symlink():
        return []
    if keep is None:
        size = _size(arrays)
        if not dry_run:
            _remove(arrays)
        return [(arrays, size)]
    used: set[str] = set()
    for folder in root.glob(f"{_KEY_PREFIX}*"):
        if folder.is_dir() and ".tmp-" not in folder.name and folder not in gone:
            npz = array_file(folder / "api_cache")
            if npz is not None:
                used.add(npz.name)
    out: list[tuple[Path, int]] = []
    for path in sorted(arrays.iterdir()):
        if path.name not in used:
            out.append((path, _size(path)))
            if not dry_run:
                _remove(path)
    return out


def _key_of(name: str) -> str | None:
    """The data-set key of a cache-root entry, or ``None`` if realfin did not write it."""
    if not name.startswith(_KEY_PREFIX):
        return None
    if name.endswith(".lock"):
        return name[: -len(".lock")]
    return name.split(".tmp-", 1)[0]


def _size(path: Path) -> int:
    """Bytes under ``path``; symlinks count as themselves and are never followed."""
    if path.is_symlink() or not path.is_dir():
        return path.lstat().st_size
    total = 0
    for folder, dirs, files in os.walk(path):
        links = [name for name in dirs if Path(folder, name).is_symlink()]
        total += sum(Path(folder, name).lstat().st_size for name in [*links, *files])
    return total


def _remove(path: Path) -> None:
    try:
        if path.is_symlink() or not path.is_dir():
            path.unlink(missing_ok=True)
        else:
            shutil.rmtree(path)
    except OSError as exc:
        msg = f"prune: cannot remove {path} ({exc}); fix its permissions or delete it by hand"
        raise DataError(msg) from exc
