"""Builders for CloudForet's dynamic layout, search and widget dicts.

Owns the *shapes* the console renders (spec cloudforet/inventory.md section 10,
the collector SDK's `model/field.py` and AWS `libs/schema/dynamic_*.py`);
what each Nutanix type shows lives in `cloud_service_types.py`. Every builder
returns a fresh plain dict, so callers may serialize it straight away.

Field keys are dotted paths into the cloud service (`data.cluster.name`,
`ip_addresses`); inside a layout with `root_path` they are relative to one
item of that list (`size_bytes`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

# Colors the console accepts (SDK field.py BACKGROUND_COLORS), by meaning.
GREEN, GRAY, YELLOW, RED, BLUE = "green.500", "gray.400", "yellow.500", "red.500", "blue.500"
INDIGO, CORAL, PEACOCK, VIOLET = "indigo.500", "coral.600", "peacock.500", "violet.500"


def _field(kind: str, name: str, key: str, options: dict | None, optional: bool) -> dict:
    out: dict = {"key": key, "name": name, "type": kind}
    opts = dict(options or {})
    if optional:
        opts["is_optional"] = True  # hidden until the user picks the column
    if opts:
        out["options"] = opts
    return out


def text(name: str, key: str, *, optional: bool = False) -> dict:
    return _field("text", name, key, None, optional)


def size(name: str, key: str, *, display_unit: str = "GB", optional: bool = False) -> dict:
    """A byte count shown in `display_unit` (the console converts, 1024-based)."""
    opts = {"source_unit": "BYTES", "display_unit": display_unit}
    return _field("size", name, key, opts, optional)


def date_time(name: str, key: str, *, optional: bool = False) -> dict:
    opts = {"source_type": "iso8601", "display_format": "YYYY-MM-DD HH:mm:ss"}
    return _field("datetime", name, key, opts, optional)


def listing(name: str, key: str, *, sub_key: str | None = None, optional: bool = False) -> dict:
    """A list of strings, or of dicts shown by `sub_key`, joined on one line."""
    opts = {"delimiter": ", "}
    if sub_key:
        opts["sub_key"] = sub_key
    return _field("list", name, key, opts, optional)


def state_enum(name: str, key: str, colors: Mapping[str, str], *, optional: bool = False) -> dict:
    """Value -> colored dot (power state, health)."""
    opts = {
        value: {"type": "state", "options": {"icon": {"color": color}}}
        for value, color in colors.items()
    }
    return _field("enum", name, key, opts, optional)


def badge_enum(name: str, key: str, colors: Mapping[str, str], *, optional: bool = False) -> dict:
    """Value -> colored badge (types, flags)."""
    opts = {
        value: {"type": "badge", "options": {"background_color": color}}
        for value, color in colors.items()
    }
    return _field("enum", name, key, opts, optional)


def search(
    name: str, key: str, *, data_type: str | None = None, enums: Mapping[str, str] | None = None
) -> dict:
    """One search key; `enums` maps a stored value to the label users pick."""
    out: dict = {"key": key, "name": name}
    if data_type:
        out["data_type"] = data_type
    if enums:
        out["enums"] = {value: {"label": label} for value, label in enums.items()}
    return out


def main_table(fields: Iterable[dict], *, sort_key: str = "name") -> dict:
    """The type's list page (`view.table.layout`)."""
    return {
        "name": "Main Table",
        "type": "query-search-table",
        "options": {"default_sort": {"key": sort_key, "desc": False}, "fields": list(fields)},
    }


def item(name: str, fields: Iterable[dict]) -> dict:
    """A detail tab of label/value rows; keys are full paths."""
    return {"name": name, "type": "item", "options": {"fields": list(fields)}}


def table(name: str, root_path: str, fields: Iterable[dict]) -> dict:
    """A detail tab listing `root_path`; field keys are relative to one item."""
    return {
        "name": name,
        "type": "table",
        "options": {"root_path": root_path, "fields": list(fields)},
    }


def _scope(group: str, type_: str, provider: str) -> list[dict]:
    # AWS widgets pin provider/group/type the same way (dynamic_widget.py).
    return [
        {"key": "provider", "value": provider, "operator": "eq"},
        {"key": "cloud_service_group", "value": group, "operator": "eq"},
        {"key": "cloud_service_type", "value": type_, "operator": "eq"},
    ]


def _value_field(sum_key: str | None) -> dict:
    if sum_key is None:
        return {"name": "value", "operator": "count"}
    return {"name": "value", "key": sum_key, "operator": "sum"}


def card(name: str, scope: tuple[str, str, str], *, sum_key: str | None = None) -> dict:
    """A number card: how many resources, or the sum of `sum_key` over them."""
    group, type_, provider = scope
    return {
        "name": name,
        "type": "card",
        "query": {
            "aggregate": [{"group": {"fields": [_value_field(sum_key)]}}],
            "filter": _scope(group, type_, provider),
        },
        "options": {"value_options": {"key": "value", "options": {"default": 0}}},
    }


def chart(
    name: str,
    scope: tuple[str, str, str],
    by_key: str,
    *,
    sum_key: str | None = None,
    chart_type: str = "COLUMN",
) -> dict:
    """Resources (or the sum of `sum_key`) grouped by `by_key`."""
    group, type_, provider = scope
    aggregate = {
        "group": {"keys": [{"key": by_key, "name": "name"}], "fields": [_value_field(sum_key)]}
    }
    return {
        "name": name,
        "type": "chart",
        "query": {"aggregate": [aggregate], "filter": _scope(group, type_, provider)},
        "options": {"chart_type": chart_type, "name_options": {"key": "name"}},
    }


def type_metadata(
    *,
    table_fields: Iterable[dict],
    search_keys: Iterable[dict],
    tabs: Iterable[dict],
    widgets: Iterable[dict],
) -> dict:
    """Everything the console reads from a cloud service type (`view.*`)."""
    return {
        "view": {
            "table": {"layout": main_table(table_fields)},
            "search": list(search_keys),
            "sub_data": {"layouts": list(tabs)},
            "widget": list(widgets),
        }
    }


def service_metadata(provider: str, group: str, type_: str) -> dict:
    """A cloud service's own metadata: only a pointer to its type's tabs.

    As the collector SDK does (`lib/metadata.py`): tabs live once on the type;
    repeating them here would show every tab twice on the detail page.
    """
    return {
        "view": {
            "sub_data": {
                "reference": {
                    "resource_type": "inventory.CloudServiceType",
                    "options": {
                        "provider": provider,
                        "cloud_service_group": group,
                        "cloud_service_type": type_,
                    },
                }
            }
        }
    }
