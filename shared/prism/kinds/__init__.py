"""One module per Prism kind: where it lives in v4 and v3, and pure parsers.

A kind module holds no I/O. It exports `SPEC: KindSpec`; the client
(`shared/prism/client.py`) pages the routes named here and hands each item to
the parser, so every kind yields the same normalized model from either API.

Parsers raise `shared.errors.BadResponse` for an item that is not an object or
lacks its identifier; every other field is optional (Prism omits empty fields).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.fastjson import TypedPage
from shared.prism.models import Category


@dataclass(frozen=True)
class ParseContext:
    """What a parser may need beyond the item itself.

    categories: v4 category ext_id -> (key, value), for VM category refs.
    """

    categories: Mapping[str, Category] = field(default_factory=dict)


@dataclass(frozen=True)
class KindSpec:
    name: str  # "vms", "clusters", ... (the word used in options and logs)
    v4_namespace: str | None  # "vmm"; None when v4 has no GA route (projects)
    v4_version: str | None  # "v4.0"
    v4_path: str | None  # path after /api/<ns>/<version>/, e.g. "ahv/config/vms"
    v3_kind: str | None  # v3 list kind, e.g. "vm" -> POST /api/nutanix/v3/vms/list
    from_v4: Callable[[dict, ParseContext], Any] | None
    from_v3: Callable[[dict, ParseContext], Any] | None
    v3_list_path: str | None = None  # override, e.g. "projects/list"; default f"{v3_kind}s/list"
    needs_categories: bool = False  # v4 parser resolves category refs via ParseContext
    # For kinds listed by the thousand, the fields the parser reads: a v4 list
    # asks for just these (`$select`), and pages are decoded for just these,
    # straight into typed items (`shared.fastjson.TypedPage`). None: whole items.
    v4_fields: TypedPage | None = None
    v3_fields: TypedPage | None = None

    @property
    def v3_path(self) -> str | None:
        if self.v3_kind is None:
            return None
        return self.v3_list_path or f"{self.v3_kind}s/list"
