"""Provider-neutral pieces of the OpenAI wire protocol: usage, ``Retry-After``, backoff.

Pure functions with no ``openai`` import, split out of ``model`` so they can be property-tested.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

from pytest_realfin.results import Usage

__all__ = ["Backoff", "normalize_usage", "parse_retry_after"]


def _count(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None
    return int(value)


def _detail(block: Any, key: str) -> int | None:
    return _count(block.get(key)) if isinstance(block, Mapping) else None


def normalize_usage(raw: Any) -> Usage:
    """One call's usage block, in any provider's shape, as a ``Usage`` with ``calls=1``.

    Cached input comes from ``prompt_tokens_details.cached_tokens`` or DeepSeek's
    ``prompt_cache_hit_tokens``, and is subtracted from ``prompt_tokens``; reasoning comes from
    ``completion_tokens_details.reasoning_tokens`` and is clamped to the completion it is part of.
    A missing or unreadable block is an unknown call, never zero tokens.
    """
    unknown = Usage(calls=1, unknown_calls=1)
    if not isinstance(raw, Mapping):
        return unknown
    prompt = _count(raw.get("prompt_tokens"))
    completion = _count(raw.get("completion_tokens"))
    hit = _count(raw.get("prompt_cache_hit_tokens"))
    miss = _count(raw.get("prompt_cache_miss_tokens"))
    if prompt is None and hit is not None and miss is not None:
        prompt = hit + miss
    if prompt is None or completion is None:
        return unknown
    cached = _detail(raw.get("prompt_tokens_details"), "cached_tokens")
    cached = min(cached if cached is not None else (hit or 0), prompt)
    reasoning = _detail(raw.get("completion_tokens_details"), "reasoning_tokens") or 0
    return Usage(
        input_tokens=prompt - cached,
        cached_input_tokens=cached,
        output_tokens=completion,
        reasoning_tokens=min(reasoning, completion),
        calls=1,
    )


def parse_retry_after(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds to wait per ``retry-after-ms`` or ``Retry-After`` (seconds or HTTP-date), else None.

    Args:
        headers: response headers (case-insensitive mappings such as httpx's, or lower-case keys).
        now: the current Unix time, to turn an HTTP-date into a delay.
    """
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(float(millis) / 1000.0, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        return max(parsedate_to_datetime(value).timestamp() - now, 0.0)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class Backoff:
    """Bounded exponential backoff with jitter; a server's ``Retry-After`` wins when it sends one.

    The n-th retry waits ``min(max_s, base_s * 2**n)`` scaled by a random factor in [0.5, 1]
    ("equal jitter"), so eight xdist workers hit by one 429 do not come back in lockstep. A
    ``Retry-After`` longer than ``max_wait_s`` (a daily quota, say) ends the retries at once.
    """

    base_s: float = 1.0
    """The first wait before jitter."""
    max_s: float = 30.0
    """The cap on one computed wait."""
    max_wait_s: float = 120.0
    """The longest ``Retry-After`` worth waiting for."""

    def delay(self, retry: int, rng: random.Random, retry_after: float | None) -> float:
        """The wait before retry number ``retry`` (0-based)."""
        if retry_after is not None:
            return retry_after
        return min(self.max_s, self.base_s * 2.0**retry) * (0.5 + 0.5 * rng.random())
