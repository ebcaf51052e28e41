"""Metrics for CloudForet's monitoring service: VM, host and cluster stats from Prism.

`catalogue` says which Prism stat each CloudForet metric reads and how its
unit is converted; `series` cuts a time range into the labels CloudForet
charts and lays Prism's points onto them (both pure: no I/O, no clock);
`run` is what the collect function serves (`metric.list.v1`,
`metric.data.v1`), one Prism request per resource in a bounded window.

`HANDLERS` is loaded on first use (PEP 562, as in `shared.prism`), so the
plugin endpoint can import the catalogue without the Prism client.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = ["HANDLERS"]


def __getattr__(name: str) -> Any:
    if name == "HANDLERS":
        return import_module(f"{__name__}.run").HANDLERS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
