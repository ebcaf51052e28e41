"""The S3-API state store: AWS S3, MinIO, Nutanix Objects, through boto3.

Imported only by `open_store` for an `s3://` URL, so boto3's import cost is
paid only where S3 is used. Credentials come from boto3's default chain
(environment, shared files, instance or pod role): never from settings, never
in a message. botocore failures become PluginErrors: connection trouble,
timeouts, throttling and 5xx are `Unavailable` (retryable); anything else is
an INTERNAL PluginError naming the S3 error code only.
"""

from __future__ import annotations

from collections.abc import Iterator

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    CredentialRetrievalError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from shared.errors import PluginError, Unavailable
from shared.state import StateStore, _check_prefix, check_key

_RETRY_CODES = frozenset({"SlowDown", "RequestTimeout", "ServiceUnavailable", "InternalError",
                          "Throttling", "ThrottlingException"})
_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})


def _translate(op: str, key: str, exc: Exception) -> PluginError:
    what = f"state store {op} {key}" if key else f"state store {op}"
    if isinstance(exc, (BotoConnectionError, HTTPClientError)):
        return Unavailable(f"{what}: S3 endpoint unreachable or timed out")
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError,
                        CredentialRetrievalError)):
        return PluginError(f"{what}: no usable S3 credentials in the environment")
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", "unknown"))[:60]
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        if status >= 500 or code in _RETRY_CODES:
            return Unavailable(f"{what}: S3 answered {code}", status=status or None)
        return PluginError(f"{what}: S3 refused with {code}")
    return PluginError(f"{what}: {type(exc).__name__}")


class S3Store(StateStore):
    """Keys live under `prefix` in `bucket`; S3 lists them in byte order already."""

    _quoted_urls = False  # s3:// URIs carry keys as they are (as the AWS CLI writes them)
    page_size = 1000  # keys per list call (S3's maximum)

    def __init__(self, bucket: str, prefix: str = "", *, endpoint_url: str = "",
                 region: str = "", attempts: int = 3, connect_timeout_s: float = 5.0,
                 read_timeout_s: float = 60.0) -> None:
        prefix = prefix.strip("/")
        self.bucket = bucket
        self.prefix = check_key(prefix) + "/" if prefix else ""
        config = Config(
            connect_timeout=connect_timeout_s, read_timeout=read_timeout_s,
            retries={"max_attempts": attempts, "mode": "standard"},
            max_pool_connections=32,  # the plugin's fan-out window, with room
            # MinIO and Nutanix Objects: path-style addressing, and no default
            # CRC checksums (newer botocore sends them; not every S3 API takes them)
            s3={"addressing_style": "path"} if endpoint_url else None,
            request_checksum_calculation="when_required" if endpoint_url else None,
            response_checksum_validation="when_required" if endpoint_url else None,
        )
        self._client = boto3.session.Session().client(
            "s3", endpoint_url=endpoint_url or None, region_name=region or None, config=config)

    def __repr__(self) -> str:
        return f"S3Store({self.url('')!r})"

    def put(self, key: str, data: bytes) -> None:
        full = self.prefix + check_key(key)
        try:
            self._client.put_object(Bucket=self.bucket, Key=full, Body=data)
        except (BotoCoreError, ClientError) as exc:
            raise _translate("write", key, exc) from exc

    def get(self, key: str) -> bytes | None:
        full = self.prefix + check_key(key)
        try:
            return self._client.get_object(Bucket=self.bucket, Key=full)["Body"].read()
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in _MISSING:
                return None
            raise _translate("read", key, exc) from exc
        except BotoCoreError as exc:
            raise _translate("read", key, exc) from exc

    def delete(self, key: str) -> None:
        full = self.prefix + check_key(key)
        try:
            self._client.delete_object(Bucket=self.bucket, Key=full)
        except (BotoCoreError, ClientError) as exc:
            raise _translate("delete", key, exc) from exc

    def list(self, prefix: str = "") -> Iterator[str]:
        full = self.prefix + _check_prefix(prefix)
        return self._iter_keys(full, prefix)

    def _iter_keys(self, full: str, prefix: str) -> Iterator[str]:
        paginator = self._client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=full,
                                           PaginationConfig={"PageSize": self.page_size}):
                for item in page.get("Contents", ()):
                    yield item["Key"][len(self.prefix):]
        except (BotoCoreError, ClientError) as exc:
            raise _translate("list", prefix, exc) from exc

    def url(self, key: str = "") -> str:
        return f"s3://{self.bucket}/{self.prefix}{check_key(key) if key else ''}"
