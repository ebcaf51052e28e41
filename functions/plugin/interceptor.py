"""One interceptor for every rpc: log context, timing, and error translation.

`PluginError`s become `context.abort(StatusCode[err.grpc_code],
"ERROR_<CODE>: <message>")`, the detail format CloudForet splits into code
and message (spec cloudforet/identity.md section 6). Anything else becomes
INTERNAL "internal error, call <id>" with the traceback only in our log.
"""

from __future__ import annotations

import logging
import time
import uuid

import grpc

from shared import logs
from shared.errors import PluginError

log = logging.getLogger(__name__)

_SKIP = ("/grpc.health.", "/grpc.reflection.")


def _abort(context, err: Exception, call_id: str, rpc: str) -> None:
    if isinstance(err, PluginError):
        log.info("rpc failed: %s", err.grpc_code, extra={"rpc": rpc})
        context.abort(grpc.StatusCode[err.grpc_code], f"ERROR_{err.grpc_code}: {err}")
    log.error("rpc crashed", exc_info=err, extra={"rpc": rpc})
    context.abort(grpc.StatusCode.INTERNAL, f"ERROR_INTERNAL: internal error, call {call_id}")


def _wrap_unary(behaviour, rpc: str):
    def handler(request, context):
        call_id = uuid.uuid4().hex[:16]
        token = logs.event_id.set(call_id)
        started = time.monotonic()
        try:
            return behaviour(request, context)
        except Exception as err:  # noqa: BLE001 - the edge translates everything
            _abort(context, err, call_id, rpc)
        finally:
            log.info("rpc done", extra={"rpc": rpc,
                                        "elapsed_ms": int((time.monotonic() - started) * 1000)})
            logs.event_id.reset(token)
    return handler


def _wrap_stream(behaviour, rpc: str):
    def handler(request, context):
        call_id = uuid.uuid4().hex[:16]
        token = logs.event_id.set(call_id)
        started, count = time.monotonic(), 0
        try:
            for item in behaviour(request, context):
                count += 1
                yield item
        except Exception as err:  # noqa: BLE001
            _abort(context, err, call_id, rpc)
        finally:
            log.info("stream done", extra={"rpc": rpc, "count": count,
                                           "elapsed_ms": int((time.monotonic() - started) * 1000)})
            logs.event_id.reset(token)
    return handler


class ErrorInterceptor(grpc.ServerInterceptor):
    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or method.startswith(_SKIP):
            return handler
        rpc = method.rsplit(".", 1)[-1]
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                _wrap_unary(handler.unary_unary, rpc),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer)
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                _wrap_stream(handler.unary_stream, rpc),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer)
        return handler
