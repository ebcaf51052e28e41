"""Pure renderers: one Message -> what each channel sends. No I/O, no clock.

Each renderer keeps its receiver's limits so the receiver never refuses the
whole notification for one long field: Slack Block Kit (header 150, section
3000, 10 fields a section, button text 75, URLs 3000, 25 buttons), Teams
(28 KB a card), SNS (subject under 100 ASCII characters, 256 KB a message).
Long text is clipped with an ellipsis; where only the total size is limited,
text is clipped harder until the rendering fits.

Severity is CloudForet's `notification_type` (INFO, WARNING, ERROR, SUCCESS).
"""

from __future__ import annotations

import html
import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from shared.notify.message import Message

T = TypeVar("T")

WEBHOOK_TYPE = "io.cloudforet.nutanix.notification.v1"
COLOURS = {"ERROR": "#E01E5A", "WARNING": "#ECB22E", "SUCCESS": "#2EB67D", "INFO": "#36C5F0"}
TEAMS_STYLES = {"ERROR": "attention", "WARNING": "warning", "SUCCESS": "good", "INFO": "accent"}
SNS_SUBJECT_MAX = 99  # AWS: "less than 100 characters"
SNS_MESSAGE_BYTES = 240_000  # SNS takes 256 KB with subject and attributes
TEAMS_CARD_BYTES = 27_000  # Teams refuses cards over 28 KB
TEXT_LIMITS = (20_000, 4_000, 1_000, 200)  # per text field, tried in turn until it fits
MAX_TAGS = 30
OPEN_LABEL = "Open"


def clip(text: str, limit: int | None) -> str:
    if limit is None or len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


def _json_bytes(value) -> int:
    return len(json.dumps(value, ensure_ascii=False).encode("utf-8"))


def _fitting(render_at: Callable[[int], T], size: Callable[[T], int], budget: int) -> T:
    """The rendering with the longest text limit whose size stays within `budget`."""
    for limit in TEXT_LIMITS:
        out = render_at(limit)
        if size(out) <= budget:
            break
    return out


def one_line(text: str) -> str:
    return " ".join(text.split())


def summary(msg: Message, limit: int | None = None) -> str:
    """The body text: description, else short_description, else Markdown contents."""
    if msg.description:
        return clip(msg.description, limit)
    if msg.short_description:
        return clip(msg.short_description, limit)
    return clip(msg.contents, limit) if msg.content_type == "MARKDOWN" else ""


def _context(msg: Message) -> str:
    return " · ".join(p for p in (msg.notification_type, msg.domain_name, msg.occurred_at) if p)


def _buttons(msg: Message) -> list[tuple[str, str]]:
    """(label, url) for the link and every callback, in that order."""
    buttons = [(OPEN_LABEL, msg.link)] if msg.link else []
    return buttons + [(c.label, c.url) for c in msg.callbacks]


# ---- generic webhook -------------------------------------------------------------------

def to_webhook(msg: Message, limit: int | None = None) -> dict:
    """The JSON body of a generic webhook: every field, always present.

    `limit` clips the long text fields (SNS needs it); the idempotency key
    stays the whole message's.
    """
    return {
        "type": WEBHOOK_TYPE,
        "idempotency_key": msg.idempotency_key,
        "notification_type": msg.notification_type,
        "title": msg.title,
        "description": clip(msg.description, limit),
        "short_description": clip(msg.short_description, limit),
        "link": msg.link,
        "image_url": msg.image_url,
        "occurred_at": msg.occurred_at,
        "domain_name": msg.domain_name,
        "content_type": msg.content_type,
        "contents": clip(msg.contents, limit),
        "tags": [{"key": t.key, "value": clip(t.value, limit), "short": t.short}
                 for t in msg.tags],
        "callbacks": [{"label": c.label, "url": c.url} for c in msg.callbacks],
    }


# ---- Slack -----------------------------------------------------------------------------

def slack_escape(text: str) -> str:
    """Slack's three control characters in mrkdwn (api.slack.com, formatting text)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _plain(text: str, limit: int) -> dict:
    return {"type": "plain_text", "text": clip(text, limit), "emoji": True}


def to_slack(msg: Message) -> dict:
    """Incoming-webhook body: the title as a header block, the rest in a coloured attachment.

    Top-level `text` is only the notification preview once `blocks` are given.
    """
    body: list[dict] = []
    text = summary(msg)
    if text:
        body.append({"type": "section",
                     "text": {"type": "mrkdwn", "text": clip(slack_escape(text), 3000)}})
    tags = msg.tags[:MAX_TAGS]
    for start in range(0, len(tags), 10):
        body.append({"type": "section", "fields": [
            {"type": "mrkdwn",
             "text": clip(f"*{slack_escape(t.key)}*\n{slack_escape(t.value)}", 2000)}
            for t in tags[start:start + 10]]})
    if msg.image_url and len(msg.image_url) <= 3000:
        body.append({"type": "image", "image_url": msg.image_url,
                     "alt_text": clip(msg.title, 2000)})
    body.append({"type": "context",
                 "elements": [{"type": "mrkdwn", "text": clip(slack_escape(_context(msg)), 3000)}]})
    buttons = [(label, url) for label, url in _buttons(msg) if len(url) <= 3000][:25]
    if buttons:
        body.append({"type": "actions", "elements": [
            {"type": "button", "text": _plain(label, 75), "url": url,
             "action_id": f"button-{i}"}
            for i, (label, url) in enumerate(buttons)]})
    return {
        "text": clip(slack_escape(one_line(msg.title)), 3000),
        "blocks": [{"type": "header", "text": _plain(one_line(msg.title), 150)}],
        "attachments": [{"color": COLOURS[msg.notification_type], "blocks": body}],
    }


# ---- Microsoft Teams -------------------------------------------------------------------

def to_teams(msg: Message) -> dict:
    """Incoming-webhook / Workflows body: one Adaptive Card 1.4 with Slack's content."""
    return {"type": "message", "attachments": [{
        "contentType": "application/vnd.microsoft.card.adaptive",
        "contentUrl": None,
        "content": _fitting(lambda limit: _card(msg, limit), _json_bytes, TEAMS_CARD_BYTES),
    }]}


def _card(msg: Message, limit: int) -> dict:
    body: list[dict] = [{
        "type": "Container", "style": TEAMS_STYLES[msg.notification_type], "bleed": True,
        "items": [{"type": "TextBlock", "text": clip(one_line(msg.title), 500),
                   "size": "Large", "weight": "Bolder", "wrap": True}],
    }]
    text = summary(msg, limit)
    if text:
        body.append({"type": "TextBlock", "text": text, "wrap": True})
    if msg.tags:
        body.append({"type": "FactSet", "facts": [
            {"title": clip(t.key, 200), "value": clip(t.value, min(limit, 1000))}
            for t in msg.tags[:MAX_TAGS]]})
    if msg.image_url:
        body.append({"type": "Image", "url": msg.image_url, "altText": clip(msg.title, 500)})
    body.append({"type": "TextBlock", "text": _context(msg), "isSubtle": True,
                 "size": "Small", "wrap": True})
    card: dict = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "msteams": {"width": "Full"},
        "body": body,
    }
    buttons = _buttons(msg)
    if buttons:
        card["actions"] = [{"type": "Action.OpenUrl", "title": clip(label, 75), "url": url}
                           for label, url in buttons]
    return card


# ---- plain text, e-mail ----------------------------------------------------------------

def to_text(msg: Message, limit: int | None = None) -> str:
    """The plain-text rendering: e-mail text part and SNS's default message."""
    blocks = [msg.title.strip()]
    text = summary(msg, limit)
    if text:
        blocks.append(text.strip())
    if msg.tags:
        blocks.append("\n".join(f"{t.key}: {clip(t.value, limit)}" for t in msg.tags))
    buttons = _buttons(msg)
    if buttons:
        blocks.append("\n".join(f"{label}: {url}" for label, url in buttons))
    if msg.image_url:
        blocks.append(f"Image: {msg.image_url}")
    blocks.append(_context(msg))
    return "\n\n".join(blocks) + "\n"


@dataclass(frozen=True)
class EmailParts:
    subject: str
    text: str
    html: str


def _html_lines(text: str) -> str:
    return "<br>\n".join(html.escape(line) for line in text.strip().splitlines())


def to_html(msg: Message) -> str:
    """The HTML part: every CloudForet value escaped, except `contents` typed HTML.

    `content_type: HTML` means CloudForet's producer wrote that HTML for mail
    (the reference e-mail plugin inserts it as it is); nothing else is trusted.
    """
    e = html.escape
    colour = COLOURS[msg.notification_type]
    parts = [
        f'<p style="margin:0;font-size:12px;color:#666">{e(_context(msg))}</p>',
        f'<h1 style="margin:8px 0 12px;font-size:20px">{e(one_line(msg.title))}</h1>',
    ]
    text = summary(msg)
    if text:
        parts.append(f'<p style="margin:0 0 12px;line-height:1.5">{_html_lines(text)}</p>')
    if msg.content_type == "HTML" and msg.contents:
        parts.append(f"<div>{msg.contents}</div>")
    if msg.tags:
        rows = "".join(
            f'<tr><th style="text-align:left;padding:4px 12px 4px 0;vertical-align:top">'
            f'{e(t.key)}</th><td style="padding:4px 0">{e(t.value)}</td></tr>'
            for t in msg.tags)
        parts.append(f'<table role="presentation" style="border-collapse:collapse;'
                     f'margin:0 0 12px;font-size:14px">{rows}</table>')
    if msg.image_url:
        parts.append(f'<p><img src="{e(msg.image_url)}" alt="{e(msg.title)}" '
                     f'style="max-width:100%"></p>')
    buttons = _buttons(msg)
    if buttons:
        links = " ".join(
            f'<a href="{e(url)}" style="display:inline-block;margin:0 8px 8px 0;'
            f'padding:8px 14px;background:{colour};color:#fff;text-decoration:none;'
            f'border-radius:4px">{e(label)}</a>' for label, url in buttons)
        parts.append(f"<p>{links}</p>")
    inner = "\n".join(parts)
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{e(one_line(msg.title))}</title></head>\n"
        '<body style="margin:0;padding:16px;background:#f4f5f7;'
        'font-family:Arial,Helvetica,sans-serif;color:#222">\n'
        '<table role="presentation" width="100%" style="max-width:640px;margin:0 auto;'
        f'background:#fff;border-top:6px solid {colour};border-collapse:collapse">'
        f'<tr><td style="padding:16px 20px">\n{inner}\n</td></tr></table>\n</body></html>\n'
    )


def to_email(msg: Message) -> EmailParts:
    return EmailParts(subject=clip(one_line(msg.title), 200), text=to_text(msg),
                      html=to_html(msg))


# ---- AWS SNS ---------------------------------------------------------------------------

def sns_subject(title: str) -> str:
    """ASCII, one line, under 100 characters: what SNS accepts as a Subject."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    ascii_title = one_line(re.sub(r"[\x00-\x1f\x7f]", " ", ascii_title))
    return clip(ascii_title, SNS_SUBJECT_MAX - 2).replace("…", "...") or "CloudForet notification"


def to_sns(msg: Message) -> dict:
    """Publish arguments: text for people (e-mail, SMS), the webhook JSON for machines.

    `MessageStructure: json` lets SNS hand each subscription protocol its own
    body: sqs, lambda and http(s) get `to_webhook`, the others the text.
    """
    attributes = {"severity": {"DataType": "String", "StringValue": msg.notification_type}}
    if msg.domain_name:
        attributes["domain_name"] = {"DataType": "String", "StringValue": msg.domain_name}
    return {
        "Subject": sns_subject(msg.title),
        "Message": _fitting(lambda limit: _sns_message(msg, limit),
                            lambda text: len(text.encode("utf-8")), SNS_MESSAGE_BYTES),
        "MessageStructure": "json",
        "MessageAttributes": attributes,
    }


def _sns_message(msg: Message, limit: int) -> str:
    machine = json.dumps(to_webhook(msg, limit), ensure_ascii=False)
    return json.dumps({"default": to_text(msg, limit), "sqs": machine, "lambda": machine,
                       "http": machine, "https": machine}, ensure_ascii=False)
