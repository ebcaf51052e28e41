"""Process settings from the environment: read once, validated, one prefix.

Every environment variable the project reads is declared in `ENV` below (the
Knative manifests and `make run` set exactly these; a test cross-checks).
Per-call configuration (options, secret_data) does not live here: it arrives
with each event and is validated by `shared/options.py`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from shared.errors import InvalidInput

PREFIX = "NTNX_"

# name -> what it is. Secrets are marked so nothing prints them.
ENV: dict[str, str] = {
    "NTNX_LOG_LEVEL": "DEBUG, INFO (default), WARNING, ERROR",
    # Prism Central for periodic runs (PingSources carry no secret_data)
    "NTNX_PRISM_HOST": "Prism Central address for periodic runs",
    "NTNX_PRISM_PORT": "Prism Central port (default 9440)",
    "NTNX_PRISM_USERNAME": "user for Basic auth (periodic runs)",
    "NTNX_PRISM_PASSWORD": "secret: password for Basic auth (periodic runs)",
    "NTNX_PRISM_API_KEY": "secret: X-ntnx-api-key (periodic runs)",
    "NTNX_PRISM_CA_PEM": "CA bundle as PEM text or a file path",
    "NTNX_PRISM_VERIFY_TLS": "true (default) or false to skip TLS verification",
    # state store
    "NTNX_STATE_URL": "file:///path (default ./.state) or s3://bucket/prefix",
    "NTNX_S3_ENDPOINT_URL": "S3 API endpoint (MinIO, Nutanix Objects); empty for AWS",
    "NTNX_S3_REGION": "S3 region (default us-east-1)",
    "NTNX_REPLY_LIMIT_BYTES": "replies larger than this go to the state store (dataref)",
    # where the functions are (the plugin endpoint and the functions' own calls)
    "NTNX_COLLECT_URL": "collect function URL",
    "NTNX_COST_URL": "cost function URL",
    "NTNX_ALERT_INGEST_URL": "alert_ingest function URL",
    "NTNX_NOTIFY_URL": "notify function URL",
    # plugin endpoint
    "NTNX_PLUGIN_FAMILY": "protocol family this endpoint process serves",
    "NTNX_PLUGIN_PORT": "gRPC port (default 50051)",
    "NTNX_PLUGIN_CONCURRENCY": "CloudEvents in flight per gRPC call (default 8)",
    # alert_ingest
    "NTNX_WEBHOOK_TOKEN": "secret: token Prism must send (X-Webhook-Token or Bearer)",
    "NTNX_WEBHOOK_USERNAME": "Basic-auth user Prism may send instead of the token",
    "NTNX_WEBHOOK_PASSWORD": "secret: Basic-auth password for the webhook",
    "NTNX_WEBHOOK_MAX_BYTES": "largest webhook body accepted (default 1 MiB)",
    "NTNX_ALERT_FORWARD_URL": "secret: CloudForet webhook URL events are forwarded to",
}

SECRET_ENV = frozenset(k for k, v in ENV.items() if v.startswith("secret:"))
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _int(env: Mapping[str, str], name: str, default: int, problems: list[str]) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        problems.append(f"{name} must be an integer")
        return default
    if value <= 0:
        problems.append(f"{name} must be positive")
        return default
    return value


def _bool(env: Mapping[str, str], name: str, default: bool, problems: list[str]) -> bool:
    raw = env.get(name, "").strip()
    if not raw:
        return default  # unset and empty both mean "the default"
    if raw.strip().lower() in _TRUE:
        return True
    if raw.strip().lower() in _FALSE:
        return False
    problems.append(f"{name} must be true or false")
    return default


@dataclass(frozen=True)
class PrismEnv:
    """Prism Central connection for periodic runs, in the shape of secret_data."""

    host: str = ""
    port: int = 9440
    username: str = ""
    password: str = field(default="", repr=False)
    api_key: str = field(default="", repr=False)
    ca_pem: str = field(default="", repr=False)
    verify_tls: bool = True

    def as_secret_data(self) -> dict:
        """The same keys a CloudForet secret carries (see shared/options.py)."""
        data = {"host": self.host, "port": self.port, "verify_tls": self.verify_tls}
        for key in ("username", "password", "api_key", "ca_pem"):
            if getattr(self, key):
                data[key] = getattr(self, key)
        return data


@dataclass(frozen=True)
class Settings:
    log_level: str = "INFO"
    prism: PrismEnv = field(default_factory=PrismEnv)
    state_url: str = "file://./.state"
    s3_endpoint_url: str = ""
    s3_region: str = "us-east-1"
    reply_limit_bytes: int = 4 * 1024 * 1024
    collect_url: str = "http://nutanix-collect.cloudforet-nutanix.svc.cluster.local"
    cost_url: str = "http://nutanix-cost.cloudforet-nutanix.svc.cluster.local"
    alert_ingest_url: str = "http://nutanix-alert-ingest.cloudforet-nutanix.svc.cluster.local"
    notify_url: str = "http://nutanix-notify.cloudforet-nutanix.svc.cluster.local"
    plugin_family: str = ""
    plugin_port: int = 50051
    plugin_concurrency: int = 8
    webhook_token: str = field(default="", repr=False)
    webhook_username: str = ""
    webhook_password: str = field(default="", repr=False)
    webhook_max_bytes: int = 1024 * 1024
    alert_forward_url: str = field(default="", repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build from the environment; every problem is reported at once."""
        env = os.environ if env is None else env
        problems: list[str] = []
        level = env.get("NTNX_LOG_LEVEL", "INFO").upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            problems.append("NTNX_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR")
            level = "INFO"
        state_url = env.get("NTNX_STATE_URL", "").strip() or cls.state_url
        if not state_url.startswith(("file://", "s3://")):
            problems.append("NTNX_STATE_URL must start with file:// or s3://")
        prism = PrismEnv(
            host=env.get("NTNX_PRISM_HOST", "").strip(),
            port=_int(env, "NTNX_PRISM_PORT", 9440, problems),
            username=env.get("NTNX_PRISM_USERNAME", ""),
            password=env.get("NTNX_PRISM_PASSWORD", ""),
            api_key=env.get("NTNX_PRISM_API_KEY", ""),
            ca_pem=env.get("NTNX_PRISM_CA_PEM", ""),
            verify_tls=_bool(env, "NTNX_PRISM_VERIFY_TLS", True, problems),
        )
        defaults = cls()
        settings = cls(
            log_level=level,
            prism=prism,
            state_url=state_url,
            s3_endpoint_url=env.get("NTNX_S3_ENDPOINT_URL", "").strip(),
            s3_region=env.get("NTNX_S3_REGION", "").strip() or defaults.s3_region,
            reply_limit_bytes=_int(env, "NTNX_REPLY_LIMIT_BYTES", defaults.reply_limit_bytes,
                                   problems),
            collect_url=env.get("NTNX_COLLECT_URL", "").strip() or defaults.collect_url,
            cost_url=env.get("NTNX_COST_URL", "").strip() or defaults.cost_url,
            alert_ingest_url=(env.get("NTNX_ALERT_INGEST_URL", "").strip()
                              or defaults.alert_ingest_url),
            notify_url=env.get("NTNX_NOTIFY_URL", "").strip() or defaults.notify_url,
            plugin_family=env.get("NTNX_PLUGIN_FAMILY", "").strip(),
            plugin_port=_int(env, "NTNX_PLUGIN_PORT", defaults.plugin_port, problems),
            plugin_concurrency=_int(env, "NTNX_PLUGIN_CONCURRENCY",
                                    defaults.plugin_concurrency, problems),
            webhook_token=env.get("NTNX_WEBHOOK_TOKEN", ""),
            webhook_username=env.get("NTNX_WEBHOOK_USERNAME", ""),
            webhook_password=env.get("NTNX_WEBHOOK_PASSWORD", ""),
            webhook_max_bytes=_int(env, "NTNX_WEBHOOK_MAX_BYTES", defaults.webhook_max_bytes,
                                   problems),
            alert_forward_url=env.get("NTNX_ALERT_FORWARD_URL", "").strip(),
        )
        if problems:
            raise InvalidInput("bad environment", problems)
        return settings
