"""One delivery attempt per channel (HTTP POST, SMTP, SNS), its failure classified.

Each function here tries once and raises `ReceiverUnavailable` (worth another
try: timeouts, connection errors, 429, 5xx, SMTP 4xx, SNS throttling) or
`DeliveryFailed` (the receiver said no for good: other 4xx, redirects, bad
address, SMTP 5xx, login refused, SNS NotFound/AuthorizationError). Retrying
is `dispatch.py`'s job, through `shared.retry.call_with_retry`.

Secrets stay out of every message and log line: a webhook URL's path holds
its token, so errors name only the URL's host; library exceptions (which
quote the URL, the request or the server's reply) are never shown and never
chained (`from None`).

Webhook signatures, for receivers to verify
-------------------------------------------
When a signing key is configured, every webhook POST carries

    X-Nutanix-Timestamp: <unix time in whole seconds>
    X-Nutanix-Signature: sha256=<hex HMAC-SHA256(key, "<timestamp>." + body)>

where `key` is the signing key's UTF-8 bytes and `body` the raw request body
bytes exactly as received (do not re-serialize the JSON). A receiver
recomputes the HMAC, compares with `hmac.compare_digest`, and rejects
timestamps more than 5 minutes from its clock (replays). Retries are signed
anew with a fresh timestamp. In Python:

    ts = headers["X-Nutanix-Timestamp"]
    mac = hmac.new(key.encode(), ts.encode() + b"." + body, hashlib.sha256)
    ok = hmac.compare_digest("sha256=" + mac.hexdigest(), headers["X-Nutanix-Signature"])
    ok = ok and abs(time.time() - int(ts)) <= 300

Every POST also carries `Idempotency-Key`: the same value on each of
CloudForet's up-to-three dispatches of one message (see message.py).
"""

from __future__ import annotations

import email.utils
import functools
import hashlib
import hmac
import json
import re
import smtplib
import socket
import ssl
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC
from email.message import EmailMessage
from urllib.parse import urlsplit

import requests

from shared.errors import DeliveryFailed, InvalidInput, PluginError, ReceiverUnavailable
from shared.notify.render import EmailParts, one_line
from shared.notify.schema import SMTP_PORTS

USER_AGENT = "cloudforet-nutanix-notify/1"
SIGNATURE_HEADER = "X-Nutanix-Signature"
TIMESTAMP_HEADER = "X-Nutanix-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
_SHORT_REASON = re.compile(r"[a-z][a-z0-9_]{1,40}")  # Slack-style codes: invalid_token


def host_of(url: str) -> str:
    """The only part of a receiver URL that may be shown: its host."""
    try:
        return urlsplit(url).hostname or "?"
    except ValueError:
        return "?"


# ---- HTTP: webhook, Slack, Teams -------------------------------------------------------

def sign(key: str, timestamp: str, body: bytes) -> str:
    """The X-Nutanix-Signature value for `body` sent at `timestamp` (recipe above)."""
    mac = hmac.new(key.encode("utf-8"), timestamp.encode("ascii") + b"." + body,
                   hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    value = (value or "").strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000": UTC by RFC 5322
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def post_json(url: str, payload: dict, *, what: str, idempotency_key: str,
              signing_key: str = "", headers: dict | None = None, verify_tls: bool = True,
              timeout_s: float = 10.0, now: Callable[[], float] = time.time) -> int:
    """POST `payload` once; the 2xx status, or a classified error naming only the host."""
    host = host_of(url)
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    sent = dict(headers or {})
    sent.update({"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT,
                 IDEMPOTENCY_HEADER: idempotency_key})
    if signing_key:
        timestamp = str(int(now()))
        sent[TIMESTAMP_HEADER] = timestamp
        sent[SIGNATURE_HEADER] = sign(signing_key, timestamp, body)
    try:
        with requests.post(url, data=body, headers=sent, timeout=timeout_s,
                           verify=verify_tls, allow_redirects=False) as resp:
            status, reply = resp.status_code, resp.text[:64].strip()
            retry_after = resp.headers.get("Retry-After")
    except requests.exceptions.Timeout:
        raise ReceiverUnavailable(f"{what} receiver {host} timed out") from None
    except requests.exceptions.SSLError:
        raise DeliveryFailed(f"TLS verification of {what} receiver {host} failed") from None
    except requests.exceptions.ConnectionError:
        raise ReceiverUnavailable(f"could not connect to {what} receiver {host}") from None
    except (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema,
            requests.exceptions.MissingSchema, requests.exceptions.InvalidHeader):
        raise DeliveryFailed(f"{what} receiver URL or headers are not usable") from None
    except requests.exceptions.RequestException:
        raise ReceiverUnavailable(f"{what} receiver {host} broke off the reply") from None
    if 200 <= status < 300:
        return status
    if status == 429 or status >= 500:
        raise ReceiverUnavailable(f"{what} receiver {host} answered HTTP {status}",
                                  retry_after=parse_retry_after(retry_after, now()))
    if 300 <= status < 400:
        raise DeliveryFailed(f"{what} receiver {host} redirected (HTTP {status}): "
                             "configure the final URL")
    reason = f" ({reply})" if _SHORT_REASON.fullmatch(reply) else ""
    raise DeliveryFailed(f"{what} receiver {host} refused the notification: "
                         f"HTTP {status}{reason}")


# ---- SMTP ------------------------------------------------------------------------------

@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    security: str  # starttls | ssl | none
    from_email: str
    from_name: str = ""
    user: str = ""
    password: str = field(default="", repr=False)
    verify_tls: bool = True
    ca_pem: str = field(default="", repr=False)
    timeout_s: float = 15.0

    @classmethod
    def from_secret(cls, secret: dict, *, timeout_s: float = 15.0) -> SmtpSettings:
        """From secret_data already checked by schema.check (defaults filled in)."""
        security = secret.get("security", "starttls")
        port = int(secret.get("smtp_port") or SMTP_PORTS[security])
        return cls(host=secret["smtp_host"], port=port, security=security,
                   from_email=secret["from_email"],
                   from_name=one_line(secret.get("from_name", "")),
                   user=secret.get("user", ""), password=secret.get("password", ""),
                   verify_tls=secret.get("verify_tls", True), ca_pem=secret.get("ca_pem", ""),
                   timeout_s=timeout_s)


def _tls_context(s: SmtpSettings) -> ssl.SSLContext:
    try:
        context = ssl.create_default_context(cadata=s.ca_pem or None)
    except (ssl.SSLError, ValueError):
        raise InvalidInput("invalid email configuration",
                           ["secret_data.ca_pem: is not a PEM certificate"]) from None
    if not s.verify_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _smtp_error(exc: Exception, s: SmtpSettings) -> PluginError:
    """SMTP's own rule: 4xx is "try again later", 5xx is "no"."""
    where = f"SMTP server {s.host}"
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        if 400 <= exc.smtp_code < 500:
            return ReceiverUnavailable(f"{where} could not check the login now ({exc.smtp_code})")
        return DeliveryFailed(f"{where} refused the login ({exc.smtp_code})")
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return DeliveryFailed(f"{where} does not offer what is needed: {exc}")  # smtplib's text
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = {addr: reply[0] for addr, reply in exc.recipients.items()}
        if all(400 <= code < 500 for code in codes.values()):
            return ReceiverUnavailable(f"{where} deferred every recipient")
        return DeliveryFailed(f"{where} refused every recipient: "
                              + ", ".join(f"{a} ({c})" for a, c in sorted(codes.items())))
    if isinstance(exc, smtplib.SMTPResponseException):
        step = {smtplib.SMTPSenderRefused: "the sender", smtplib.SMTPDataError: "the message",
                smtplib.SMTPHeloError: "the greeting"}.get(type(exc), "the session")
        if 500 <= exc.smtp_code < 600:
            return DeliveryFailed(f"{where} refused {step} ({exc.smtp_code})")
        return ReceiverUnavailable(f"{where} deferred {step} ({exc.smtp_code})")
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return ReceiverUnavailable(f"{where} closed the connection")
    if isinstance(exc, smtplib.SMTPException):
        return DeliveryFailed(f"{where}: no usable login method")  # smtplib's only other case
    if isinstance(exc, ssl.SSLCertVerificationError):
        return DeliveryFailed(f"TLS verification of {where} failed")
    if isinstance(exc, ssl.SSLError):
        return DeliveryFailed(f"TLS with {where} failed: check security and port")
    if isinstance(exc, TimeoutError):
        return ReceiverUnavailable(f"{where} timed out")
    if isinstance(exc, socket.gaierror) and exc.errno == socket.EAI_NONAME:
        return DeliveryFailed(f"{where}: unknown host")
    return ReceiverUnavailable(f"could not connect to {where}")


@contextmanager
def _smtp_session(s: SmtpSettings):
    """Connected, encrypted as configured, logged in when a user is set."""
    context = _tls_context(s) if s.security != "none" else None
    if s.security == "ssl":
        smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout_s, context=context)
    else:
        smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout_s)
    try:
        smtp.ehlo()
        if s.security == "starttls":
            smtp.starttls(context=context)
            smtp.ehlo()
        if s.user:
            smtp.login(s.user, s.password)
        yield smtp
    finally:
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()


def build_mail(s: SmtpSettings, recipients: list[str], parts: EmailParts,
               idempotency_key: str, *, now: float | None = None) -> EmailMessage:
    """multipart/alternative (text, HTML); Message-ID from the idempotency key."""
    mail = EmailMessage()
    mail["Subject"] = parts.subject
    sender = email.utils.formataddr((s.from_name, s.from_email)) if s.from_name else None
    mail["From"] = sender or s.from_email
    mail["To"] = ", ".join(recipients)
    mail["Date"] = email.utils.formatdate(now, usegmt=True)
    mail["Message-ID"] = f"<{idempotency_key}@{s.from_email.rsplit('@', 1)[-1]}>"
    mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies
    mail.set_content(parts.text)
    mail.add_alternative(parts.html, subtype="html")
    return mail


def send_mail(s: SmtpSettings, recipients: list[str], parts: EmailParts,
              idempotency_key: str) -> list[str]:
    """Send once; the recipients the server refused while accepting others."""
    mail = build_mail(s, recipients, parts, idempotency_key)
    try:
        with _smtp_session(s) as smtp:
            refused = smtp.send_message(mail, from_addr=s.from_email, to_addrs=recipients)
    except (smtplib.SMTPException, OSError) as exc:
        raise _smtp_error(exc, s) from None
    return sorted(refused)


def check_smtp(s: SmtpSettings) -> None:
    """Connect, encrypt and log in as a delivery would, then leave without sending."""
    try:
        with _smtp_session(s) as smtp:
            smtp.noop()
    except (smtplib.SMTPException, OSError) as exc:
        raise _smtp_error(exc, s) from None


# ---- AWS SNS ---------------------------------------------------------------------------

_AWS_TRANSIENT = frozenset({"Throttling", "Throttled", "ThrottlingException", "InternalError",
                            "InternalFailure", "ServiceUnavailable", "KMSThrottling",
                            "RequestTimeout"})
_AWS_HINTS = {"NotFound": "the topic does not exist",
              "AuthorizationError": "the credentials may not use this topic",
              "InvalidClientTokenId": "bad AWS credentials",
              "SignatureDoesNotMatch": "bad AWS credentials",
              "UnrecognizedClientException": "bad AWS credentials",
              "ExpiredToken": "expired AWS credentials"}


@dataclass(frozen=True)
class SnsSettings:
    region_name: str | None = None  # None: boto3 reads AWS_REGION / its config
    endpoint_url: str = ""
    aws_access_key_id: str = field(default="", repr=False)
    aws_secret_access_key: str = field(default="", repr=False)
    aws_session_token: str = field(default="", repr=False)
    timeout_s: float = 10.0

    @classmethod
    def from_secret(cls, secret: dict, topic_arn: str = "", *,
                    timeout_s: float = 10.0) -> SnsSettings:
        """Region from secret_data, else from the topic ARN, else boto3's environment."""
        arn_region = topic_arn.split(":")[3] if topic_arn.count(":") >= 5 else ""
        return cls(region_name=secret.get("region_name") or arn_region or None,
                   endpoint_url=secret.get("endpoint_url", ""),
                   aws_access_key_id=secret.get("aws_access_key_id", ""),
                   aws_secret_access_key=secret.get("aws_secret_access_key", ""),
                   aws_session_token=secret.get("aws_session_token", ""),
                   timeout_s=timeout_s)

    @property
    def host(self) -> str:
        if self.endpoint_url:
            return host_of(self.endpoint_url)
        return f"sns.{self.region_name or 'default-region'}.amazonaws.com"


@functools.lru_cache(maxsize=16)
def _sns_client(s: SnsSettings):
    """boto3 only here (cold start of the other channels); botocore retries off."""
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(
        aws_access_key_id=s.aws_access_key_id or None,
        aws_secret_access_key=s.aws_secret_access_key or None,
        aws_session_token=s.aws_session_token or None)
    config = Config(retries={"total_max_attempts": 1}, connect_timeout=s.timeout_s,
                    read_timeout=s.timeout_s)
    return session.client("sns", region_name=s.region_name,
                          endpoint_url=s.endpoint_url or None, config=config)


def _sns_call(s: SnsSettings, what: str, call: Callable[[object], dict]) -> dict:
    from botocore import exceptions as aws

    try:
        return call(_sns_client(s))
    except aws.ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code in _AWS_TRANSIENT or status == 429 or status >= 500:
            raise ReceiverUnavailable(f"SNS {what} failed for now ({code or status})") from None
        hint = f": {_AWS_HINTS[code]}" if code in _AWS_HINTS else ""
        raise DeliveryFailed(f"SNS refused {what} ({code or status}){hint}") from None
    except (aws.NoCredentialsError, aws.PartialCredentialsError):
        raise DeliveryFailed("no AWS credentials: set them in secret_data or give the "
                             "function an AWS identity") from None
    except aws.NoRegionError:
        raise DeliveryFailed("no AWS region: set secret_data.region_name") from None
    except (aws.ConnectTimeoutError, aws.ReadTimeoutError):
        raise ReceiverUnavailable(f"SNS endpoint {s.host} timed out") from None
    except aws.SSLError:
        raise DeliveryFailed(f"TLS verification of SNS endpoint {s.host} failed") from None
    except aws.BotoCoreError:
        raise ReceiverUnavailable(f"could not reach SNS endpoint {s.host}") from None


def publish_sns(s: SnsSettings, topic_arn: str, publish: dict, idempotency_key: str,
                group_id: str) -> str:
    """Publish once; the SNS MessageId. FIFO topics get group and deduplication ids."""
    params = dict(publish, TopicArn=topic_arn)
    if topic_arn.endswith(".fifo"):
        params.update(MessageGroupId=group_id, MessageDeduplicationId=idempotency_key)
    reply = _sns_call(s, "the publish", lambda client: client.publish(**params))
    return str(reply.get("MessageId", ""))


def check_sns(s: SnsSettings, topic_arn: str = "") -> None:
    """Credentials and topic without publishing: GetTopicAttributes (ListTopics if no topic)."""
    if topic_arn:
        _sns_call(s, "GetTopicAttributes",
                  lambda client: client.get_topic_attributes(TopicArn=topic_arn))
    else:
        _sns_call(s, "ListTopics", lambda client: client.list_topics())
