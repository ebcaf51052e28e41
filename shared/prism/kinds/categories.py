"""Categories: where they live in v4 and v3, and the parsers to `CategoryValue`.

v4 `GET prism/v4.0/config/categories` lists one object per key=value pair,
each with the `extId` VMs reference it by (spec nutanix/v4.md section 6).

v3 lists in two steps (spec nutanix/v3.md section 3), so a client expands keys
into pairs itself:

1. `POST categories/list` (`SPEC.v3_path`) answers key entities
   `{name, description, system_defined}`; `SPEC.from_v3` (`key_from_v3`)
   returns the key name of one entity;
2. for each key, `POST values_path_v3(key)` (`categories/{key}/list`) answers
   value entities `{value, description, system_defined}`;
   `values_from_v3(key, body)` turns that whole answer into `CategoryValue`s.

v3 pairs have no ext_id (v3 VMs carry key/value names, not ids) and v3 knows
only `system_defined`, read as type SYSTEM or USER.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from shared.errors import BadResponse
from shared.prism.kinds import KindSpec, ParseContext
from shared.prism.kinds._values import require_id, require_object, text
from shared.prism.kinds.envelope import v3_items
from shared.prism.models import Category, CategoryValue

_NO_CONTEXT = ParseContext()


def from_v4(item: Any, ctx: ParseContext = _NO_CONTEXT) -> CategoryValue:
    item = require_object(item, "category item")
    ext_id = require_id(item.get("extId"), "category item")
    key, value = text(item.get("key")), text(item.get("value"))
    if key is None or value is None:
        raise BadResponse("category item has no key or value")
    return CategoryValue(
        ext_id=ext_id,
        key=key,
        value=value,
        type=text(item.get("type")),
        description=text(item.get("description")),
        raw=item,
    )


def key_from_v3(entity: Any, ctx: ParseContext = _NO_CONTEXT) -> str:
    """The key name of one `categories/list` entity: step 1 of the v3 expansion."""
    entity = require_object(entity, "category key entity")
    return require_id(entity.get("name"), "category key entity")


def values_path_v3(key: str) -> str:
    """Step 2's list path; keys may hold spaces or slashes, so the key is escaped."""
    return f"categories/{quote(key, safe='')}/list"


def value_from_v3(key: str, entity: Any) -> CategoryValue:
    """One value entity of `categories/{key}/list`; `key` is the key that was asked for."""
    entity = require_object(entity, "category value entity")
    value = text(entity.get("value"))
    if value is None:
        raise BadResponse("category value entity has no value")
    system = entity.get("system_defined")
    return CategoryValue(
        ext_id=None,
        key=key,
        value=value,
        type=("SYSTEM" if system else "USER") if isinstance(system, bool) else None,
        description=text(entity.get("description")),
        raw=entity,
    )


def values_from_v3(key: str, payload: Any) -> list[CategoryValue]:
    """Every pair of one key from a `categories/{key}/list` answer."""
    return [value_from_v3(key, entity) for entity in v3_items(payload)]


def by_ext_id(values: Iterable[CategoryValue]) -> dict[str, Category]:
    """The `ParseContext.categories` map a client builds from the v4 list."""
    return {v.ext_id: (v.key, v.value) for v in values if v.ext_id}


SPEC = KindSpec(
    name="categories",
    v4_namespace="prism",
    v4_version="v4.0",
    v4_path="config/categories",
    v3_kind="category",
    from_v4=from_v4,
    from_v3=key_from_v3,
    v3_list_path="categories/list",
)
