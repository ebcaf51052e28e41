"""A function for the adapter's tests only: `options.mode` picks what `run` does.

Served exactly like the real four: `python -m functions_framework --target
main --source tests/functions_echo/main.py`, with the env the test sets.
"""

import sys

import functions_framework

from shared import adapter, events
from shared.config import Settings
from shared.errors import InvalidInput, Unavailable

SETTINGS = Settings.from_env()
TYPES = frozenset({events.COLLECT_VERIFY, events.COLLECT, events.COST_RECORD})


def run(event_type: str, data: dict, ctx: adapter.Context) -> dict | None:
    opts = data.get("options") or {}
    mode = opts.get("mode", "echo")
    if mode == "none":
        return None
    if mode == "invalid":
        raise InvalidInput("bad options", ["options.mode: is not served", "options.x: nope"])
    if mode == "unavailable":
        raise Unavailable("Prism Central is unavailable")
    if mode == "crash":
        raise RuntimeError("boom: an unexpected failure")
    if mode == "leak":  # a careless job echoing its whole request
        return {"copy": data}
    if mode == "leak_value":
        return {"note": f"logged in as {data['secret_data']['password']}"}
    if mode == "store":
        key = f"echo/{ctx.event_id}.json"
        ctx.store.put_json(key, {"stored": True})
        return {"url": ctx.store.url(key)}
    return {"type": event_type, "event_id": ctx.event_id, "source": ctx.attributes["source"],
            "payload": opts.get("payload"), "boto3_loaded": "boto3" in sys.modules}


@functions_framework.http
def main(request):
    return adapter.handle(request, run, SETTINGS, types=TYPES)
