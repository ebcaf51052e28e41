"""The one Prism Central client: `PrismClient` over a `Connection`.

Exports are loaded on first use (PEP 562), so that importing
`shared.prism.models` or a kind parser (as `shared/mapping` does) never pulls
in the HTTP client.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shared.prism.client import KindPlan, PrismClient
    from shared.prism.connection import Connection
    from shared.prism.detect import ApiInfo

__all__ = ["ApiInfo", "Connection", "KindPlan", "PrismClient"]

_WHERE = {"PrismClient": "client", "KindPlan": "client", "Connection": "connection",
          "ApiInfo": "detect"}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{module}"), name)
