"""One message model for both CloudForet notification protocols, and its parser.

CloudForet dispatches the same content in two shapes (spec cloudforet/
notification.md section 4, alert_manager.md section 2):

- `notification.plugin`: `message` is a free Struct (title, description,
  short_description, link, image_url, tags, callbacks, occurred_at,
  domain_name, content_type, contents) and `notification_type` numbers
  NONE=0, INFO=1, ERROR=2, SUCCESS=3, WARNING=4;
- `alert_manager.plugin`: a typed NotificationMessage (no domain_name,
  content_type, contents, short_description) and numbers NONE=0, ERROR=1,
  WARNING=2, SUCCESS=3, INFO=4.

Both arrive here as plain dicts (enum names, or numbers read per family).
Links that are not http(s) are dropped rather than rendered: a `javascript:`
href in an e-mail or a bad Slack button URL would otherwise do harm or get
the whole notification refused. Owns no I/O and no rendering.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from shared.errors import InvalidInput

log = logging.getLogger(__name__)

NOTIFICATION_TYPES = ("INFO", "WARNING", "ERROR", "SUCCESS")
FAMILIES = ("notification", "alert_manager_notification")  # functions/plugin family names
CONTENT_TYPES = ("HTML", "MARKDOWN")

# enum numbers per family (protocols.md); NONE means CloudForet's default, INFO
_NUMBERS = {
    "notification": {0: "INFO", 1: "INFO", 2: "ERROR", 3: "SUCCESS", 4: "WARNING"},
    "alert_manager_notification": {0: "INFO", 1: "ERROR", 2: "WARNING", 3: "SUCCESS",
                                   4: "INFO"},
}
_TEXT_FIELDS = ("title", "description", "short_description", "link", "image_url",
                "occurred_at", "domain_name", "content_type", "contents")
_URL_FIELDS = ("link", "image_url")


@dataclass(frozen=True)
class Tag:
    key: str
    value: str
    short: bool = False  # CloudForet's `options.short`: fits half a line


@dataclass(frozen=True)
class Callback:
    label: str
    url: str


@dataclass(frozen=True)
class Message:
    title: str
    notification_type: str = "INFO"
    description: str = ""
    short_description: str = ""
    link: str = ""
    image_url: str = ""
    occurred_at: str = ""
    domain_name: str = ""
    content_type: str = ""  # "", HTML or MARKDOWN: how `contents` is written
    contents: str = ""
    tags: tuple[Tag, ...] = ()
    callbacks: tuple[Callback, ...] = ()

    @property
    def idempotency_key(self) -> str:
        """A hash of every field, so CloudForet's up-to-three dispatches share one key.

        The same alert notified again later with identical content (no
        `occurred_at`) shares the key too; receivers that de-duplicate by it
        (SNS FIFO within 5 minutes, mail stores by Message-ID) drop that repeat.
        """
        stable = {name: getattr(self, name) for name in ("notification_type", *_TEXT_FIELDS)}
        stable["tags"] = [[t.key, t.value] for t in self.tags]
        stable["callbacks"] = [[c.label, c.url] for c in self.callbacks]
        blob = json.dumps(stable, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


def parse_dispatch(request: dict, *, family: str = "notification") -> Message:
    """A Message from a whole DispatchRequest dict (`message` + `notification_type`)."""
    if not isinstance(request, dict):
        raise InvalidInput("invalid dispatch request", ["(root): must be object"])
    return parse_message(request.get("message"), request.get("notification_type"),
                         family=family)


def parse_message(message: Any, notification_type: Any = None, *,
                  family: str = "notification") -> Message:
    """The Message, or InvalidInput listing every problem of the received dict."""
    if family not in _NUMBERS:
        raise ValueError(f"unknown family {family!r}")
    problems: list[str] = []
    kind = _notification_type(notification_type, family, problems)
    if not isinstance(message, dict):
        raise InvalidInput("invalid message", [*problems, "message: must be object"])
    fields = {name: _text(message, name, problems) for name in _TEXT_FIELDS}
    if not fields["occurred_at"]:
        fields["occurred_at"] = _text(message, "occured_at", problems)  # CloudForet's typo
    if not fields["title"].strip():
        problems.append("message.title: is required")
    content_type = fields["content_type"].upper()
    if content_type and content_type not in CONTENT_TYPES:
        problems.append(f"message.content_type: must be one of {', '.join(CONTENT_TYPES)}")
    fields["content_type"] = content_type
    for name in _URL_FIELDS:
        fields[name] = _safe_url(fields[name], f"message.{name}")
    tags = _tags(message.get("tags"), problems)
    callbacks = _callbacks(message.get("callbacks"), problems)
    if problems:
        raise InvalidInput("invalid message", problems)
    return Message(notification_type=kind, tags=tags, callbacks=callbacks, **fields)


def _notification_type(value: Any, family: str, problems: list[str]) -> str:
    if value is None or value == "":
        return "INFO"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if float(value).is_integer() and int(value) in _NUMBERS[family]:
            return _NUMBERS[family][int(value)]
    elif isinstance(value, str):
        name = value.strip().upper()
        if name in NOTIFICATION_TYPES:
            return name
        if name in ("NONE", "NOTIFICATION_TYPE_NONE"):
            return "INFO"
    problems.append(f"notification_type: must be one of {', '.join(NOTIFICATION_TYPES)}")
    return "INFO"


def _scalar(value: Any) -> str | None:
    """Struct numbers arrive as floats: 42.0 reads as "42"."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (str, int, float)):
        return str(value)
    return None


def _text(message: dict, name: str, problems: list[str]) -> str:
    text = _scalar(message.get(name))
    if text is None:
        problems.append(f"message.{name}: must be string")
        return ""
    return text


def _safe_url(url: str, where: str) -> str:
    url = url.strip()
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme.lower() in ("http", "https") and parts.netloc:
        return url
    log.warning("dropped %s: not an http(s) URL", where)
    return ""


def _items(value: Any, name: str, problems: list[str]) -> list[tuple[str, dict]]:
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        problems.append(f"message.{name}: must be array")
        return []
    items = []
    for i, item in enumerate(value):
        if isinstance(item, dict):
            items.append((f"message.{name}[{i}]", item))
        else:
            problems.append(f"message.{name}[{i}]: must be object")
    return items


def _tags(value: Any, problems: list[str]) -> tuple[Tag, ...]:
    tags = []
    for where, item in _items(value, "tags", problems):
        key, text = _scalar(item.get("key")), _scalar(item.get("value"))
        if not key:
            problems.append(f"{where}.key: is required")
        if text is None:
            problems.append(f"{where}.value: must be string")
        options = item.get("options") if isinstance(item.get("options"), dict) else {}
        if key and text is not None:
            tags.append(Tag(key, text, bool(options.get("short", False))))
    return tuple(tags)


def _callbacks(value: Any, problems: list[str]) -> tuple[Callback, ...]:
    callbacks = []
    for where, item in _items(value, "callbacks", problems):
        label, url = _scalar(item.get("label")), _scalar(item.get("url"))
        if not label:
            problems.append(f"{where}.label: is required")
        if not url:
            problems.append(f"{where}.url: is required")
        url = _safe_url(url or "", f"{where}.url")
        if label and url:
            callbacks.append(Callback(label, url))
    return tuple(callbacks)
