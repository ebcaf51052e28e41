"""Time for metrics: CloudForet's range and period as Prism's interval, labels, values.

Prism's stats buckets are epoch-aligned: bucket T, a multiple of the
interval S, aggregates the samples in (T-S, T], and buckets in the future do
not exist (spec nutanix/v4.md section 7; the simulator keeps this). So the
labels of a request are the multiples of S in [start, min(end, now)]: the
same for every resource and for every chunk CloudForet sends (it keeps the
first chunk's labels for all, spec cloudforet/monitoring.md A.3). A resource
without a point in a bucket gets null there; points off the grid go to the
bucket that ends at or after them, combined with the same stat when several
land in one (Prism's own buckets land one each).

The interval. Prism accepts any multiple of its 30 s base sample; VMs sample
every 30 s, cluster and host stats exist at 120 s rollups (the practical
floor, spec nutanix/v4.md section 7). A period is rounded to the nearest
multiple of 30 s, not below the floor of the entity types asked. Without a
period, the range is cut into about DEFAULT_POINTS buckets of a round
length (the reference CloudWatch plugin keeps charts near 60 points). A request never asks more
than MAX_POINTS buckets: a finer period is coarsened to a round length
(Prism refuses too many samples with a 400).
"""

from __future__ import annotations

import base64
import math
import operator
import sys
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from itertools import repeat

from shared.errors import BadResponse, InvalidInput
from shared.metrics.catalogue import Metric

BASE_S = 30
FLOOR_S = {"vm": 30, "host": 120, "cluster": 120}
DEFAULT_POINTS = 60
MAX_POINTS = 10_000
ROUND_S = (30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
           172800, 604800)
LABEL_FORMAT = "%Y-%m-%dT%H:%M:%S.000Z"  # as CloudForet's own examples (metric.proto)
_AGGREGATE = {"AVG": lambda v: sum(v) / len(v), "MAX": max, "MIN": min, "SUM": sum}
_NAN = float("nan")


def parse_time(value: object, name: str) -> datetime:
    """ISO 8601 as CloudForet passes it through (`2025-06-21T03:00:00.000Z`); naive = UTC."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"invalid {name}", [f"{name} is required (ISO 8601)"])
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(f"invalid {name}", [f"{name} is not an ISO 8601 time"]) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _round_up(seconds: float) -> int:
    """The first round length >= seconds (a multiple of BASE_S past the table)."""
    for length in ROUND_S:
        if length >= seconds:
            return length
    return math.ceil(seconds / BASE_S) * BASE_S


def interval(span_s: float, period: int | None, floor_s: int) -> int:
    """Prism's `$samplingInterval` for a range, a CloudForet period (None: absent) and a floor."""
    if period:
        step = max(floor_s, (period + BASE_S // 2) // BASE_S * BASE_S)
    else:
        step = max(floor_s, _round_up(span_s / DEFAULT_POINTS))
    if span_s / step > MAX_POINTS:
        step = max(step, _round_up(span_s / MAX_POINTS))
    return step


@dataclass(frozen=True)
class Window:
    """The buckets one get_data answers: `count` multiples of `step_s` from `first_s`."""

    start: datetime
    end: datetime
    step_s: int
    first_s: int  # epoch seconds of the first label
    count: int
    _runs: dict = field(default_factory=dict, init=False, compare=False, repr=False)

    @cached_property
    def times(self) -> tuple[datetime, ...]:
        first = datetime.fromtimestamp(self.first_s, UTC)
        step = timedelta(seconds=self.step_s)
        return tuple(first + step * i for i in range(self.count))

    @cached_property
    def slots(self) -> dict[datetime, int]:
        """Bucket index by bucket time: where Prism's own points land, by one lookup."""
        return {moment: index for index, moment in enumerate(self.times)}

    @cached_property
    def labels(self) -> list[str]:
        """LABEL_FORMAT of each time; by isoformat (2.5x faster) where years have 4 digits."""
        if self.times and self.times[0].year >= 1000:  # strftime("%Y") does not pad
            return [moment.isoformat()[:19] + ".000Z" for moment in self.times]
        return [moment.strftime(LABEL_FORMAT) for moment in self.times]

    def run_start(self, times: tuple[datetime, ...]) -> int | None:
        """The first time's bucket when `times` are the buckets from there on, in order.

        One tuple comparison instead of a lookup per point, and remembered
        per tuple: the series of one call share theirs (`StatSeries.times`).
        """
        known = self._runs.get(id(times))
        if known is not None and known[0] is times:
            return known[1]
        start = self.slots.get(times[0]) if times else None
        if start is not None and times != self.times[start:start + len(times)]:
            start = None
        self._runs[id(times)] = (times, start)  # keeps `times`, so its id is not reused
        return start


def window(start: datetime, end: datetime, period: int | None, floor_s: int,
           now: datetime) -> Window:
    if start >= end:
        raise InvalidInput("invalid time range", ["start must be before end"])
    step = interval((end - start).total_seconds(), period, floor_s)
    first = math.ceil(start.timestamp() / step) * step
    last = math.floor(min(end, now).timestamp() / step) * step
    return Window(start, end, step, first, max(0, (last - first) // step + 1))


def align(times: Sequence[datetime], raws: Sequence[float], win: Window, metric: Metric,
          stat: str) -> list[float | None]:
    """Prism's points (two columns, as `StatSeries`) on the window's buckets, in our unit.

    Null where a bucket has none. Runs once per point of every series (a
    30-day, 5-minute chart of 100 VMs is 864,000 points). Prism answers a
    bucket per point, in order: such a run of consecutive buckets is
    converted and copied at once (`Window.run_start`); anything else takes
    the plain loop with local names.
    """
    times = tuple(times)
    values: list[float | None] = [None] * win.count
    start = win.run_start(times)
    if start is not None:
        values[start:start + len(times)] = _convert(raws, metric)
        return values
    extra: dict[int, list[float]] = {}
    first, step, count, slot = win.first_s, win.step_s, win.count, win.slots.get
    multiply, divide, digits = metric.multiply, metric.divide, metric.digits
    for moment, raw in zip(times, raws, strict=True):
        index = slot(moment)
        if index is None:  # off the grid
            index = math.ceil((moment.timestamp() - first) / step)
            if not 0 <= index < count:
                continue
        value = raw * multiply / divide
        if digits is not None:
            value = round(value, digits)
        if values[index] is None:
            values[index] = value
        else:
            extra.setdefault(index, []).append(value)
    combine = _AGGREGATE[stat]
    for index, more in extra.items():
        values[index] = combine([values[index], *more])
    return values


def _convert(raws: Iterable[float], metric: Metric) -> list[float]:
    """Prism's values in our unit: `raw * multiply / divide`, rounded to `digits`."""
    if metric.multiply != 1:  # x 1 changes no int or float
        raws = map(operator.mul, raws, repeat(metric.multiply))
    values = map(operator.truediv, raws, repeat(metric.divide))
    if metric.digits is not None:
        values = map(round, values, repeat(metric.digits))
    return list(values)


def pack(values: Sequence[float | None]) -> str:
    """Values as base64 of little-endian float64, NaN for null: the metric.data.v1 reply form.

    A 30-day, 5-minute chart of 100 VMs is 864,000 numbers: as JSON text they
    cost ~0.3 s to write here and as much to read in the plugin; packed, a
    few hundredths. JSON cannot carry NaN, so NaN is free to mean null.
    """
    try:
        packed = array("d", values)  # no null: no Python step per value
    except TypeError:  # a null
        packed = array("d", [_NAN if v is None else v for v in values])
    if sys.byteorder != "little":
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode("ascii")


def unpack(text: str) -> bytes:
    """`pack`'s bytes: little-endian float64, NaN for null."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (ValueError, TypeError):
        raise BadResponse("metric values are not packed float64") from None
    if len(raw) % 8:
        raise BadResponse("metric values are not packed float64")
    return raw
