"""Synthetic ChiNext universe: codes, names, sectors, listing/delisting, ST spells and suspensions.

Event masks are drawn before any price, so plant assignment (which must avoid suspended or ST
stocks) can be computed cheaply without generating the market.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["CATL_CODE", "SECTORS", "Universe", "make_universe"]

CATL_CODE = "sz.300750"
"""The one real name the tasks rely on (task 12)."""

SECTORS = ("医药", "半导体", "新能源", "消费电子", "软件", "传媒", "消费", "其他")
"""Sector buckets of the industry file, in index order."""
_SECTOR_P = np.array([0.15, 0.11, 0.13, 0.10, 0.13, 0.08, 0.12, 0.18])
_WORDS = (
    ("医药", "生物", "药业", "医疗", "制药", "基因"),
    ("半导体", "芯片", "微电子", "集成电路", "芯源", "晶圆"),
    ("锂电", "电池", "新能源", "锂业", "储能", "光伏", "电解液", "隔膜"),
    ("电子", "精密", "光学", "声学", "显示", "通讯"),
    ("软件", "信息", "数据", "云科", "智联", "网络"),
    ("传媒", "文化", "影视", "游戏", "互动", "出版"),
    ("食品", "家居", "乳业", "服饰", "酒业", "美妆"),
    ("机械", "材料", "环保", "建设", "装备", "化工"),
)
_INDUSTRY = (
    "C27医药制造业",
    "C39计算机、通信和其他电子设备制造业",
    "C38电气机械和器材制造业",
    "C39计算机、通信和其他电子设备制造业",
    "I65软件和信息技术服务业",
    "R86广播、电视、电影和录音制作业",
    "C14食品制造业",
    "C35专用设备制造业",
)
_PREFIX = "华东新中天金海盛瑞科博信恒宏长光康泰万汇凯鼎智创联合精德安正星达美通欣豪嘉润亿力明源"


@dataclass(frozen=True)
class Universe:
    """Static attributes and event masks of the synthetic universe (N stocks over T sessions)."""

    codes: tuple[str, ...]
    names: tuple[str, ...]
    """Short names as of the last session (ST / *ST prefixed when the stock is ST then)."""
    sector: np.ndarray  # (N,) int index into SECTORS
    ipo: np.ndarray  # (N,) session index of the first bar (negative: listed before the range)
    ipo_date: tuple[str, ...]
    out: np.ndarray  # (N,) session index after the last bar (T when still listed)
    out_date: tuple[str, ...]  # '' when still listed
    total_share: np.ndarray  # (N,)
    liqa_share: np.ndarray  # (N,)
    st: np.ndarray  # (T, N) bool
    suspended: np.ndarray  # (T, N) bool
    blank: np.ndarray  # (T, N) bool: suspended with blank OHLCV fields
    lithium: np.ndarray  # (N,) bool: name says lithium/battery

    @property
    def listed(self) -> np.ndarray:
        """(T, N) bool: the stock has a row on this session."""
        t = np.arange(self.st.shape[0])[:, None]
        return (t >= self.ipo[None, :]) & (t < self.out[None, :])


def _codes(rng: np.random.Generator, n: int, n_new: int) -> tuple[list[int], list[int]]:
    old_pool = np.array([c for c in range(300001, 300831) if c != 300750])
    new_pool = np.concatenate([np.arange(300831, 301000), np.arange(301001, 301600)])
    old = sorted(rng.choice(old_pool, size=n - 1 - n_new, replace=False).tolist())
    new = sorted(rng.choice(new_pool, size=n_new, replace=False).tolist())
    return old, new


def _names(rng: np.random.Generator, sector: np.ndarray, codes: list[str]) -> list[str]:
    seen: set[str] = set()
    names: list[str] = []
    for code, s in zip(codes, sector, strict=True):
        if code == CATL_CODE:
            names.append("宁德时代")
            seen.add("宁德时代")
            continue
        while True:
            a, b = rng.choice(len(_PREFIX), size=2, replace=False)
            word = _WORDS[s][rng.integers(len(_WORDS[s]))]
            name = _PREFIX[a] + _PREFIX[b] + word
            if name not in seen:
                break
        seen.add(name)
        names.append(name)
    return names


def _spells(
    rng: np.random.Generator,
    t_len: int,
    lo: np.ndarray,
    hi: np.ndarray,
    k: np.ndarray,
    mean_len: float,
) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    """Mark ``k[i]`` random spells of geometric length inside [lo[i], hi[i]) for each stock."""
    mask = np.zeros((t_len, lo.size), dtype=bool)
    spells: list[tuple[int, int, int]] = []
    for i in np.flatnonzero(k):
        for _ in range(int(k[i])):
            if hi[i] - lo[i] < 40:
                break
            start = int(rng.integers(lo[i], hi[i] - 1))
            length = int(min(rng.geometric(1.0 / mean_len), 40, hi[i] - start))
            mask[start : start + length, i] = True
            spells.append((int(i), start, length))
    return mask, spells


def make_universe(rng: np.random.Generator, dates: pd.DatetimeIndex, n: int) -> Universe:
    """Draw the universe for ``n`` stocks over the sessions ``dates``."""
    t_len = len(dates)
    n_new = round(0.18 * (n - 1))
    old, new = _codes(rng, n, n_new)
    code_nums = [*old, 300750, *new]
    order = np.argsort(code_nums, kind="stable")
    code_nums = [code_nums[j] for j in order]
    codes = [f"sz.{c}" for c in code_nums]
    catl = codes.index(CATL_CODE)

    # Listing: old codes before 2020 (dated by code number), new codes inside the range.
    ipo = np.empty(n, dtype=np.int64)
    ipo_date: list[str] = []
    old_days = pd.bdate_range("2009-10-30", "2019-12-20")
    new_idx = np.sort(rng.integers(20, t_len - 120, size=n_new))
    j_new = 0
    for i, c in enumerate(code_nums):
        if c == 300750:
            ipo[i] = -400
            ipo_date.append("2018-06-11")
        elif c < 300831:
            frac = (c - 300001) / 830.0
            d = old_days[min(int(frac * len(old_days)), len(old_days) - 1)]
            ipo[i] = -1 - int((pd.Timestamp(dates[0]) - d).days * 0.67)
            ipo_date.append(d.strftime("%Y-%m-%d"))
        else:
            ipo[i] = new_idx[j_new]
            ipo_date.append(dates[new_idx[j_new]].strftime("%Y-%m-%d"))
            j_new += 1

    sector = rng.choice(len(SECTORS), size=n, p=_SECTOR_P)
    sector[catl] = SECTORS.index("新能源")
    names = _names(rng, sector, codes)
    lithium = np.array([any(w in nm for w in ("锂", "电池", "电解液", "隔膜")) for nm in names])
    lithium[catl] = True

    # Delistings: a few old stocks leave the market, each after an *ST spell.
    out = np.full(n, t_len, dtype=np.int64)
    out_date = [""] * n
    st = np.zeros((t_len, n), dtype=bool)
    eligible = np.flatnonzero((ipo < 0) & (np.arange(n) != catl))
    n_out = max(1, round(0.02 * n)) if eligible.size else 0
    for i in rng.choice(eligible, size=min(n_out, eligible.size), replace=False):
        o = int(rng.integers(int(0.45 * t_len), t_len - 40))
        out[i] = o
        out_date[i] = (dates[o - 1] + pd.Timedelta(days=1)).strftime("%Y-%m-%d")
        st[max(0, o - int(rng.integers(120, 260))) : o, i] = True

    # ST spells for about 5 % of the others, some lasting to the end of the range.
    others = np.flatnonzero((out == t_len) & (np.arange(n) != catl))
    for i in rng.choice(others, size=max(1, round(0.05 * n)), replace=False):
        start = (
            int(rng.integers(max(ipo[i], 0) + 250, t_len - 60))
            if ipo[i] < t_len - 320
            else t_len - 60
        )
        end = t_len if rng.random() < 0.4 else min(t_len, start + int(rng.integers(80, 400)))
        st[start:end, i] = True

    lo = np.maximum(ipo, 0) + 10
    hi = out.copy()
    k = rng.poisson(0.8, size=n)
    k[catl] = 0
    suspended, spells = _spells(rng, t_len, lo, hi, k, mean_len=3.0)
    blank = np.zeros_like(suspended)
    for i, start, length in spells:
        if rng.random() < 0.4:
            blank[start : start + length, i] = True

    final_names = [
        (("*ST" if rng.random() < 0.5 else "ST") + nm) if st[out[i] - 1, i] else nm
        for i, nm in enumerate(names)
    ]

    total = np.exp(rng.normal(np.log(4e8), 0.7, size=n))
    liqa = total * rng.uniform(0.45, 1.0, size=n)
    total[catl], liqa[catl] = 4.40e9, 3.92e9
    return Universe(
        codes=tuple(codes),
        names=tuple(final_names),
        sector=sector,
        ipo=ipo,
        ipo_date=tuple(ipo_date),
        out=out,
        out_date=tuple(out_date),
        total_share=np.round(total, -2),
        liqa_share=np.round(liqa, -2),
        st=st,
        suspended=suspended,
        blank=blank,
        lithium=lithium,
    )
