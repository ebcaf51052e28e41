"""Pages are iterators; concurrency is a window.

This module owns page arithmetic and the bounded window that fetches pages
concurrently and yields them in order. It knows nothing about HTTP or Prism's
envelopes: `client.py` passes a `fetch(number) -> Page` that does the request
and parsing (in the worker thread, so parsing overlaps the other requests'
latency). Pages are computed from the advertised total, never from `next`
links, whose host may be wrong (spec nutanix/v4.md section 2).
"""

from __future__ import annotations

import contextvars
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

from shared.errors import BadResponse

T = TypeVar("T")
# Pages queued per worker. With 1, a page that finished out of order left its
# worker idle until the oldest page was done; with 2 a free worker takes the
# next page at once (requests in flight stay <= workers; bench_client lists
# 20,000 VMs ~10% faster). Memory: up to 2 x workers pages.
LOOKAHEAD = 2


@dataclass(frozen=True)
class Page(Generic[T]):
    number: int  # 0-based
    items: list[T]
    total: int  # what this page's envelope advertised
    received: int | None = None  # items in the answer, before unreadable ones were dropped

    @property
    def count(self) -> int:
        return len(self.items) if self.received is None else self.received


def page_count(total: int, size: int) -> int:
    """Pages needed for `total` items at `size` per page; 0 for an empty list."""
    return -(-max(total, 0) // size)


def check_page(page: Page, size: int, what: str) -> None:
    """An empty page before the advertised total would loop or lose items: refuse it."""
    if page.count or page.number * size >= page.total:
        return
    raise BadResponse(f"{what}: page {page.number} came back empty although "
                      f"{page.total} items were advertised")


def iter_pages(fetch: Callable[[int], Page[T]], first: Page[T], pages: int,
               workers: int) -> Iterator[Page[T]]:
    """Yield `first`, then pages 1..pages-1 in order, at most `workers` requests in flight.

    The window, not the inventory, bounds memory: LOOKAHEAD x workers x page size.
    """
    yield first
    yield from iter_window(fetch, range(1, pages), workers)


def iter_window(fetch: Callable[[int], Page[T]], numbers: Iterable[int],
                workers: int) -> Iterator[Page[T]]:
    """Fetch the given page numbers concurrently and yield them in order.

    At most `workers` requests are in flight and LOOKAHEAD x workers pages
    queued or held. Worker threads run in a copy of the caller's context, so their log lines
    keep the event id.
    """
    numbers = iter(numbers)
    first = next(numbers, None)
    if first is None:
        return
    pool = ThreadPoolExecutor(max(1, workers), thread_name_prefix="prism-page")
    window: deque[Future[Page[T]]] = deque()

    def submit(number: int) -> None:
        window.append(pool.submit(contextvars.copy_context().run, fetch, number))

    try:
        submit(first)
        for number in numbers:
            submit(number)
            if len(window) >= LOOKAHEAD * workers:
                yield window.popleft().result()
        while window:
            yield window.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # the consumer stopped early or failed
