"""A small JSON Schema subset: the schemas we publish are the ones we check.

`init` publishes options/secret/channel schemas as JSON Schema for the
console; the same dicts validate what arrives. jsonschema is not a runtime
dependency (cold start), so this covers only what our schemas use: type
(incl. lists of types), properties, required, additionalProperties (false),
items, enum, minimum/maximum, minLength, pattern, minItems.
Every problem is reported, each with its path.
"""

from __future__ import annotations

import re
from typing import Any

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list, tuple),
    "string": (str,),
    "boolean": (bool,),
    "integer": (int, float),  # Struct numbers arrive as floats; integrality checked below
    "number": (int, float),
    "null": (type(None),),
}


def _type_ok(value: Any, name: str) -> bool:
    if name in ("integer", "number") and isinstance(value, bool):
        return False
    if not isinstance(value, _TYPES[name]):
        return False
    return name != "integer" or float(value).is_integer()


def problems(schema: dict, value: Any, path: str = "") -> list[str]:
    """Every way `value` breaks `schema`, as 'path: reason' strings."""
    where = path or "(root)"
    found: list[str] = []
    expected = schema.get("type")
    if expected is not None:
        names = [expected] if isinstance(expected, str) else list(expected)
        if not any(_type_ok(value, n) for n in names):
            return [f"{where}: must be {' or '.join(names)}"]
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"{where}: must be one of {', '.join(map(str, schema['enum']))}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            found.append(f"{where}: must be >= {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            found.append(f"{where}: must be <= {schema['maximum']}")
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            found.append(f"{where}: must be > {schema['exclusiveMinimum']}")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            found.append(f"{where}: must not be empty" if schema["minLength"] == 1
                         else f"{where}: too short")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            found.append(f"{where}: has the wrong format")
    if isinstance(value, (list, tuple)):
        if len(value) < schema.get("minItems", 0):
            found.append(f"{where}: needs at least {schema['minItems']} item(s)")
        if "items" in schema:
            for i, item in enumerate(value):
                found += problems(schema["items"], item, f"{path}[{i}]")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in value or value[key] in (None, ""):
                found.append(f"{_join(path, key)}: is required")
        for key, item in value.items():
            if key in props:
                if item is None and key not in schema.get("required", []):
                    continue
                found += problems(props[key], item, _join(path, key))
            elif schema.get("additionalProperties") is False:
                found.append(f"{_join(path, key)}: is not a known field")
            elif isinstance(schema.get("additionalProperties"), dict):
                found += problems(schema["additionalProperties"], item, _join(path, key))
    return found


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def with_defaults(schema: dict, value: dict) -> dict:
    """A copy of `value` with the schema's top-level defaults filled in."""
    out = dict(value)
    for key, prop in schema.get("properties", {}).items():
        if key not in out and "default" in prop:
            out[key] = prop["default"]
    return out
