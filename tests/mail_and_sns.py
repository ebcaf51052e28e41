"""Real mail and SNS receivers for the notify tests: aiosmtpd and moto's server.

Used by tests/test_notify_core.py and tests/test_notify_e2e.py alike.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from typing import TYPE_CHECKING

import boto3
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from moto.server import ThreadedMotoServer

if TYPE_CHECKING:
    import trustme

SMTP_USER = "notify"


class PortZeroController(Controller):
    """aiosmtpd on port 0: learn the port before the start-up probe connects."""

    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class MailSink:
    """Records envelopes and logins; RCPT answers can be scripted."""

    def __init__(self, password: str = "") -> None:
        self.password = password
        self.envelopes: list = []
        self.logins: list[tuple[bytes, bytes]] = []
        self.rcpt_replies: list[str] = []  # scripted RCPT answers, then 250

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if self.rcpt_replies:
            return self.rcpt_replies.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.envelopes.append(envelope)
        return "250 Message accepted"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        self.logins.append((auth_data.login, auth_data.password))
        ok = auth_data.login == SMTP_USER.encode() and auth_data.password == self.password.encode()
        return AuthResult(success=ok, handled=False, auth_data=auth_data)


def start_smtp(ca: trustme.CA, password: str, *, security: str = "none",
               auth: bool = False) -> tuple[Controller, MailSink, dict]:
    """aiosmtpd on 127.0.0.1 (`security` none, starttls or ssl, with a cert from `ca`).

    Returns the controller (stop it), the sink, and the secret_data that
    reaches it: with `auth`, the server asks for SMTP_USER and `password`.
    """
    sink = MailSink(password)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    kwargs: dict = {}
    if security == "starttls":
        kwargs["tls_context"] = context
    if security == "ssl":
        kwargs.update(ssl_context=context, auth_require_tls=False)
    if auth:
        kwargs["authenticator"] = sink.authenticate
    controller = PortZeroController(sink, hostname="127.0.0.1", port=0, **kwargs)
    controller.start()
    secret = {"smtp_host": "127.0.0.1", "smtp_port": controller.port, "security": security,
              "from_email": "cloudforet@example.com", "from_name": "CloudForet",
              "ca_pem": ca.cert_pem.bytes().decode()}
    if auth:
        secret.update(user=SMTP_USER, password=password)
    return controller, sink, secret


def moto_server() -> Iterator[str]:
    """A real AWS API (SNS, SQS) on a free loopback port, for a pytest fixture."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def aws(moto: str, service: str):
    return boto3.client(service, region_name="eu-west-1", endpoint_url=moto,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def topic_with_queue(moto: str, name: str) -> tuple[str, str]:
    """(topic ARN, queue URL) with the queue subscribed to the topic."""
    sns, sqs = aws(moto, "sns"), aws(moto, "sqs")
    fifo = name.endswith(".fifo")
    arn = sns.create_topic(Name=name, Attributes={"FifoTopic": "true"} if fifo else {})
    queue = sqs.create_queue(QueueName=name, Attributes={"FifoQueue": "true"} if fifo else {})
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue["QueueUrl"],
                                         AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=arn["TopicArn"], Protocol="sqs", Endpoint=queue_arn)
    return arn["TopicArn"], queue["QueueUrl"]
