"""What each channel needs, as JSON Schema: published by `init`, checked on dispatch.

CloudForet splits a notification's configuration in two (spec cloudforet/
notification.md sections 2 and 5):

- `secret_data` belongs to the *protocol* (one per configured Protocol in a
  domain, set by an admin at `Protocol.create`): server credentials and keys
  shared by every channel.
- `channel_data` belongs to each project or user *channel*: the destination.
  Init metadata `data_type` says how CloudForet keeps it: SECRET (secret
  service) when the destination itself is a credential, PLAIN_TEXT otherwise;
  `data.schema` is the form the console draws and CloudForet validates.

    channel  data_type   channel_data                      secret_data
    webhook  SECRET      url (may hold a token), headers,  signing_key
                         signing_key (overrides), verify_tls
    slack    SECRET      webhook_url (holds the token)     -
    teams    SECRET      webhook_url (holds a signature)   -
    email    PLAIN_TEXT  email (comma-separated)           smtp_host, smtp_port, security,
                                                           user, password, from_email,
                                                           from_name, verify_tls, ca_pem
    sns      PLAIN_TEXT  topic_arn                         aws_access_key_id,
                                                           aws_secret_access_key,
                                                           aws_session_token, region_name,
                                                           endpoint_url

The e-mail names (`email`, `smtp_host`, `user`, `from_email`, ...) are the
reference e-mail plugin's, so its configurations carry over. SNS credentials
may be left out: boto3 then uses its environment (pod role, env vars).
Checks report every problem of both dicts at once (`InvalidInput`), by
field path and never by value, so a secret cannot leak through an error.
"""

from __future__ import annotations

import re

from shared.errors import InvalidInput
from shared.validation import problems, with_defaults

CHANNELS = ("webhook", "slack", "teams", "email", "sns")

URL_PATTERN = r"^https?://[^\s/?#]+([/?#]\S*)?$"
_ADDRESS = r"[^@\s,;<>]+@[^@\s,;<>]+"
ADDRESSES_PATTERN = rf"^\s*{_ADDRESS}(\s*[,;]\s*{_ADDRESS})*\s*$"
TOPIC_ARN_PATTERN = r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$"
SECURITY = ("starttls", "ssl", "none")
SMTP_PORTS = {"starttls": 587, "ssl": 465, "none": 25}

_VERIFY_TLS = {"type": "boolean", "default": True, "title": "Verify TLS certificates"}


def _url(title: str, description: str) -> dict:
    return {"type": "string", "title": title, "description": description,
            "pattern": URL_PATTERN}


CHANNEL_DATA_SCHEMAS: dict[str, dict] = {
    "webhook": {
        "type": "object",
        "required": ["url"],
        "properties": {
            "url": _url("Webhook URL", "Receives a JSON POST (type "
                        "io.cloudforet.nutanix.notification.v1)"),
            "headers": {"type": "object", "title": "Extra HTTP headers",
                        "description": "For example Authorization",
                        "additionalProperties": {"type": "string"}},
            "signing_key": {"type": "string", "title": "Signing key",
                            "description": "HMAC-SHA256 key for X-Nutanix-Signature; "
                                           "overrides the protocol's key"},
            "verify_tls": _VERIFY_TLS,
        },
    },
    "slack": {
        "type": "object",
        "required": ["webhook_url"],
        "properties": {"webhook_url": _url(
            "Slack incoming webhook URL", "https://hooks.slack.com/services/...")},
    },
    "teams": {
        "type": "object",
        "required": ["webhook_url"],
        "properties": {"webhook_url": _url(
            "Microsoft Teams webhook URL",
            "Workflows (Power Automate) or incoming-webhook URL")},
    },
    "email": {
        "type": "object",
        "required": ["email"],
        "properties": {"email": {"type": "string", "title": "E-mail addresses",
                                 "description": "Comma-separated",
                                 "pattern": ADDRESSES_PATTERN}},
    },
    "sns": {
        "type": "object",
        "required": ["topic_arn"],
        "properties": {"topic_arn": {"type": "string", "title": "SNS topic ARN",
                                     "pattern": TOPIC_ARN_PATTERN}},
    },
}

SECRET_DATA_SCHEMAS: dict[str, dict] = {
    "webhook": {
        "type": "object",
        "properties": {"signing_key": {
            "type": "string", "title": "Signing key",
            "description": "HMAC-SHA256 key for X-Nutanix-Signature on every channel"}},
    },
    "slack": {"type": "object", "properties": {}},
    "teams": {"type": "object", "properties": {}},
    "email": {
        "type": "object",
        "required": ["smtp_host", "from_email"],
        "properties": {
            "smtp_host": {"type": "string", "minLength": 1, "title": "SMTP server"},
            "smtp_port": {"type": "integer", "minimum": 1, "maximum": 65535,
                          "title": "SMTP port",
                          "description": "Default 587 (starttls), 465 (ssl), 25 (none)"},
            "security": {"type": "string", "enum": list(SECURITY), "default": "starttls",
                         "title": "Connection security"},
            "user": {"type": "string", "title": "SMTP user"},
            "password": {"type": "string", "title": "SMTP password"},
            "from_email": {"type": "string", "pattern": rf"^{_ADDRESS}$",
                           "title": "Sender address"},
            "from_name": {"type": "string", "title": "Sender name"},
            "verify_tls": _VERIFY_TLS,
            "ca_pem": {"type": "string", "title": "CA certificate (PEM)",
                       "description": "Trust this CA for the SMTP server's certificate"},
        },
    },
    "sns": {
        "type": "object",
        "properties": {
            "aws_access_key_id": {"type": "string", "title": "AWS access key ID"},
            "aws_secret_access_key": {"type": "string", "title": "AWS secret access key"},
            "aws_session_token": {"type": "string", "title": "AWS session token"},
            "region_name": {"type": "string", "title": "Region",
                            "description": "Default: the topic ARN's region"},
            "endpoint_url": _url("SNS endpoint URL", "Only for SNS-compatible services"),
        },
    },
}

DATA_TYPES = {"webhook": "SECRET", "slack": "SECRET", "teams": "SECRET",
              "email": "PLAIN_TEXT", "sns": "PLAIN_TEXT"}


def _known(channel: str) -> None:
    if channel not in CHANNELS:
        raise InvalidInput(f"unknown channel {str(channel)[:40]!r}: use one of "
                           + ", ".join(CHANNELS))


def init_metadata(channel: str) -> dict:
    """The `Protocol.init` metadata CloudForet reads: `data_type` and `data.schema`."""
    _known(channel)
    return {"data_type": DATA_TYPES[channel], "data": {"schema": CHANNEL_DATA_SCHEMAS[channel]}}


def check(channel: str, secret_data: dict | None,
          channel_data: dict | None = None) -> tuple[dict, dict | None]:
    """(secret_data, channel_data) with defaults, or InvalidInput naming every problem.

    `channel_data` None means "not given" (Protocol.verify has none) and is
    not checked.
    """
    _known(channel)
    secret = {} if secret_data is None else secret_data
    found = problems(SECRET_DATA_SCHEMAS[channel], secret, "secret_data")
    if channel_data is not None:
        found += problems(CHANNEL_DATA_SCHEMAS[channel], channel_data, "channel_data")
    if not found and channel == "email":
        found += _email_rules(secret)
    if not found and channel == "sns":
        found += _sns_rules(secret)
    if found:
        raise InvalidInput(f"invalid {channel} configuration", found)
    secret = with_defaults(SECRET_DATA_SCHEMAS[channel], secret)
    if channel_data is not None:
        channel_data = with_defaults(CHANNEL_DATA_SCHEMAS[channel], channel_data)
    return secret, channel_data


def _email_rules(secret: dict) -> list[str]:
    found = []
    if bool(secret.get("user")) != bool(secret.get("password")):
        found.append("secret_data.user, secret_data.password: give both or neither")
    if secret.get("password") and secret.get("security", "starttls") == "none":
        found.append("secret_data.security: a password needs starttls or ssl")
    return found


def _sns_rules(secret: dict) -> list[str]:
    if bool(secret.get("aws_access_key_id")) != bool(secret.get("aws_secret_access_key")):
        return ["secret_data.aws_access_key_id, secret_data.aws_secret_access_key: "
                "give both or neither"]
    return []


def split_addresses(text: str) -> list[str]:
    """`a@x, b@y; a@x` -> [a@x, b@y]: order kept, duplicates dropped."""
    seen: dict[str, None] = {}
    for part in re.split(r"[,;]", text):
        if part.strip():
            seen.setdefault(part.strip(), None)
    return list(seen)
