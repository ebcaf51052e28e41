"""The few error types of the project, and nothing else.

Every error raised on purpose is a `PluginError`: its message is safe to show a
CloudForet user (no secret, header, body or payload ever goes into one). Each
edge translates it once: the gRPC interceptor aborts with `grpc_code`, the
function adapter answers an error reply `{code, message, retryable}`.
`grpc_code` is a status *name* so that `shared/` never imports grpc.

    PluginError                    INTERNAL
    ├── InvalidInput               INVALID_ARGUMENT   bad options, secret_data, webhook, event
    ├── DeliveryFailed             FAILED_PRECONDITION a receiver refused for good
    ├── ReceiverUnavailable        UNAVAILABLE        a receiver failed for now, retryable
    └── PrismError                 (.status, .retry_after)
        ├── AuthenticationFailed   UNAUTHENTICATED    401
        ├── PermissionDenied       PERMISSION_DENIED  403
        ├── NotFound               NOT_FOUND          404
        ├── RateLimited            RESOURCE_EXHAUSTED 429, retryable
        ├── Unavailable            UNAVAILABLE        5xx, reset, timeout, retryable
        └── BadResponse            INTERNAL           unparsable or wrong-shaped body
"""

from __future__ import annotations

MAX_MESSAGE = 300  # Prism's own message is kept, truncated: enough to act on


def _clip(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


class PluginError(Exception):
    """Raised on purpose. Its message is safe to show a CloudForet user."""

    grpc_code = "INTERNAL"
    retryable = False

    def __init__(self, message: str) -> None:
        super().__init__(_clip(message))

    @property
    def message(self) -> str:
        return str(self)

    def to_dict(self) -> dict:
        """The error reply body the functions send and the plugin reads back."""
        return {"code": self.grpc_code, "message": self.message, "retryable": self.retryable}


class InvalidInput(PluginError):
    """Bad options, secret_data, webhook body or event data; lists every problem."""

    grpc_code = "INVALID_ARGUMENT"

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        self.problems = list(problems or [])
        if self.problems:
            message = f"{message}: " + "; ".join(self.problems)
        super().__init__(message)


class DeliveryFailed(PluginError):
    """A receiver refused for good (4xx, bad address, auth refused): do not retry."""

    grpc_code = "FAILED_PRECONDITION"


class ReceiverUnavailable(PluginError):
    """A notification or alert receiver failed for now (timeout, 429, 5xx, SMTP 4xx)."""

    grpc_code = "UNAVAILABLE"
    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PrismError(PluginError):
    """An answer (or no answer) from Prism Central that stops the call."""

    def __init__(self, message: str, *, status: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class AuthenticationFailed(PrismError):
    grpc_code = "UNAUTHENTICATED"


class PermissionDenied(PrismError):
    grpc_code = "PERMISSION_DENIED"


class NotFound(PrismError):
    grpc_code = "NOT_FOUND"


class RateLimited(PrismError):
    grpc_code = "RESOURCE_EXHAUSTED"
    retryable = True


class Unavailable(PrismError):
    grpc_code = "UNAVAILABLE"
    retryable = True


class BadResponse(PrismError):
    grpc_code = "INTERNAL"


_BY_CODE = {cls.grpc_code: cls for cls in (InvalidInput, DeliveryFailed, AuthenticationFailed,
                                             PermissionDenied, NotFound, RateLimited,
                                             Unavailable)}  # UNAVAILABLE -> Unavailable


def from_dict(body: dict) -> PluginError:
    """Rebuild an error from an error reply `{code, message, retryable}` (plugin side)."""
    cls = _BY_CODE.get(str(body.get("code")), PluginError)
    err = cls.__new__(cls)
    PluginError.__init__(err, str(body.get("message") or "error"))
    if isinstance(err, InvalidInput):
        err.problems = []
    if isinstance(err, PrismError):
        err.status, err.retry_after = None, None
    err.retryable = bool(body.get("retryable", err.retryable))
    return err
