"""The JSON Schemas of options and secret_data: published by `init`, checked on arrival.

One schema, both uses (STYLE section 6): the plugin endpoint puts these dicts
into init metadata (`options_schema`) for CloudForet's console, and the
functions validate what arrives against the very same dicts, reporting every
problem at once as `InvalidInput`.
"""

from __future__ import annotations

from shared.errors import InvalidInput
from shared.validation import problems, with_defaults

INVENTORY_KINDS = ("clusters", "hosts", "vms", "subnets", "images", "volume_groups",
                   "projects", "categories")

# secret_data of provider "nutanix" (the identity schema a CloudForet admin registers)
PRISM_SECRET_SCHEMA: dict = {
    "type": "object",
    "title": "Nutanix Prism Central",
    "required": ["host"],
    "properties": {
        "host": {"type": "string", "minLength": 1, "title": "Prism Central address",
                 "description": "IP address or FQDN, without https:// or port"},
        "port": {"type": "integer", "minimum": 1, "maximum": 65535, "default": 9440,
                 "title": "Port"},
        "username": {"type": "string", "title": "User name"},
        "password": {"type": "string", "title": "Password"},
        "api_key": {"type": "string", "title": "API key (service account)",
                    "description": "Sent as X-ntnx-api-key instead of user name/password"},
        "ca_pem": {"type": "string", "title": "CA certificate (PEM)",
                   "description": "Trust this CA for Prism Central's certificate"},
        "verify_tls": {"type": "boolean", "default": True, "title": "Verify TLS"},
    },
}

INVENTORY_OPTIONS_SCHEMA: dict = {
    "type": "object",
    "properties": {
        "kinds": {"type": "array", "title": "Kinds to collect",
                  "items": {"type": "string", "enum": list(INVENTORY_KINDS)},
                  "default": list(INVENTORY_KINDS)},
        "region_by": {"type": "string", "enum": ["cluster", "prism_central"],
                      "default": "cluster", "title": "Regions",
                      "description": "One region per Prism cluster, or one for the whole PC"},
        "api": {"type": "string", "enum": ["auto", "v4", "v3"], "default": "auto",
                "title": "Prism API", "description": "auto picks the fastest per kind"},
        "concurrency": {"type": "integer", "minimum": 1, "maximum": 32, "default": 8,
                        "title": "Concurrent Prism requests per function call"},
        "shard_size": {"type": "integer", "minimum": 100, "maximum": 20000, "default": 500,
                       "title": "Items per collect call"},
    },
}


def check(schema: dict, value: dict | None, what: str) -> dict:
    """`value` with defaults filled in, or InvalidInput naming every problem."""
    value = {} if value is None else value
    found = problems(schema, value)
    if found:
        raise InvalidInput(f"invalid {what}", found)
    return with_defaults(schema, value)
