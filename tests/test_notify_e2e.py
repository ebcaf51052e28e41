"""Notifications end to end: gRPC -> plugin endpoint -> notify function -> real receivers.

Every process is real: two plugin endpoints (`python -m functions.plugin`,
families `notification` and `alert_manager_notification`), the notify
function under functions-framework with a local state folder, and the
receivers in this process: an HTTP server for webhook, Slack and Teams,
aiosmtpd (STARTTLS with a trustme CA, AUTH) and moto's SNS/SQS server. The
tests call as CloudForet's client does (descriptors by reflection, requests
by ParseDict) and look at what arrives, or at the gRPC status that comes
back. Secrets are planted in URL paths, the signing key, the SMTP password
and AWS keys, and looked for in all three processes' logs. The repeat
window's clock is tested on `run.deliver` directly."""

from __future__ import annotations

import email
import email.policy
import json
import uuid
from urllib.parse import urlsplit

import grpc
import jsonschema
import pytest
import trustme
from google.protobuf import descriptor_pool, json_format, message_factory
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from shared.errors import Unavailable
from shared.notify import render, run, schema
from shared.notify.message import parse_message
from shared.state.local import LocalStore
from tests.demo_notify import WebhookReceiver, run_demo, signature_ok
from tests.mail_and_sns import aws, moto_server, start_smtp, topic_with_queue
from tests.notify_data import ALERT, AWS_SECRET, PASSWORD, TOKEN, WEBHOOK_EXPECTED, sns_secret
from tests.processes import free_port, start_function, start_plugin

SIGNING_KEY = "signing-key-s3cret"
SECRETS = (TOKEN, PASSWORD, AWS_SECRET, SIGNING_KEY)
FAST = {"retry_deadline_s": 5}  # options: transient failures retried, briefly


# ---- processes and receivers -----------------------------------------------------------

@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """notify + both protocol endpoints, wired like Knative wires them."""
    logs = tmp_path_factory.mktemp("logs")
    env = {"NTNX_STATE_URL": f"file://{tmp_path_factory.mktemp('state')}",
           "NTNX_LOG_LEVEL": "DEBUG"}
    notify = start_function("notify", env, log_dir=logs)
    plugins = {family: start_plugin(family, {**env, "NTNX_NOTIFY_URL": notify.url},
                                    log_dir=logs)
               for family in ("notification", "alert_manager_notification")}
    channels = {family: grpc.insecure_channel(proc.url) for family, proc in plugins.items()}
    clients = {family: Reflected(channel, PACKAGES[family])
               for family, channel in channels.items()}
    yield {"channels": channels, "clients": clients, "plugins": plugins, "notify": notify,
           "logs": logs}
    for channel in channels.values():
        channel.close()
    for proc in plugins.values():
        proc.stop()
    notify.stop()


@pytest.fixture(scope="module")
def http_rx():
    with WebhookReceiver(signing_key=SIGNING_KEY) as rx:
        yield rx


@pytest.fixture
def rx(http_rx):
    http_rx.clear()
    return http_rx


def hook(rx: WebhookReceiver) -> str:
    """A fresh receiver URL with a token in its path (a new destination per test)."""
    return rx.url_for(f"/hooks/{uuid.uuid4().hex[:8]}/{TOKEN}")


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


@pytest.fixture
def smtp(ca):
    """A fresh aiosmtpd with STARTTLS and AUTH: (sink, secret_data)."""
    controller, sink, secret = start_smtp(ca, PASSWORD, security="starttls", auth=True)
    yield sink, secret
    controller.stop()


@pytest.fixture(scope="module")
def moto():
    yield from moto_server()


# ---- calling the endpoints as CloudForet does -------------------------------------------

PACKAGES = {"notification": "spaceone.api.notification.plugin",
            "alert_manager_notification": "spaceone.api.alert_manager.plugin"}


class Reflected:
    """Calls as CloudForet's client makes them: descriptors by reflection, requests by ParseDict.

    The descriptors live in a pool of this endpoint's own, so alert_manager's
    protocol messages never meet its webhook messages (which another test
    module may have imported into this process).
    """

    def __init__(self, channel: grpc.Channel, package: str) -> None:
        self.channel, self.package = channel, package
        self.pool = descriptor_pool.DescriptorPool(ProtoReflectionDescriptorDatabase(channel))

    def call(self, service: str, method: str, request: dict) -> dict:
        found = self.pool.FindServiceByName(f"{self.package}.{service}").methods_by_name[method]
        request_cls = message_factory.GetMessageClass(found.input_type)
        reply_cls = message_factory.GetMessageClass(found.output_type)
        rpc = self.channel.unary_unary(f"/{self.package}.{service}/{method}",
                                       request_serializer=request_cls.SerializeToString,
                                       response_deserializer=reply_cls.FromString)
        reply = rpc(json_format.ParseDict(request, request_cls()), timeout=30)
        return json_format.MessageToDict(reply, preserving_proto_field_name=True)


def dispatch(stack, channel_kind: str, channel_data: dict, secret_data: dict | None = None,
             message: dict | None = None, notification_type: str = "ERROR", *,
             family: str = "notification", **options) -> None:
    """Notification.dispatch with options {channel: kind, **options}; raises grpc.RpcError."""
    stack["clients"][family].call("Notification", "dispatch", {
        "options": {"channel": channel_kind, **options}, "secret_data": secret_data or {},
        "channel_data": channel_data, "message": ALERT if message is None else message,
        "notification_type": notification_type})


def init(stack, options: dict | None = None, family: str = "notification") -> dict:
    return stack["clients"][family].call("Protocol", "init",
                                         {"options": options or {}})["metadata"]


def verify(stack, channel_kind: str, secret_data: dict, family: str = "notification") -> None:
    stack["clients"][family].call("Protocol", "verify", {
        "options": {"channel": channel_kind}, "secret_data": secret_data})


def refused(call, *args, **kwargs) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call(*args, **kwargs)
    return caught.value


# ---- the endpoints themselves ----------------------------------------------------------

def _services(channel) -> set[str]:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    answer = next(stub.ServerReflectionInfo(iter([
        reflection_pb2.ServerReflectionRequest(list_services="")])))
    return {s.name for s in answer.list_services_response.service}


def test_each_endpoint_serves_exactly_its_family(stack):
    notification = _services(stack["channels"]["notification"])
    assert {"spaceone.api.notification.plugin.Protocol",
            "spaceone.api.notification.plugin.Notification"} <= notification
    assert not any(".alert_manager." in name for name in notification)
    alert_manager = _services(stack["channels"]["alert_manager_notification"])
    assert {"spaceone.api.alert_manager.plugin.Protocol",
            "spaceone.api.alert_manager.plugin.Notification"} <= alert_manager
    assert not any(name.endswith((".Webhook", ".Event")) or ".notification.plugin." in name
                   for name in alert_manager)


EXAMPLE_DATA = {"webhook": {"url": "https://hooks.example.com/x", "headers": {"X-A": "b"}},
                "slack": {"webhook_url": "https://hooks.slack.com/services/T/B/x"},
                "teams": {"webhook_url": "https://x.webhook.office.com/webhookb2/y"},
                "email": {"email": "ops@example.com, oncall@example.org"},
                "sns": {"topic_arn": "arn:aws:sns:eu-west-1:123456789012:alerts"}}


@pytest.mark.parametrize("family", ["notification", "alert_manager_notification"])
@pytest.mark.parametrize("kind", schema.CHANNELS)
def test_init_publishes_the_channel_form(stack, family, kind):
    metadata = init(stack, {"channel": kind}, family)
    assert metadata["data_type"] == schema.DATA_TYPES[kind]
    assert metadata["data_type"] in ("PLAIN_TEXT", "SECRET")  # CloudForet's two values
    assert metadata["channel"] == kind
    published = metadata["data"]["schema"]
    jsonschema.Draft7Validator.check_schema(published)
    assert published["required"] == schema.CHANNEL_DATA_SCHEMAS[kind]["required"]
    jsonschema.validate(EXAMPLE_DATA[kind], published)  # what CloudForet does on channel create
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({}, published)
    jsonschema.Draft7Validator.check_schema(metadata["secret_data_schema"])
    assert metadata["options_schema"]["properties"]["channel"]["default"] == "webhook"


def test_init_with_empty_options_is_the_webhook_form(stack):
    """What the console gets: CloudForet calls init with empty options."""
    for family in ("notification", "alert_manager_notification"):
        metadata = init(stack, {}, family)
        assert metadata["channel"] == "webhook"
        assert metadata["data_type"] == "SECRET"
        assert set(metadata["data"]["schema"]["properties"]) == {
            "url", "headers", "signing_key", "verify_tls"}


def test_init_with_an_unknown_channel_is_invalid_argument(stack):
    err = refused(init, stack, {"channel": "pager"})
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.details() == ("ERROR_INVALID_ARGUMENT: invalid options: channel: must be one of "
                             "webhook, slack, teams, email, sns")


# ---- each channel, end to end ----------------------------------------------------------

def test_webhook_delivers_signed_json(stack, rx):
    url = hook(rx)
    dispatch(stack, "webhook", {"url": url, "headers": {"X-Team": "ops"}},
             {"signing_key": SIGNING_KEY})
    (arrival,) = rx.delivered()
    body = json.loads(arrival["body"])
    key = arrival["headers"]["Idempotency-Key"]
    assert body == {**WEBHOOK_EXPECTED, "idempotency_key": key}
    assert arrival["signature_ok"] is True  # the documented recipe, with the protocol's key
    assert arrival["headers"]["X-Team"] == "ops"
    assert arrival["headers"]["Content-Type"] == "application/json; charset=utf-8"
    assert arrival["path"] == urlsplit(url).path


def test_slack_delivers_block_kit(stack, rx):
    dispatch(stack, "slack", {"webhook_url": hook(rx)})
    (arrival,) = rx.delivered()
    body = json.loads(arrival["body"])
    assert body == render.to_slack(parse_message(ALERT, "ERROR"))
    assert body["blocks"][0]["text"]["text"] == "[Alerting] Cluster CPU usage high"
    assert body["attachments"][0]["color"] == "#E01E5A"
    assert {"type": "mrkdwn", "text": "*Count*\n3"} in body["attachments"][0]["blocks"][1][
        "fields"]
    assert "X-Nutanix-Signature" not in arrival["headers"]  # nobody to verify it


def test_teams_delivers_an_adaptive_card(stack, rx):
    dispatch(stack, "teams", {"webhook_url": hook(rx) + "?sig=" + TOKEN}, notification_type="INFO")
    (arrival,) = rx.delivered()
    body = json.loads(arrival["body"])
    assert body == render.to_teams(parse_message(ALERT, "INFO"))
    card = body["attachments"][0]["content"]
    assert card["type"] == "AdaptiveCard"
    assert card["body"][0]["style"] == "accent"
    assert card["actions"][1] == {"type": "Action.OpenUrl", "title": "Acknowledge Alerts",
                                  "url": "https://cb.example.com/ack"}


def test_email_delivers_both_parts_to_every_recipient(stack, smtp):
    sink, secret = smtp
    dispatch(stack, "email", {"email": "ops@example.com; oncall@example.org"}, secret)
    (envelope,) = sink.envelopes
    assert envelope.mail_from == "cloudforet@example.com"
    assert envelope.rcpt_tos == ["ops@example.com", "oncall@example.org"]
    mail = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
    assert mail["Subject"] == "[Alerting] Cluster CPU usage high"
    assert mail["From"] == "CloudForet <cloudforet@example.com>"
    assert mail["To"] == "ops@example.com, oncall@example.org"
    msg = parse_message(ALERT, "ERROR")
    assert mail["Message-ID"] == f"<{msg.idempotency_key}@example.com>"
    assert mail.get_content_type() == "multipart/alternative"
    text = mail.get_body(("plain",)).get_content().replace("\r\n", "\n")
    html = mail.get_body(("html",)).get_content().replace("\r\n", "\n")
    assert text == render.to_text(msg)
    assert html == render.to_html(msg)
    assert "Count: 3" in text and "<th" in html


def test_sns_publish_is_read_back_from_a_subscribed_queue(stack, moto):
    topic, queue = topic_with_queue(moto, f"alerts-{uuid.uuid4().hex[:8]}")
    dispatch(stack, "sns", {"topic_arn": topic}, sns_secret(moto))
    (received,) = aws(moto, "sqs").receive_message(QueueUrl=queue, WaitTimeSeconds=2)["Messages"]
    envelope = json.loads(received["Body"])
    assert envelope["TopicArn"] == topic
    assert envelope["Subject"] == "[Alerting] Cluster CPU usage high"
    body = json.loads(envelope["Message"])  # SQS subscribers get the webhook JSON
    assert body == {**WEBHOOK_EXPECTED, "idempotency_key": body["idempotency_key"]}
    assert envelope["MessageAttributes"]["severity"] == {"Type": "String", "Value": "ERROR"}


def test_alert_manager_family_delivers_its_typed_message(stack, rx):
    """NotificationMessage has no domain_name; its enum numbers differ, its names do not."""
    message = {k: v for k, v in ALERT.items() if k != "domain_name"}
    message["tags"] = [*ALERT["tags"][:3], {"key": "Count", "value": "3"}]  # typed: strings
    dispatch(stack, "webhook", {"url": hook(rx)}, message=message, notification_type="WARNING",
             family="alert_manager_notification")
    (arrival,) = rx.delivered()
    body = json.loads(arrival["body"])
    assert body == {**WEBHOOK_EXPECTED, "notification_type": "WARNING", "domain_name": "",
                    "idempotency_key": arrival["headers"]["Idempotency-Key"]}


def test_alert_manager_family_delivers_to_slack(stack, rx):
    message = {"title": "Disk full", "description": "vm-1 /var 100%"}
    dispatch(stack, "slack", {"webhook_url": hook(rx)}, message=message,
             notification_type="SUCCESS", family="alert_manager_notification")
    body = json.loads(rx.delivered()[0]["body"])
    assert body == render.to_slack(parse_message(message, "SUCCESS"))
    assert body["attachments"][0]["color"] == "#2EB67D"


# ---- CloudForet may dispatch up to three times ---------------------------------------

@pytest.mark.parametrize("kind", ["webhook", "slack"])
def test_repeated_dispatch_is_delivered_once(stack, rx, kind):
    data = {"url": hook(rx)} if kind == "webhook" else {"webhook_url": hook(rx)}
    for _ in range(3):
        dispatch(stack, kind, data)
    assert len(rx.delivered()) == 1
    other = {key: value + "-other" for key, value in data.items()}  # another destination
    dispatch(stack, kind, other)
    assert len(rx.delivered()) == 2
    dispatch(stack, kind, data, message={**ALERT, "description": "CPU 97%"})  # new content
    assert len(rx.delivered()) == 3


def test_repeat_check_can_be_switched_off(stack, rx):
    data = {"url": hook(rx)}
    dispatch(stack, "webhook", data, dedup_window_s=0)
    dispatch(stack, "webhook", data, dedup_window_s=0)
    first, second = rx.delivered()
    assert first["headers"]["Idempotency-Key"] == second["headers"]["Idempotency-Key"]


class BrokenStore(LocalStore):
    """A state store that fails every call, as an unreachable S3 would."""

    def get(self, key):
        raise Unavailable("state store unreachable")

    def put(self, key, data):
        raise Unavailable("state store unreachable")


def test_repeat_window_ends_and_spans_midnight(rx, tmp_path):
    """run.deliver directly, with a clock: the record is found across the day boundary."""
    store = LocalStore(tmp_path)
    data = {"options": {"channel": "webhook", "dedup_window_s": 600},
            "channel_data": {"url": hook(rx)}, "message": ALERT}
    midnight = 1_900_000_000 - 1_900_000_000 % 86400
    first = run.deliver(data, store, now=lambda: midnight - 10)
    assert first["attempts"] == 1
    repeat = run.deliver(data, store, now=lambda: midnight + 20)  # the next UTC day
    assert repeat == {"channel": "webhook", "idempotency_key": first["idempotency_key"],
                      "duplicate": True, "delivered_at": midnight - 10}
    assert len(rx.delivered()) == 1
    run.deliver(data, store, now=lambda: midnight + 600)  # 610 s later: a new notification
    assert len(rx.delivered()) == 2


def test_old_delivery_records_are_pruned(rx, tmp_path):
    store = LocalStore(tmp_path)
    day = 2_000_000_000 - 2_000_000_000 % 86400  # a day no other test prunes
    old = f"{run.DELIVERED}/{run._day(day - 3 * 86400)}/x.json"
    recent = f"{run.DELIVERED}/{run._day(day - 86400)}/y.json"
    store.put_json(old, {"delivered_at": 0})
    store.put_json(recent, {"delivered_at": 0})
    run.deliver({"channel_data": {"url": hook(rx)}, "message": ALERT}, store,
                now=lambda: day + 5)
    assert store.get(old) is None
    assert store.get(recent) is not None


def test_a_failing_state_store_never_stops_delivery(rx, tmp_path):
    data = {"channel_data": {"url": hook(rx)}, "message": ALERT}
    for _ in range(2):
        assert run.deliver(data, BrokenStore(tmp_path))["attempts"] == 1
    assert len(rx.delivered()) == 2  # at least once, when the record cannot be kept


# ---- failures: transient ones are retried, permanent ones answered at once -----------

def test_5xx_is_retried_with_the_same_body_and_key(stack, rx):
    rx.script = [(500, {}, 0.0), (502, {}, 0.0)]
    dispatch(stack, "webhook", {"url": hook(rx)}, {"signing_key": SIGNING_KEY}, **FAST)
    attempts = rx.received
    assert [a["status"] for a in attempts] == [500, 502, 200]
    assert len({a["body"] for a in attempts}) == 1
    assert len({a["headers"]["Idempotency-Key"] for a in attempts}) == 1
    assert all(a["signature_ok"] for a in attempts)  # each retry signed anew


def test_429_is_retried(stack, rx):
    rx.script = [(429, {"Retry-After": "0"}, 0.0)]
    dispatch(stack, "slack", {"webhook_url": hook(rx)}, **FAST)
    assert [a["status"] for a in rx.received] == [429, 200]


def test_5xx_beyond_the_deadline_is_unavailable(stack, rx):
    rx.script = [(503, {"Retry-After": "120"}, 0.0)]
    err = refused(dispatch, stack, "teams", {"webhook_url": hook(rx)}, **FAST)
    assert err.code() == grpc.StatusCode.UNAVAILABLE
    assert err.details() == "ERROR_UNAVAILABLE: Teams receiver 127.0.0.1 answered HTTP 503"
    assert len(rx.received) == 1  # Retry-After past the deadline: no pointless wait


def test_timeout_is_unavailable(stack, rx):
    rx.script = [(200, {}, 2.5)]
    err = refused(dispatch, stack, "webhook", {"url": hook(rx)}, timeout_s=1,
                  retry_deadline_s=0)
    assert err.code() == grpc.StatusCode.UNAVAILABLE
    assert err.details() == "ERROR_UNAVAILABLE: webhook receiver 127.0.0.1 timed out"
    assert len(rx.wait_for(1, timeout_s=5)) == 1  # it did arrive, late; no retry (deadline 0)


def test_connection_refused_is_unavailable(stack):
    url = f"http://127.0.0.1:{free_port()}/hooks/{TOKEN}"
    err = refused(dispatch, stack, "webhook", {"url": url}, retry_deadline_s=0)
    assert err.code() == grpc.StatusCode.UNAVAILABLE
    assert err.details() == "ERROR_UNAVAILABLE: could not connect to webhook receiver 127.0.0.1"


def test_4xx_fails_at_once_and_is_not_remembered(stack, rx):
    data = {"webhook_url": hook(rx)}
    rx.script = [(400, {}, 0.0)]
    err = refused(dispatch, stack, "slack", data, **FAST)
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert err.details() == ("ERROR_FAILED_PRECONDITION: Slack receiver 127.0.0.1 refused "
                             "the notification: HTTP 400 (invalid_payload)")
    assert len(rx.received) == 1
    dispatch(stack, "slack", data)  # fixed on the receiver's side: CloudForet's next try goes
    assert len(rx.delivered()) == 1


def test_bad_channel_data_is_invalid_argument_without_values(stack):
    err = refused(dispatch, stack, "webhook", {"url": f"ftp://x/{TOKEN}"})
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.details() == ("ERROR_INVALID_ARGUMENT: invalid webhook configuration: "
                             "channel_data.url: has the wrong format")


def test_message_without_title_is_invalid_argument(stack, rx):
    err = refused(dispatch, stack, "webhook", {"url": hook(rx)}, message={"description": "x"})
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "message.title: is required" in err.details()
    assert rx.received == []


def test_smtp_login_refused_fails_at_once(stack, smtp):
    sink, secret = smtp
    err = refused(dispatch, stack, "email", {"email": "ops@example.com"},
                  {**secret, "password": "wrong-" + PASSWORD}, **FAST)
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert err.details() == ("ERROR_FAILED_PRECONDITION: SMTP server 127.0.0.1 refused "
                             "the login (535)")
    assert sink.envelopes == []


def test_smtp_4xx_is_retried(stack, smtp):
    sink, secret = smtp
    sink.rcpt_replies = ["451 4.3.0 try again later"]
    dispatch(stack, "email", {"email": "ops@example.com"}, secret, **FAST)
    assert len(sink.envelopes) == 1
    assert sink.envelopes[0].rcpt_tos == ["ops@example.com"]


def test_smtp_refused_address_fails(stack, smtp):
    sink, secret = smtp
    sink.rcpt_replies = ["550 5.1.1 no such user"]
    err = refused(dispatch, stack, "email", {"email": "nobody@example.com"}, secret, **FAST)
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert err.details().endswith("refused every recipient: nobody@example.com (550)")


def test_malformed_address_is_invalid_argument(stack, smtp):
    _, secret = smtp
    err = refused(dispatch, stack, "email", {"email": "ops at example.com"}, secret)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "channel_data.email: has the wrong format" in err.details()


def test_sns_missing_topic_fails(stack, moto):
    topic = "arn:aws:sns:eu-west-1:123456789012:no-such-topic"
    err = refused(dispatch, stack, "sns", {"topic_arn": topic}, sns_secret(moto))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert err.details() == ("ERROR_FAILED_PRECONDITION: SNS refused the publish (NotFound): "
                             "the topic does not exist")


# ---- Protocol.verify, per channel -------------------------------------------------------

@pytest.mark.parametrize("kind", ["webhook", "slack", "teams"])
def test_verify_http_channels_accepts_their_secret_data(stack, kind):
    """Syntax only: the one test of a webhook is a message, and verify has no destination."""
    verify(stack, kind, {"signing_key": SIGNING_KEY} if kind == "webhook" else {})


def test_verify_webhook_refuses_a_bad_signing_key(stack):
    err = refused(verify, stack, "webhook", {"signing_key": 5})
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.details() == ("ERROR_INVALID_ARGUMENT: invalid webhook configuration: "
                             "secret_data.signing_key: must be string")


def test_verify_email_logs_in_without_sending(stack, smtp):
    sink, secret = smtp
    verify(stack, "email", secret, family="alert_manager_notification")
    assert sink.envelopes == []
    err = refused(verify, stack, "email", {**secret, "password": "nope"})
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    err = refused(verify, stack, "email", {"from_email": "a@example.com"})
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "secret_data.smtp_host: is required" in err.details()


def test_verify_sns_checks_credentials(stack, moto):
    verify(stack, "sns", {**sns_secret(moto), "region_name": "eu-west-1"})
    err = refused(verify, stack, "sns", {"aws_access_key_id": "AKIDEXAMPLE"})
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT


# ---- the demo helper, and what the logs hold -------------------------------------------

def test_demo_sends_one_signed_notification(stack):
    result = run_demo(stack["plugins"]["notification"].url)
    assert result["signature_ok"] is True
    assert result["received"]["title"] == result["sent"]["title"]
    assert result["received"]["idempotency_key"] == result["idempotency_key"]


def test_signature_check_rejects_a_changed_body():
    headers = {"X-Nutanix-Timestamp": "1", "X-Nutanix-Signature": "sha256=00"}
    assert not signature_ok("k", headers, b"{}")


def test_no_secret_in_any_log(stack):
    """Runs last: every call above, failures included, has been logged by now."""
    texts = [path.read_text(errors="replace") for path in stack["logs"].glob("*.log")]
    assert len(texts) == 3 and all(texts)
    joined = "\n".join(texts)
    assert "notification delivered" in joined  # the logs are really there
    for secret in SECRETS:
        assert secret not in joined
