"""Prism's answer envelopes: list items, totals, and Prism's own error message.

Pure readers of decoded JSON (spec nutanix/README.md section 3):

- v4 list `{"data": [...], "metadata": {"totalAvailableResults": N}}`; a page
  past the end may omit `data` (DataDog's pager stops on missing or empty);
  single GETs answer `{"data": {...}}`;
- v3 list `{"entities": [...], "metadata": {"total_matches": N}}`;
- errors: v4 `data.error` as a list of AppMessage or one SchemaValidationError,
  v3 `message_list[{message, reason, details}]`, and the plain
  `{"message": ...}` of a 404 for an unserved version.

`error_message` never raises: a body that is not one of these yields None and
the caller falls back to the HTTP status. The message is Prism's text; callers
clip it (`shared.errors.MAX_MESSAGE`).
"""

from __future__ import annotations

import json
from typing import Any

from shared.errors import BadResponse
from shared.prism.kinds._values import dig, integer, objs, text


def v4_items(body: Any) -> list:
    if not isinstance(body, dict):
        raise BadResponse("v4 answer is not a JSON object")
    data = body.get("data")
    if data is None:
        return []
    if not isinstance(data, list):
        raise BadResponse("v4 list answer has no data array")
    return data


def v4_item(body: Any) -> dict:
    """The object of a single GET (`{"data": {...}}`)."""
    data = dig(body, "data")
    if not isinstance(data, dict):
        raise BadResponse("v4 answer has no data object")
    return data


def v4_total(body: Any) -> int | None:
    return _count(dig(body, "metadata", "totalAvailableResults"))


def v3_items(body: Any) -> list:
    if not isinstance(body, dict):
        raise BadResponse("v3 answer is not a JSON object")
    entities = body.get("entities")
    if entities is None:
        return []
    if not isinstance(entities, list):
        raise BadResponse("v3 list answer has no entities array")
    return entities


def v3_total(body: Any) -> int | None:
    return _count(dig(body, "metadata", "total_matches"))


def _count(value: Any) -> int | None:
    count = integer(value)
    return count if count is not None and count >= 0 else None


def error_message(body: Any) -> str | None:
    """Prism's own words from an error body (dict, JSON text or bytes), or None."""
    if isinstance(body, bytes | bytearray):
        body = body.decode("utf-8", errors="replace")
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return None
    if not isinstance(body, dict):
        return None
    for read in (_v4_message, _v3_message, _plain_message):
        message = read(body)
        if message:
            return message
    return None


def _v4_message(body: dict) -> str | None:
    error = dig(body, "data", "error")
    if isinstance(error, dict):  # SchemaValidationError, or a lone AppMessage
        details = [_join(text(m.get("attributePath")), text(m.get("message")))
                   for m in objs(error.get("validationErrorMessages"))]
        head = text(error.get("error")) or text(error.get("message"))
        return _join(head, "; ".join(d for d in details if d) or None)
    return _joined(_app_message(e) for e in objs(error))


def _app_message(error: dict) -> str | None:
    message, code = text(error.get("message")), text(error.get("code"))
    if message and code:
        return f"{message} ({code})"
    return message


def _v3_message(body: dict) -> str | None:
    return _joined(_v3_entry(m) for m in objs(body.get("message_list")))


def _v3_entry(entry: dict) -> str | None:
    # Only object details carry field errors (422); string details are header
    # echoes such as the 401 `Basic realm=...` (spec nutanix/v3.md section 5).
    details = entry.get("details")
    problems: list[str] = []
    if isinstance(details, dict):
        for path, found in details.items():
            for problem in found if isinstance(found, list) else [found]:
                joined = _join(text(path), text(problem))
                if joined:
                    problems.append(joined)
    message = text(entry.get("message")) or text(entry.get("reason"))
    if message and problems:
        return f"{message.strip()} ({'; '.join(problems)})"
    return message or ("; ".join(problems) or None)


def _plain_message(body: dict) -> str | None:
    return text(body.get("message"))


def _join(head: str | None, tail: str | None) -> str | None:
    if head and tail:
        return f"{head.strip()}: {tail.strip()}"
    return (head or tail or "").strip() or None


def _joined(messages) -> str | None:
    unique = dict.fromkeys(m.strip() for m in messages if m)
    return "; ".join(unique) or None
