"""JSON-lines logging for every process, with the current event id.

One formatter, one allowlist of extras: a log line can never carry a payload,
a header or secret_data by accident, because unknown extras are dropped.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time

event_id: contextvars.ContextVar[str] = contextvars.ContextVar("event_id", default="-")

ALLOWED_EXTRAS = ("kind", "page", "status", "attempt", "count", "elapsed_ms", "path", "family",
                  "channel", "url_host", "task", "api", "rpc")


class JsonFormatter(logging.Formatter):
    """`time, level, logger, msg, event_id` plus allowlisted extras only."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "event_id": event_id.get(),
        }
        for key in ALLOWED_EXTRAS:
            if key in record.__dict__:
                line[key] = record.__dict__[key]
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def setup(level: str = "INFO") -> None:
    """Install the JSON formatter on the root logger (idempotent)."""
    root = logging.getLogger()
    if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        root.setLevel(level)
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    logging.getLogger("botocore").setLevel(logging.WARNING)
