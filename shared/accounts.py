"""What the collect function runs for identity's AccountCollector.sync: Prism as accounts.

One Prism Central becomes a set of CloudForet service accounts: its AOS
clusters (default, `account_by: cluster`) or its Nutanix projects
(`account_by: project`, the same words as the cost data source, whose linked
accounts are these ext_ids). Each `AccountInfo` (spec cloudforet/identity.md
section 2) carries:

    name         the cluster or project name (project and service account name)
    resource_id  its ext_id: the match key on later syncs
    location     [Prism Central]: at DOMAIN level it becomes the workspace, at
                 WORKSPACE level a project group (an empty location at DOMAIN
                 level would skip the account)
    data         prism_central, prism_central_ext_id, account_by, ext_id, and
                 the cluster's AOS version or the project's description/default
    tags         prism_central, account_by
    secret_schema_id, only with `include_secret`: the plugin endpoint then adds
                 `secret_data`, the very Prism secret_data this sync received

The secret. With `include_secret`, each service account gets the Prism
Central credentials the account collector was given, so CloudForet can
collect it (inventory, cost, metrics) with the account's own secret. The
credentials never pass through this reply (`shared/events.py` refuses a
reply carrying them): the plugin endpoint, which holds the request, attaches
them to every account that names a `secret_schema_id`.

identity sets `data` and `tags` at creation only and never deletes accounts.
"""

from __future__ import annotations

from typing import Any

from shared import events, options, prism  # prism's client loads on first use (plugin imports us)
from shared.prism.models import Cluster, Project

ACCOUNT_BY = ("cluster", "project")
# identity validates an account's secret_data against a TRUSTING_SECRET schema (identity.md 3)
TRUSTING_SCHEMA_ID = "nutanix-prism-central-trusting-credentials"
OPTIONS_SCHEMA: dict = {
    "type": "object",
    "properties": {
        "account_by": {"type": "string", "enum": list(ACCOUNT_BY), "default": "cluster",
                       "title": "Service accounts are Prism clusters or Nutanix projects"},
        "include_secret": {
            "type": "boolean", "default": False,
            "title": "Give each service account the Prism Central secret it is collected with"},
        "secret_schema_id": {
            "type": "string", "minLength": 1, "default": TRUSTING_SCHEMA_ID,
            "title": "TRUSTING_SECRET schema of the account secrets"},
    },
}


def metadata() -> dict:
    """`AccountCollector.init` metadata: identity reads none; the console shows the form."""
    return {"options_schema": OPTIONS_SCHEMA, "additional_options_schema": OPTIONS_SCHEMA}


def to_account(item: Cluster | Project, pc: dict, opts: dict) -> dict:
    """One `AccountInfo` dict (pure); `pc` is {name, ext_id, address} of Prism Central."""
    account_by = "project" if isinstance(item, Project) else "cluster"
    data: dict[str, Any] = {"prism_central": pc["address"],
                            "prism_central_ext_id": pc["ext_id"],
                            "account_by": account_by, "ext_id": item.ext_id}
    if isinstance(item, Project):
        data.update(description=item.description or "", is_default=item.is_default)
    else:
        data.update(aos_version=item.version or "", external_ip=item.external_ip or "")
    account = {"name": item.name or item.ext_id, "resource_id": item.ext_id, "data": data,
               "tags": {"prism_central": pc["name"], "account_by": account_by},
               "location": [{"name": pc["name"], "resource_id": pc["ext_id"]}]}
    if opts["include_secret"]:
        account["secret_schema_id"] = opts["secret_schema_id"]
    return account


def sync(data: dict, ctx: Any) -> dict:
    """Every cluster (the PC pseudo-cluster left out) or project, in one reply."""
    opts = options.check(OPTIONS_SCHEMA, data.get("options"), "options")
    conn = prism.Connection.from_secret(data.get("secret_data") or {}, {})
    with prism.PrismClient(conn) as client:
        clusters = list(client.iter_clusters())
        items: list = list(client.iter_projects()) if opts["account_by"] == "project" \
            else [c for c in clusters if not c.is_prism_central]
    central = next((c for c in clusters if c.is_prism_central), None)
    pc = {"address": conn.host, "name": central.name if central else conn.host,
          "ext_id": central.ext_id if central else conn.host}
    return {"results": [to_account(item, pc, opts) for item in items]}


HANDLERS = {events.ACCOUNT_SYNC: sync}
