"""Functions.fan_out against a real HTTP function: order, errors, and the window."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from functions.plugin.calls import Functions
from shared import events
from shared.config import Settings
from shared.errors import InvalidInput

WAIT_S = 10.0  # generous: only a broken window ever waits this long


class Shards(BaseHTTPRequestHandler):
    """Answers each collect event with its task once the test releases that task."""

    arrived: list = []
    released: dict = {}
    lock = threading.Condition()

    def do_POST(self):  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        task = body["task"]
        with self.lock:
            self.arrived.append(task)
            self.lock.notify_all()
            self.lock.wait_for(lambda: task in self.released, timeout=WAIT_S)
        if self.released.get(task) == "refuse":
            error = {"code": "INVALID_ARGUMENT", "message": f"shard {task}", "retryable": False}
            self.answer(events.ERROR, error)
        else:
            self.answer(events.reply_type(self.headers["ce-type"]), {"task": task})

    def answer(self, event_type: str, data: dict) -> None:
        raw = json.dumps(data).encode()
        self.send_response(200)
        for name, value in {"ce-specversion": "1.0", "ce-id": "r", "ce-source": "/test",
                            "ce-type": event_type, "Content-Type": "application/json",
                            "Content-Length": str(len(raw))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args):
        pass


@pytest.fixture
def functions():
    Shards.arrived, Shards.released = [], {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), Shards)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    yield Functions(Settings(collect_url=url, plugin_concurrency=2))
    with Shards.lock:
        Shards.released.update({task: "ok" for task in range(100)})
        Shards.lock.notify_all()
    server.shutdown()
    server.server_close()


def release(task: int, how: str = "ok") -> None:
    with Shards.lock:
        Shards.released[task] = how
        Shards.lock.notify_all()


def arrived(count: int) -> list:
    with Shards.lock:
        Shards.lock.wait_for(lambda: len(Shards.arrived) >= count, timeout=WAIT_S)
        return list(Shards.arrived)


def test_the_next_unit_is_sent_while_the_caller_holds_a_reply(functions):
    outcomes = functions.fan_out("collect", events.COLLECT, ({"task": n} for n in range(4)))
    release(1)
    first = next(outcomes)
    assert first.reply == {"task": 1} and first.error is None
    # the caller still holds shard 1's reply: shard 2 is on its way all the same,
    # shard 3 waits for a place in the window (0 and 2 fill it)
    assert sorted(arrived(3)) == [0, 1, 2]
    release(0, "refuse")
    second = next(outcomes)
    assert second.data == {"task": 0} and isinstance(second.error, InvalidInput)
    assert sorted(arrived(4)) == [0, 1, 2, 3]
    release(2)
    release(3)
    assert sorted(o.reply["task"] for o in outcomes) == [2, 3]
