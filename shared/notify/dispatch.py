"""`dispatch` and `verify`: check the configuration, render, deliver with retries.

What the notify function runs for CloudForet's `Notification.dispatch`,
`Notification.push` and `Protocol.verify`. Rendering happens once; each
retry (`shared.retry.call_with_retry`: ReceiverUnavailable only, full jitter,
Retry-After as a floor, never past the policy's deadline) re-sends the same
bytes with the same idempotency key. The default deadline leaves room inside
CloudForet's 180 s unary deadline, after which CloudForet itself dispatches
again (spec cloudforet/notification.md 4.1).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from shared.errors import PluginError
from shared.notify import channels, render, schema
from shared.notify.message import Message
from shared.retry import RetryPolicy, call_with_retry

log = logging.getLogger(__name__)

NOTIFY_POLICY = RetryPolicy(attempts=4, base_s=0.5, cap_s=8.0, deadline_s=60.0)
TIMEOUT_S = 10.0  # per attempt: connect and each read
_WHAT = {"webhook": "webhook", "slack": "Slack", "teams": "Teams"}


def _sender(channel: str, secret: dict, data: dict, msg: Message,
            timeout_s: float) -> tuple[Callable[[], dict], str]:
    """(one delivery attempt -> detail, receiver host): rendered once, sent per attempt."""
    key = msg.idempotency_key
    if channel in _WHAT:
        url = data["url"] if channel == "webhook" else data["webhook_url"]
        payload = {"webhook": render.to_webhook, "slack": render.to_slack,
                   "teams": render.to_teams}[channel](msg)
        options = {"headers": data.get("headers"), "verify_tls": data.get("verify_tls", True),
                   "signing_key": data.get("signing_key") or secret.get("signing_key", "")}

        def post() -> dict:
            return {"status": channels.post_json(url, payload, what=_WHAT[channel],
                                                 idempotency_key=key, timeout_s=timeout_s,
                                                 **options)}
        return post, channels.host_of(url)
    if channel == "email":
        smtp = channels.SmtpSettings.from_secret(secret, timeout_s=timeout_s)
        recipients = schema.split_addresses(data["email"])
        parts = render.to_email(msg)

        def mail() -> dict:
            refused = channels.send_mail(smtp, recipients, parts, key)
            return {"recipients": len(recipients) - len(refused), "refused": refused}
        return mail, smtp.host
    sns = channels.SnsSettings.from_secret(secret, data["topic_arn"], timeout_s=timeout_s)
    publish = render.to_sns(msg)

    def send() -> dict:
        return {"message_id": channels.publish_sns(sns, data["topic_arn"], publish, key,
                                                   msg.domain_name or "cloudforet")}
    return send, sns.host


def dispatch(channel: str, secret_data: dict | None, channel_data: dict | None, message: Message,
             *, policy: RetryPolicy = NOTIFY_POLICY, timeout_s: float = TIMEOUT_S,
             sleep: Callable[[float], None] = time.sleep) -> dict:
    """Deliver `message` on `channel`; what happened, or the error that stopped it.

    Raises InvalidInput (configuration), DeliveryFailed (refused for good) or
    ReceiverUnavailable (still failing when the policy ran out).
    """
    secret, data = schema.check(channel, secret_data, channel_data or {})
    send, receiver = _sender(channel, secret, data, message, timeout_s)
    attempts = 0

    def attempt() -> dict:
        nonlocal attempts
        attempts += 1
        return send()

    started = time.monotonic()
    context = {"channel": channel, "url_host": receiver}
    try:
        detail = call_with_retry(attempt, policy, sleep=sleep)
    except PluginError as err:
        log.warning("notification not delivered: %s", type(err).__name__,
                    extra={**context, "attempt": attempts})
        raise
    elapsed_ms = int((time.monotonic() - started) * 1000)
    log.info("notification delivered",
             extra={**context, "attempt": attempts, "elapsed_ms": elapsed_ms})
    if detail.get("refused"):
        log.warning("some recipients refused", extra={**context, "count": len(detail["refused"])})
    return {"channel": channel, "receiver": receiver, "idempotency_key": message.idempotency_key,
            "attempts": attempts, **detail}


def ping_message() -> Message:
    """What `verify` sends when asked to ping; timestamped so no receiver de-duplicates it."""
    return Message(title="CloudForet notification test",
                   description="This channel is configured correctly: the Nutanix plugin "
                               "delivered this test message.",
                   occurred_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))


def verify(channel: str, secret_data: dict | None, channel_data: dict | None = None, *,
           options: dict | None = None, policy: RetryPolicy = NOTIFY_POLICY,
           timeout_s: float = TIMEOUT_S, sleep: Callable[[float], None] = time.sleep) -> dict:
    """Check what can be checked without notifying anyone, unless `options.ping` asks.

    Always the schemas. E-mail: connect, TLS and login, then quit. SNS:
    GetTopicAttributes (ListTopics without a topic). HTTP channels: syntax
    only, since the only test of a webhook is a message. With `ping: true`
    and channel_data, a test message is delivered on any channel.
    CloudForet's Protocol.verify carries no channel_data: then only
    secret_data is checked.
    """
    secret, data = schema.check(channel, secret_data, channel_data)
    checked = ["schema"]
    if channel == "email":
        smtp = channels.SmtpSettings.from_secret(secret, timeout_s=timeout_s)
        call_with_retry(lambda: channels.check_smtp(smtp), policy, sleep=sleep)
        checked.append("smtp_login" if smtp.user else "smtp_connect")
    elif channel == "sns":
        topic_arn = (data or {}).get("topic_arn", "")
        sns = channels.SnsSettings.from_secret(secret, topic_arn, timeout_s=timeout_s)
        call_with_retry(lambda: channels.check_sns(sns, topic_arn), policy, sleep=sleep)
        checked.append("sns_topic" if topic_arn else "sns_credentials")
    if data is not None and (options or {}).get("ping"):
        dispatch(channel, secret, data, ping_message(), policy=policy, timeout_s=timeout_s,
                 sleep=sleep)
        checked.append("ping")
    return {"channel": channel, "checked": checked}
