"""shared.notify against real receivers: an HTTP server, aiosmtpd, and moto's SNS/SQS.

Every failure class is provoked for real (scripted HTTP statuses, a closed
port, SMTP 451/535, a missing topic); secrets are planted in URLs, passwords
and AWS keys and looked for in error texts, tracebacks and captured logs.
"""

from __future__ import annotations

import email
import email.policy
import json
import logging
import subprocess
import sys
import traceback

import jsonschema
import pytest
import trustme
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.errors import DeliveryFailed, InvalidInput, ReceiverUnavailable
from shared.logs import JsonFormatter
from shared.notify import channels, render, schema
from shared.notify.dispatch import dispatch, verify
from shared.notify.message import Message, parse_dispatch, parse_message
from shared.retry import RetryPolicy
from tests.demo_notify import WebhookReceiver, signature_ok
from tests.mail_and_sns import MailSink, aws, moto_server, start_smtp, topic_with_queue
from tests.notify_data import ALERT, AWS_SECRET, PASSWORD, TOKEN, WEBHOOK_EXPECTED, sns_secret
from tests.processes import ROOT, free_port  # free: nothing listens there

FAST = RetryPolicy(attempts=4, base_s=0.01, cap_s=0.02, deadline_s=5.0)
SECRETS = (TOKEN, PASSWORD, AWS_SECRET)


def alert(**changes) -> Message:
    return parse_message({**ALERT, **changes}, "ERROR")


# ---- real receivers --------------------------------------------------------------------

@pytest.fixture(scope="module")
def http_server():
    with WebhookReceiver() as server:
        yield server


@pytest.fixture
def receiver(http_server):
    http_server.clear()
    return http_server


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


@pytest.fixture
def smtp_server(ca):
    """start(security) -> (sink, secret_data) for a fresh aiosmtpd on 127.0.0.1."""
    started = []

    def start(security: str = "none", auth: bool = False):
        controller, sink, secret = start_smtp(ca, PASSWORD, security=security, auth=auth)
        started.append(controller)
        return sink, secret

    yield start
    for controller in started:
        controller.stop()


@pytest.fixture(scope="module")
def moto():
    yield from moto_server()


def assert_no_secret(err: BaseException, caplog) -> None:
    """Neither the error, its traceback, nor any captured log line holds a secret."""
    texts = ["".join(traceback.format_exception(err)), repr(err)]
    formatter = JsonFormatter()
    texts += [formatter.format(record) for record in caplog.records]
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


# ---- message parsing -------------------------------------------------------------------

def test_parse_notification_message():
    msg = parse_dispatch({"message": ALERT, "notification_type": "ERROR"})
    assert msg.title == "[Alerting] Cluster CPU usage high"
    assert msg.notification_type == "ERROR"
    assert msg.domain_name == "acme"
    assert msg.tags[0].short and not msg.tags[2].short
    assert msg.tags[3].value == "3"  # Struct float 3.0
    assert msg.callbacks[0].url == "https://cb.example.com/ack"


@pytest.mark.parametrize(("family", "number", "name"), [
    ("notification", 1, "INFO"), ("notification", 2, "ERROR"), ("notification", 3.0, "SUCCESS"),
    ("notification", 4, "WARNING"), ("notification", 0, "INFO"),
    ("alert_manager_notification", 1, "ERROR"), ("alert_manager_notification", 2, "WARNING"),
    ("alert_manager_notification", 4, "INFO"),
    ("alert_manager_notification", "NOTIFICATION_TYPE_NONE", "INFO"),
    ("alert_manager_notification", "success", "SUCCESS"),
])
def test_notification_type_numbers_follow_family(family, number, name):
    assert parse_message({"title": "t"}, number, family=family).notification_type == name


def test_alert_manager_message_shape():
    """Typed NotificationMessage, as message_to_dict gives it: no domain_name."""
    request = {"message": {"title": "t", "tags": [{"key": "k", "value": "v"}],
                           "callbacks": [{"label": "Ack", "url": "https://a"}]},
               "notification_type": "WARNING", "domain_id": "domain-1"}
    msg = parse_dispatch(request, family="alert_manager_notification")
    assert (msg.notification_type, msg.tags[0].key, msg.domain_name) == ("WARNING", "k", "")


def test_parse_reports_every_problem():
    with pytest.raises(InvalidInput) as caught:
        parse_message({"title": " ", "content_type": "PDF", "tags": [{"value": "x"}, 3],
                       "callbacks": "no", "description": {"a": 1}}, "LOUD")
    assert caught.value.problems == [
        "notification_type: must be one of INFO, WARNING, ERROR, SUCCESS",
        "message.description: must be string",
        "message.title: is required",
        "message.content_type: must be one of HTML, MARKDOWN",
        "message.tags[1]: must be object",
        "message.tags[0].key: is required",
        "message.callbacks: must be array",
    ]


STRUCT_VALUES = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=10)
MESSAGE_KEYS = st.sampled_from(["title", "description", "link", "tags", "callbacks",
                                "content_type", "occurred_at", "image_url", "domain_name"])


@settings(max_examples=300, deadline=None)
@given(message=st.dictionaries(MESSAGE_KEYS, STRUCT_VALUES) | STRUCT_VALUES,
       kind=STRUCT_VALUES, family=st.sampled_from(["notification",
                                                   "alert_manager_notification"]))
def test_any_message_parses_or_is_invalid_input(message, kind, family):
    try:
        msg = parse_message(message, kind, family=family)
    except InvalidInput as err:
        assert err.problems
        return
    for rendered in (render.to_webhook(msg), render.to_slack(msg), render.to_teams(msg),
                     render.to_sns(msg)):
        json.dumps(rendered)
    render.to_email(msg)


def test_non_http_links_are_dropped():
    msg = alert(link="javascript:alert(1)",
                callbacks=[{"label": "x", "url": "javascript:evil()"},
                           {"label": "ok", "url": "https://ok.example.com"}])
    assert msg.link == ""
    assert [c.label for c in msg.callbacks] == ["ok"]
    assert "javascript" not in render.to_html(msg)


def test_idempotency_key_is_stable_and_content_bound():
    key = alert().idempotency_key
    assert key == alert().idempotency_key
    assert len(key) == 32
    assert alert(description="other").idempotency_key != key
    tags = [{**t, "options": {"short": False}} for t in ALERT["tags"]]
    assert alert(tags=tags).idempotency_key == key  # display options are not content
    assert parse_message(ALERT, "INFO").idempotency_key != key


# ---- pure renderers --------------------------------------------------------------------

def test_webhook_json_has_every_field():
    msg = alert()
    assert render.to_webhook(msg) == {**WEBHOOK_EXPECTED, "idempotency_key": msg.idempotency_key}


SLACK_EXPECTED = {
    "text": "[Alerting] Cluster CPU usage high",
    "blocks": [{"type": "header", "text": {"type": "plain_text", "emoji": True,
                                           "text": "[Alerting] Cluster CPU usage high"}}],
    "attachments": [{"color": "#E01E5A", "blocks": [
        {"type": "section", "text": {"type": "mrkdwn", "text": "cluster-a CPU 95%\nsince 03:10"}},
        {"type": "section", "fields": [
            {"type": "mrkdwn", "text": "*Alert Number*\n#42"},
            {"type": "mrkdwn", "text": "*State*\nTRIGGERED"},
            {"type": "mrkdwn", "text": "*Project*\nweb"},
            {"type": "mrkdwn", "text": "*Count*\n3"}]},
        {"type": "image", "image_url": "https://img.example.com/panel.png",
         "alt_text": "[Alerting] Cluster CPU usage high"},
        {"type": "context", "elements": [
            {"type": "mrkdwn", "text": "ERROR · acme · 2025-06-21T03:13:00Z"}]},
        {"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": "Open", "emoji": True},
             "url": "https://console.example.com/alert-public-detail?alert_url=x",
             "action_id": "button-0"},
            {"type": "button",
             "text": {"type": "plain_text", "text": "Acknowledge Alerts", "emoji": True},
             "url": "https://cb.example.com/ack", "action_id": "button-1"}]},
    ]}],
}

TEAMS_EXPECTED = {"type": "message", "attachments": [{
    "contentType": "application/vnd.microsoft.card.adaptive",
    "contentUrl": None,
    "content": {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "msteams": {"width": "Full"},
        "body": [
            {"type": "Container", "style": "attention", "bleed": True, "items": [
                {"type": "TextBlock", "text": "[Alerting] Cluster CPU usage high",
                 "size": "Large", "weight": "Bolder", "wrap": True}]},
            {"type": "TextBlock", "text": "cluster-a CPU 95%\nsince 03:10", "wrap": True},
            {"type": "FactSet", "facts": [
                {"title": "Alert Number", "value": "#42"},
                {"title": "State", "value": "TRIGGERED"},
                {"title": "Project", "value": "web"},
                {"title": "Count", "value": "3"}]},
            {"type": "Image", "url": "https://img.example.com/panel.png",
             "altText": "[Alerting] Cluster CPU usage high"},
            {"type": "TextBlock", "text": "ERROR · acme · 2025-06-21T03:13:00Z",
             "isSubtle": True, "size": "Small", "wrap": True},
        ],
        "actions": [
            {"type": "Action.OpenUrl", "title": "Open",
             "url": "https://console.example.com/alert-public-detail?alert_url=x"},
            {"type": "Action.OpenUrl", "title": "Acknowledge Alerts",
             "url": "https://cb.example.com/ack"},
        ],
    },
}]}


def test_slack_escapes_and_keeps_block_kit_limits():
    msg = alert(title="x" * 300, description="<b>&", tags=[
        {"key": f"k{i}", "value": "v"} for i in range(45)],
        callbacks=[{"label": "L" * 100, "url": "https://a.example.com"}] * 30)
    body = render.to_slack(msg)
    assert len(body["blocks"][0]["text"]["text"]) == 150
    blocks = body["attachments"][0]["blocks"]
    assert blocks[0]["text"]["text"] == "&lt;b&gt;&amp;"
    fields = [b for b in blocks if "fields" in b]
    assert [len(b["fields"]) for b in fields] == [10, 10, 10]
    buttons = blocks[-1]["elements"]
    assert len(buttons) == 25
    assert all(len(b["text"]["text"]) <= 75 for b in buttons)


def test_teams_colour_follows_severity():
    for kind, style in render.TEAMS_STYLES.items():
        card = render.to_teams(parse_message(ALERT, kind))["attachments"][0]["content"]
        assert card["body"][0]["style"] == style


def test_email_parts_escape_html():
    msg = alert(title="<script>x</script> & co", description="a<b\nline 2")
    parts = render.to_email(msg)
    assert parts.subject == "<script>x</script> & co"
    assert "<script>" not in parts.html
    assert "&lt;script&gt;x&lt;/script&gt; &amp; co" in parts.html
    assert "a&lt;b<br>\nline 2" in parts.html
    assert 'href="https://console.example.com/alert-public-detail?alert_url=x"' in parts.html
    assert parts.text.startswith("<script>x</script> & co\n\na<b\nline 2\n\nAlert Number: #42")


def test_email_html_contents_are_kept_as_html():
    msg = alert(content_type="html", contents="<table><tr><td>cost</td></tr></table>")
    assert "<div><table><tr><td>cost</td></tr></table></div>" in render.to_html(msg)


def test_sns_subject_is_short_ascii_one_line():
    subject = render.sns_subject("Ünïcode\nalert " + "é" * 300)
    assert len(subject) <= 99
    assert subject.isascii() and "\n" not in subject
    assert subject.startswith("Unicode alert eee")
    args = render.to_sns(alert())
    assert args["MessageAttributes"]["severity"] == {"DataType": "String",
                                                     "StringValue": "ERROR"}


def test_size_limited_renderings_clip_until_they_fit():
    msg = alert(description="界" * 200_000, contents="c" * 100_000,
                tags=[{"key": f"k{i}", "value": "v" * 5000} for i in range(40)])
    card = render.to_teams(msg)["attachments"][0]["content"]
    assert len(json.dumps(card, ensure_ascii=False).encode()) <= render.TEAMS_CARD_BYTES
    published = render.to_sns(msg)["Message"]
    assert len(published.encode()) <= render.SNS_MESSAGE_BYTES
    machine = json.loads(json.loads(published)["sqs"])
    assert machine["idempotency_key"] == msg.idempotency_key  # the whole message's key
    assert machine["description"].endswith("…")


# ---- schemas ---------------------------------------------------------------------------

@pytest.mark.parametrize("channel", schema.CHANNELS)
def test_published_schemas_are_json_schema(channel):
    meta = schema.init_metadata(channel)
    assert meta["data_type"] in ("PLAIN_TEXT", "SECRET")
    jsonschema.Draft7Validator.check_schema(meta["data"]["schema"])
    jsonschema.Draft7Validator.check_schema(schema.SECRET_DATA_SCHEMAS[channel])


@pytest.mark.parametrize(("channel", "data", "valid"), [
    ("email", {"email": "a@example.com, b@example.org;c@x"}, True),
    ("email", {"email": "a@example.com,, b"}, False),
    ("email", {"email": "not an address"}, False),
    ("webhook", {"url": "https://h.example.com/x?y=1"}, True),
    ("webhook", {"url": "ftp://h/x"}, False),
    ("webhook", {"url": "https://h/x", "headers": {"A": 1}}, False),
    ("sns", {"topic_arn": "arn:aws:sns:eu-west-1:123456789012:alerts.fifo"}, True),
    ("sns", {"topic_arn": "arn:aws:sqs:eu-west-1:123456789012:alerts"}, False),
    ("slack", {}, False),
])
def test_our_checks_agree_with_jsonschema(channel, data, valid):
    """CloudForet validates channel data with jsonschema; our subset must agree."""
    theirs = jsonschema.Draft7Validator(schema.CHANNEL_DATA_SCHEMAS[channel]).is_valid(data)
    secret = {"smtp_host": "h", "from_email": "f@example.com"} if channel == "email" else {}
    try:
        schema.check(channel, secret, data)
        ours = True
    except InvalidInput:
        ours = False
    assert theirs == ours == valid


def test_check_lists_every_problem_without_values():
    secret = {"smtp_port": 70000, "security": "tls", "password": PASSWORD}
    with pytest.raises(InvalidInput) as caught:
        schema.check("email", secret, {"email": "nobody"})
    assert caught.value.problems == [
        "secret_data.smtp_host: is required",
        "secret_data.from_email: is required",
        "secret_data.smtp_port: must be <= 65535",
        "secret_data.security: must be one of starttls, ssl, none",
        "channel_data.email: has the wrong format",
    ]
    assert PASSWORD not in str(caught.value)


def test_password_needs_encryption_and_a_user():
    with pytest.raises(InvalidInput) as caught:
        schema.check("email", {"smtp_host": "h", "from_email": "f@x", "security": "none",
                               "password": PASSWORD}, {"email": "a@x"})
    assert caught.value.problems == [
        "secret_data.user, secret_data.password: give both or neither",
        "secret_data.security: a password needs starttls or ssl"]


def test_unknown_channel():
    with pytest.raises(InvalidInput, match="unknown channel 'pager'"):
        dispatch("pager", {}, {}, alert())


# ---- HTTP channels ---------------------------------------------------------------------

def test_webhook_delivers_signed_json(receiver):
    msg = alert()
    result = dispatch("webhook", {"signing_key": "protocol-key"},
                      {"url": receiver.url_for(f"/hooks/{TOKEN}"), "headers": {"X-Team": "ops"}},
                      msg, policy=FAST)
    assert result == {"channel": "webhook", "receiver": "127.0.0.1", "attempts": 1,
                      "idempotency_key": msg.idempotency_key, "status": 200}
    (request,) = receiver.received
    assert request["path"] == f"/hooks/{TOKEN}"
    assert receiver.json() == render.to_webhook(msg)
    headers = request["headers"]
    assert headers["Idempotency-Key"] == msg.idempotency_key
    assert headers["X-Team"] == "ops"
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert signature_ok("protocol-key", headers, request["body"])  # the receiver's recipe


def test_channel_signing_key_overrides_protocol_key(receiver):
    dispatch("webhook", {"signing_key": "protocol-key"},
             {"url": receiver.url_for("/h"), "signing_key": "channel-key"}, alert(), policy=FAST)
    request = receiver.received[0]
    ts = request["headers"]["X-Nutanix-Timestamp"]
    assert request["headers"]["X-Nutanix-Signature"] == channels.sign(
        "channel-key", ts, request["body"])


def test_unsigned_webhook_has_no_signature_headers(receiver):
    dispatch("webhook", {}, {"url": receiver.url_for("/h")}, alert(), policy=FAST)
    assert "X-Nutanix-Signature" not in receiver.received[0]["headers"]


def test_slack_posts_block_kit(receiver):
    dispatch("slack", {}, {"webhook_url": receiver.url_for(f"/services/T0/B0/{TOKEN}")}, alert(),
             policy=FAST)
    assert receiver.json() == SLACK_EXPECTED


def test_teams_posts_adaptive_card(receiver):
    dispatch("teams", {}, {"webhook_url": receiver.url_for(f"/workflows/x?sig={TOKEN}")}, alert(),
             policy=FAST)
    assert receiver.json() == TEAMS_EXPECTED


def test_500_then_200_is_retried_with_the_same_body(receiver):
    receiver.script = [(500, {}, 0.0)]
    result = dispatch("webhook", {}, {"url": receiver.url_for("/h")}, alert(), policy=FAST)
    assert result["attempts"] == 2
    first, second = receiver.received
    assert first["body"] == second["body"]
    assert first["headers"]["Idempotency-Key"] == second["headers"]["Idempotency-Key"]


def test_429_waits_retry_after(receiver):
    receiver.script = [(429, {"Retry-After": "7"}, 0.0)]
    sleeps: list[float] = []
    policy = RetryPolicy(attempts=3, base_s=0.01, cap_s=0.02, deadline_s=30.0)
    result = dispatch("slack", {}, {"webhook_url": receiver.url_for("/s")}, alert(), policy=policy,
                      sleep=sleeps.append)
    assert result["attempts"] == 2
    assert sleeps == [7.0]


def test_retry_after_past_the_deadline_gives_up_at_once(receiver):
    receiver.script = [(503, {"Retry-After": "120"}, 0.0)]
    with pytest.raises(ReceiverUnavailable) as caught:
        dispatch("teams", {}, {"webhook_url": receiver.url_for("/t")}, alert(), policy=FAST)
    assert caught.value.retry_after == 120.0
    assert len(receiver.received) == 1


def test_400_fails_at_once_naming_only_the_host(receiver, caplog):
    caplog.set_level(logging.DEBUG, logger="shared")
    receiver.script = [(400, {}, 0.0)]
    with pytest.raises(DeliveryFailed) as caught:
        dispatch("slack", {}, {"webhook_url": receiver.url_for(f"/services/{TOKEN}")}, alert(),
                 policy=FAST)
    assert str(caught.value) == ("Slack receiver 127.0.0.1 refused the notification: "
                                 "HTTP 400 (invalid_payload)")
    assert caught.value.grpc_code == "FAILED_PRECONDITION"
    assert len(receiver.received) == 1
    assert_no_secret(caught.value, caplog)


def test_redirect_is_not_followed(receiver):
    receiver.script = [(302, {"Location": "http://127.0.0.1:1/elsewhere"}, 0.0)]
    with pytest.raises(DeliveryFailed, match="redirected"):
        dispatch("webhook", {}, {"url": receiver.url_for("/h")}, alert(), policy=FAST)
    assert len(receiver.received) == 1


def test_connection_refused_is_unavailable_after_the_deadline(caplog):
    caplog.set_level(logging.DEBUG, logger="shared")
    policy = RetryPolicy(attempts=1000, base_s=0.01, cap_s=0.02, deadline_s=0.3)
    url = f"http://127.0.0.1:{free_port()}/hooks/{TOKEN}"
    with pytest.raises(ReceiverUnavailable) as caught:
        dispatch("webhook", {"signing_key": PASSWORD}, {"url": url}, alert(), policy=policy)
    assert str(caught.value) == "could not connect to webhook receiver 127.0.0.1"
    retries = [r for r in caplog.records if r.getMessage().startswith("retrying")]
    assert 1 <= len(retries) < 999  # the deadline, not the attempt count, stopped it
    assert_no_secret(caught.value, caplog)


def test_parse_retry_after_forms():
    now = 1_700_000_000.0
    assert channels.parse_retry_after("3", now) == 3.0
    assert channels.parse_retry_after("Tue, 14 Nov 2023 22:13:40 GMT", now) == 20.0
    assert channels.parse_retry_after("soon", now) is None
    assert channels.parse_retry_after(None, now) is None


def test_verify_webhook_checks_syntax_unless_asked_to_ping(receiver):
    data = {"url": receiver.url_for("/h")}
    assert verify("webhook", {}, data)["checked"] == ["schema"]
    assert receiver.received == []
    assert verify("webhook", {}, data, options={"ping": True})["checked"] == ["schema", "ping"]
    assert receiver.json()["title"] == "CloudForet notification test"
    with pytest.raises(InvalidInput, match="channel_data.url: has the wrong format"):
        verify("webhook", {}, {"url": f"not a url {TOKEN}"})


# ---- e-mail ----------------------------------------------------------------------------

RECIPIENTS = {"email": "ops@example.com, oncall@example.org"}


def received(sink: MailSink) -> email.message.EmailMessage:
    (envelope,) = sink.envelopes
    return email.message_from_bytes(envelope.original_content, policy=email.policy.default)


def assert_mail(sink: MailSink, msg: Message) -> None:
    (envelope,) = sink.envelopes
    assert envelope.mail_from == "cloudforet@example.com"
    assert envelope.rcpt_tos == ["ops@example.com", "oncall@example.org"]
    mail = received(sink)
    assert mail["Subject"] == "[Alerting] Cluster CPU usage high"
    assert mail["To"] == "ops@example.com, oncall@example.org"
    assert mail["From"] == "CloudForet <cloudforet@example.com>"
    assert mail["Message-ID"] == f"<{msg.idempotency_key}@example.com>"
    assert mail.get_content_type() == "multipart/alternative"
    text = mail.get_body(("plain",)).get_content().replace("\r\n", "\n")
    html = mail.get_body(("html",)).get_content().replace("\r\n", "\n")
    assert text == render.to_text(msg)
    assert html == render.to_html(msg)


def test_email_plain_smtp_without_auth(smtp_server):
    sink, secret = smtp_server("none")
    msg = alert()
    result = dispatch("email", secret, RECIPIENTS, msg, policy=FAST)
    assert (result["recipients"], result["refused"]) == (2, [])
    assert_mail(sink, msg)


def test_email_starttls_with_auth(smtp_server):
    sink, secret = smtp_server("starttls", auth=True)
    msg = alert()
    dispatch("email", secret, RECIPIENTS, msg, policy=FAST)
    assert sink.logins == [(b"notify", PASSWORD.encode())]
    assert_mail(sink, msg)


def test_email_implicit_tls_with_auth(smtp_server):
    sink, secret = smtp_server("ssl", auth=True)
    msg = alert()
    dispatch("email", secret, RECIPIENTS, msg, policy=FAST)
    assert_mail(sink, msg)


def test_smtp_auth_refused_fails_at_once(smtp_server, caplog):
    caplog.set_level(logging.DEBUG, logger="shared")
    sink, secret = smtp_server("starttls", auth=True)
    secret["user"] = "intruder"
    with pytest.raises(DeliveryFailed) as caught:
        dispatch("email", secret, RECIPIENTS, alert(), policy=FAST)
    assert str(caught.value) == "SMTP server 127.0.0.1 refused the login (535)"
    assert sink.logins  # smtplib tried its mechanisms (PLAIN, LOGIN) once, no retry:
    assert not [r for r in caplog.records if r.getMessage().startswith("retrying")]
    assert sink.envelopes == []
    assert_no_secret(caught.value, caplog)


def test_smtp_4xx_is_retried(smtp_server):
    sink, secret = smtp_server("none")
    sink.rcpt_replies = ["451 4.3.0 try again later", "451 4.3.0 try again later"]
    result = dispatch("email", secret, {"email": "ops@example.com"}, alert(), policy=FAST)
    assert result["attempts"] == 3
    assert len(sink.envelopes) == 1


def test_smtp_5xx_recipient_fails(smtp_server):
    sink, secret = smtp_server("none")
    sink.rcpt_replies = ["550 5.1.1 no such user"]
    with pytest.raises(DeliveryFailed, match=r"refused every recipient: ops@example.com \(550\)"):
        dispatch("email", secret, {"email": "ops@example.com"}, alert(), policy=FAST)


def test_smtp_partial_refusal_is_reported(smtp_server):
    sink, secret = smtp_server("none")
    sink.rcpt_replies = ["550 5.1.1 no such user"]
    result = dispatch("email", secret, RECIPIENTS, alert(), policy=FAST)
    assert (result["recipients"], result["refused"]) == (1, ["ops@example.com"])
    assert sink.envelopes[0].rcpt_tos == ["oncall@example.org"]


def test_untrusted_smtp_certificate_fails(smtp_server):
    sink, secret = smtp_server("starttls")
    secret.pop("ca_pem")
    with pytest.raises(DeliveryFailed, match="TLS verification of SMTP server 127.0.0.1"):
        dispatch("email", secret, RECIPIENTS, alert(), policy=FAST)


def test_verify_smtp_logs_in_without_sending(smtp_server):
    sink, secret = smtp_server("starttls", auth=True)
    assert verify("email", secret)["checked"] == ["schema", "smtp_login"]
    assert len(sink.logins) == 1
    assert sink.envelopes == []


def test_smtp_unreachable_is_unavailable():
    secret = {"smtp_host": "127.0.0.1", "smtp_port": free_port(), "security": "none",
              "from_email": "f@example.com"}
    with pytest.raises(ReceiverUnavailable, match="could not connect to SMTP server"):
        dispatch("email", secret, RECIPIENTS, alert(), policy=FAST)


# ---- SNS -------------------------------------------------------------------------------

def test_sns_publishes_to_subscribed_queue(moto):
    topic, queue = topic_with_queue(moto, "alerts")
    msg = alert()
    result = dispatch("sns", sns_secret(moto), {"topic_arn": topic}, msg, policy=FAST)
    assert result["receiver"] == "127.0.0.1" and result["message_id"]
    (received_msg,) = aws(moto, "sqs").receive_message(QueueUrl=queue,
                                                       WaitTimeSeconds=2)["Messages"]
    envelope = json.loads(received_msg["Body"])
    assert envelope["Subject"] == "[Alerting] Cluster CPU usage high"
    assert envelope["MessageId"] == result["message_id"]
    assert json.loads(envelope["Message"]) == render.to_webhook(msg)  # the "sqs" body
    assert envelope["MessageAttributes"] == {"severity": {"Type": "String", "Value": "ERROR"},
                                             "domain_name": {"Type": "String", "Value": "acme"}}


def test_sns_fifo_deduplicates_repeated_dispatches(moto):
    topic, queue = topic_with_queue(moto, "alerts.fifo")
    msg = alert()
    for _ in range(3):  # CloudForet may dispatch one message three times
        dispatch("sns", sns_secret(moto), {"topic_arn": topic}, msg, policy=FAST)
    messages = aws(moto, "sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10,
                                                WaitTimeSeconds=1)["Messages"]
    assert len(messages) == 1


def test_sns_credentials_from_environment(moto, monkeypatch):
    topic, _ = topic_with_queue(moto, "env-creds")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "env-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    result = dispatch("sns", {"endpoint_url": moto}, {"topic_arn": topic}, alert(), policy=FAST)
    assert result["message_id"]


def test_sns_missing_topic_fails(moto, caplog):
    caplog.set_level(logging.DEBUG, logger="shared")
    topic = "arn:aws:sns:eu-west-1:123456789012:no-such-topic"
    with pytest.raises(DeliveryFailed) as caught:
        dispatch("sns", sns_secret(moto), {"topic_arn": topic}, alert(), policy=FAST)
    assert str(caught.value) == "SNS refused the publish (NotFound): the topic does not exist"
    assert_no_secret(caught.value, caplog)
    with pytest.raises(DeliveryFailed, match="GetTopicAttributes"):
        verify("sns", sns_secret(moto), {"topic_arn": topic})


def test_sns_unreachable_endpoint_is_unavailable():
    secret = {**sns_secret("x"), "endpoint_url": f"http://127.0.0.1:{free_port()}"}
    with pytest.raises(ReceiverUnavailable, match="could not reach SNS endpoint 127.0.0.1"):
        dispatch("sns", secret, {"topic_arn": "arn:aws:sns:eu-west-1:123456789012:a"},
                 alert(), policy=FAST)


def test_verify_sns_reads_topic_attributes(moto):
    topic, queue = topic_with_queue(moto, "verify-me")
    assert verify("sns", sns_secret(moto), {"topic_arn": topic})["checked"] == [
        "schema", "sns_topic"]
    secret = {**sns_secret(moto), "region_name": "eu-west-1"}  # no topic to take it from
    assert verify("sns", secret)["checked"] == ["schema", "sns_credentials"]
    assert "Messages" not in aws(moto, "sqs").receive_message(QueueUrl=queue)


def test_boto3_is_imported_only_for_sns():
    code = ("import sys, shared.notify.dispatch, shared.notify.channels; "
            "assert 'boto3' not in sys.modules and 'botocore' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True,
                   env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})

