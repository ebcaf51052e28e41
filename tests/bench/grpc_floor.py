"""The floor gRPC alone puts under bench-collect: a stream of N ResourceInfo, nothing else.

    python -m tests.bench.grpc_floor serve COUNT FILE   (prints its port, serves one stream)

The server process is grpcio's sync server as the plugin endpoint builds it
(thread pool, one message per resource as CloudForet's protocol has it); each
message is the same pre-encoded ResourceInfo read from FILE, so no mapping,
no CloudEvent and no Prism request is in the time. `stream_floor_s` measures
the receiving side as bench_collect's client does (a Collector stub that
parses each message), in the calling process.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from concurrent import futures
from pathlib import Path

import grpc
from spaceone.api.inventory.plugin import collector_pb2, collector_pb2_grpc

from functions.plugin.inventory import COLLECTOR_SERVICE


def serve(count: int, message: bytes) -> None:
    def collect(request, context):
        for _ in range(count):
            yield message

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=32))
    handler = grpc.unary_stream_rpc_method_handler(
        collect, request_deserializer=collector_pb2.CollectRequest.FromString,
        response_serializer=bytes)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(COLLECTOR_SERVICE, {"collect": handler}),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    sys.stdin.read()  # until the caller closes it
    server.stop(0)


def stream_floor_s(count: int, message: bytes) -> float:
    """Seconds to receive `count` copies of `message` from a bare server process."""
    with tempfile.NamedTemporaryFile(suffix=".bin") as file:
        Path(file.name).write_bytes(message)
        server = subprocess.Popen(
            [sys.executable, "-m", "tests.bench.grpc_floor", "serve", str(count), file.name],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            port = int(server.stdout.readline())
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                stub = collector_pb2_grpc.CollectorStub(channel)
                began = time.perf_counter()
                received = sum(1 for _ in stub.collect(collector_pb2.CollectRequest()))
                took = time.perf_counter() - began
        finally:
            server.stdin.close()
            server.wait(10)
    if received != count:
        raise RuntimeError(f"{received} of {count} messages arrived")
    return took


if __name__ == "__main__":
    if sys.argv[1:2] != ["serve"]:
        raise SystemExit(__doc__)
    serve(int(sys.argv[2]), Path(sys.argv[3]).read_bytes())
