"""Retries in one place: full-jitter exponential backoff within a deadline.

Only this module sleeps. Whatever is retried signals it by raising a
`PluginError` whose `retryable` is true (Prism 429/5xx/resets, receivers'
timeouts/429/5xx/SMTP 4xx); `retry_after` (seconds), when the error has one,
is a floor for the wait. Clock, sleep and randomness are parameters so that
tests run instantly.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from shared.errors import PluginError

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    base_s: float = 0.5
    cap_s: float = 10.0
    deadline_s: float = 60.0


def call_with_retry(send: Callable[[], T], policy: RetryPolicy, *,
                    clock: Callable[[], float] = time.monotonic,
                    sleep: Callable[[float], None] = time.sleep,
                    rand: Callable[[], float] = random.random,
                    on_retry: Callable[[PluginError, float], None] | None = None) -> T:
    """Call `send` until it succeeds, fails for good, or the policy runs out."""
    give_up_at = clock() + policy.deadline_s
    for attempt in range(policy.attempts):
        try:
            return send()
        except PluginError as err:
            backoff = rand() * min(policy.cap_s, policy.base_s * 2**attempt)
            delay = max(backoff, getattr(err, "retry_after", None) or 0.0)
            last = attempt + 1 == policy.attempts
            if not err.retryable or last or clock() + delay > give_up_at:
                raise
            log.info("retrying after %s", type(err).__name__,
                     extra={"attempt": attempt + 1, "elapsed_ms": int(delay * 1000)})
            if on_retry is not None:
                on_retry(err, delay)
            sleep(delay)
    raise AssertionError("unreachable")  # attempts >= 1
