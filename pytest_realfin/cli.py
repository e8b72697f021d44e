"""The ``realfin`` console script.

Subcommands register themselves on the top-level parser through small ``_add_*`` functions, each
setting ``func`` to its handler, so new commands (``grade``, ``compare``, ``show``) slot in without
touching the others::

    realfin data build [--out DIR] [--seed N] [--universe N]
    realfin data info DIR
    realfin data prune [--all] [--dry-run]
    realfin grade TASK_ID WORKSPACE [--data DIR] [--tasks DIR] [--verifiers DIR]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from pytest_realfin.errors import RealfinError

__all__ = ["build_parser", "main"]


def _cmd_data_build(args: argparse.Namespace) -> int:
    from pytest_realfin.market import build_dataset, default_dataset

    started = time.perf_counter()
    if args.out is None:
        api_cache = default_dataset(seed=args.seed, universe=args.universe)
    else:
        api_cache = build_dataset(args.out, seed=args.seed, universe=args.universe)
    print(f"built {api_cache} in {time.perf_counter() - started:.1f} s")
    return _cmd_data_info(argparse.Namespace(dir=api_cache))


def _cmd_data_info(args: argparse.Namespace) -> int:
    from pytest_realfin.market import Market

    root = Path(args.dir)
    if (root / "api_cache").is_dir():
        root = root / "api_cache"
    market = Market.load(root)
    sizes: dict[str, tuple[int, int]] = {}
    for path in root.rglob("*"):
        if path.is_file():
            top = "/".join(path.relative_to(root).parts[:2])
            n, b = sizes.get(top, (0, 0))
            sizes[top] = (n + 1, b + path.stat().st_size)
    meta = market.meta
    print(f"data set    {root}")
    if meta:
        print(
            f"name        {meta.get('name')} (generator {meta.get('generator_version')}, ", end=""
        )
        print(f"seed {meta.get('seed')}, universe {meta.get('universe')})")
    print(f"fingerprint {market.fingerprint}")
    print(f"stocks      {len(market.codes)} over {len(market.dates)} sessions ", end="")
    print(f"({market.dates[0].date()} .. {market.dates[-1].date()})")
    print(f"columns     {', '.join(market.fields)}")
    print(f"missing     {', '.join(market.missing) or 'nothing'}")
    total = 0
    for top in sorted(sizes):
        n, b = sizes[top]
        total += b
        print(f"  {top:<52} {n:>5} files {b / 1e6:>9.1f} MB")
    print(f"total       {total / 1e6:.1f} MB")
    return 0


def _cmd_data_prune(args: argparse.Namespace) -> int:
    from pytest_realfin.market import DEFAULT_SEED, DEFAULT_UNIVERSE
    from pytest_realfin.market.cache import cache_root, dataset_key, prune

    keep = None if args.all else {dataset_key(DEFAULT_SEED, DEFAULT_UNIVERSE)}
    pruned = prune(keep, dry_run=args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    print(f"cache root   {cache_root()}")
    if keep is not None:
        print(f"keeping      {', '.join(sorted(keep))}")
    for path, size in pruned.removed:
        print(f"{verb:<13}{path}  ({size:,} bytes)")
    for path in pruned.locked:
        print(f"skipped      {path}: another process holds its lock; run prune again later")
    for path in pruned.foreign:
        print(f"left alone   {path}: not written by realfin")
    freed = "would free" if args.dry_run else "freed"
    print(f"{freed} {pruned.freed:,} bytes ({pruned.freed / 1e6:.1f} MB) in ", end="")
    print(f"{len(pruned.removed)} entries")
    return 0


def _add_data_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    data = sub.add_parser("data", help="build or inspect market data sets")
    dsub = data.add_subparsers(dest="data_command", required=True, metavar="{build,info,prune}")
    build = dsub.add_parser("build", help="generate RealFin-Synth (default: into the data cache)")
    build.add_argument(
        "--out", type=Path, metavar="DIR", help="write DIR/api_cache instead of the cache"
    )
    build.add_argument("--seed", type=int, default=None, metavar="N", help="generator seed")
    build.add_argument("--universe", type=int, default=None, metavar="N", help="number of stocks")
    build.set_defaults(func=_cmd_data_build)
    info = dsub.add_parser("info", help="print what a cache folder holds, sizes and fingerprint")
    info.add_argument("dir", type=Path, metavar="DIR", help="an api_cache folder or its parent")
    info.set_defaults(func=_cmd_data_info)
    prune = dsub.add_parser(
        "prune", help="remove cached data sets other than the current default, and stale arrays"
    )
    prune.add_argument(
        "--all", action="store_true", help="remove every data set and the array cache"
    )
    prune.add_argument("--dry-run", action="store_true", help="only list what would go")
    prune.set_defaults(func=_cmd_data_prune)


def _cmd_grade(args: argparse.Namespace) -> int:
    import json

    from pytest_realfin.verify import grade_workspace

    report = grade_workspace(
        args.task_id,
        args.workspace,
        data_dir=args.data,
        tasks_dir=args.tasks,
        verifiers_dir=args.verifiers,
    )
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return 0 if report["success"] else 1


def _add_grade_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    grade = sub.add_parser(
        "grade", help="re-score a workspace; print the predicates as JSON (exit 1 = fail)"
    )
    grade.add_argument("task_id", metavar="TASK_ID", help="e.g. task_22_bullish_sandwich")
    grade.add_argument(
        "workspace", type=Path, metavar="WORKSPACE", help="the folder holding the output file"
    )
    grade.add_argument(
        "--data", type=Path, metavar="DIR", help="api_cache folder (default: the embedded data)"
    )
    grade.add_argument(
        "--tasks",
        type=Path,
        default=Path("tasks"),
        metavar="DIR",
        help="tasks folder (default ./tasks)",
    )
    grade.add_argument(
        "--verifiers", type=Path, metavar="DIR", help="verifiers folder (default: next to --tasks)"
    )
    grade.set_defaults(func=_cmd_grade)


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level parser with every registered subcommand."""
    parser = argparse.ArgumentParser(prog="realfin", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_data_commands(sub)
    _add_grade_command(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``realfin`` script; returns the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except RealfinError as exc:
        print(f"realfin: error: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
