"""Start the real processes, as Knative would wire them: tests, benchmarks, demo.

Each function runs as `python -m functions_framework --target main --source
functions/<name>/main.py --port <free>`; the plugin endpoint as
`python -m functions.plugin` with one family; the simulator via its CLI when a
separate process is wanted. Every start polls until the process answers.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = ("collect", "cost", "alert_ingest", "notify")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def base_env(extra: dict | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NTNX_")}
    env["PYTHONPATH"] = str(ROOT)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


@dataclass
class Proc:
    name: str
    process: subprocess.Popen
    url: str = ""
    port: int = 0
    log_path: Path | None = None
    info: dict = field(default_factory=dict)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""


def _spawn(name: str, args: list[str], env: dict, log_dir: Path | None) -> tuple:
    log_path = None
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        log_path = log_dir / f"{name}.log"
        out = open(log_path, "wb")  # noqa: SIM115 - lives as long as the process
    else:
        out = subprocess.DEVNULL
    process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out,
                               stderr=subprocess.STDOUT)
    return process, log_path


def start_function(name: str, env: dict | None = None, *, log_dir: Path | None = None,
                   port: int | None = None, timeout_s: float = 30.0,
                   source: Path | None = None, python: str | None = None) -> Proc:
    """One function as its own functions-framework process, polled until it answers."""
    port = port or free_port()
    source = source or ROOT / "functions" / name / "main.py"
    args = [python or sys.executable, "-m", "functions_framework", "--target", "main",
            "--source", str(source),
            "--host", "127.0.0.1", "--port", str(port)]
    process, log_path = _spawn(name, args, base_env(env), log_dir)
    proc = Proc(name, process, f"http://127.0.0.1:{port}", port, log_path)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited early:\n{proc.log_text()[-2000:]}")
        try:
            requests.get(proc.url + "/healthz", timeout=1)
            return proc
        except (requests.ConnectionError, requests.Timeout):
            # gunicorn's socket accepts before its worker runs; slow on a busy machine
            time.sleep(0.05)
    proc.stop()
    raise RuntimeError(f"{name} did not answer within {timeout_s}s")


def start_plugin(family: str, env: dict | None = None, *, log_dir: Path | None = None,
                 timeout_s: float = 30.0, python: str | None = None) -> Proc:
    """The gRPC endpoint for one family, waited on until its channel is READY."""
    import grpc

    port = free_port()
    merged = {"NTNX_PLUGIN_FAMILY": family, "NTNX_PLUGIN_PORT": str(port), **(env or {})}
    args = [python or sys.executable, "-m", "functions.plugin"]
    process, log_path = _spawn(f"plugin-{family}", args, base_env(merged), log_dir)
    proc = Proc(f"plugin-{family}", process, f"127.0.0.1:{port}", port, log_path)
    channel = grpc.insecure_channel(proc.url)
    try:
        grpc.channel_ready_future(channel).result(timeout=timeout_s)
    except grpc.FutureTimeoutError:
        proc.stop()
        raise RuntimeError(f"plugin {family} not ready:\n{proc.log_text()[-2000:]}") from None
    finally:
        channel.close()
    return proc


def collect_behind_plugin(family: str, tmp_path_factory) -> Iterator[tuple]:
    """collect + the `family` endpoint wired as Knative wires them, a local-folder state store.

    For a module fixture: yields (channel to the endpoint, collect, plugin), stops both after.
    """
    import grpc

    logs = tmp_path_factory.mktemp("logs")
    env = {"NTNX_STATE_URL": f"file://{tmp_path_factory.mktemp('state')}"}
    collect = start_function("collect", env, log_dir=logs)
    plugin = start_plugin(family, {**env, "NTNX_COLLECT_URL": collect.url}, log_dir=logs)
    channel = grpc.insecure_channel(plugin.url)
    yield channel, collect, plugin
    channel.close()
    plugin.stop()
    collect.stop()


def start_simulator(args: list[str], *, log_dir: Path | None = None,
                    timeout_s: float = 120.0) -> Proc:
    """The simulator as a separate process (benchmarks: its CPU and memory are not ours)."""
    cmd = [sys.executable, "-m", "tests.simulator", "--port", "0", *args]
    process = subprocess.Popen(cmd, cwd=ROOT, env=base_env(), stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + timeout_s
    line = ""
    while time.monotonic() < deadline and not line.strip():
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            raise RuntimeError("simulator exited early")
    info = json.loads(line)
    url = info["url"]
    return Proc("simulator", process, url, int(url.rsplit(":", 1)[1]), None, info)
