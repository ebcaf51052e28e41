"""`python -m functions.plugin`: serve one family on NTNX_PLUGIN_PORT until SIGTERM."""

from __future__ import annotations

import logging
import signal
import threading

from functions.plugin.server import DEFAULT_FAMILY, create_server
from shared import logs
from shared.config import Settings

log = logging.getLogger("functions.plugin")


def main() -> None:
    settings = Settings.from_env()
    logs.setup(settings.log_level)
    server, port = create_server(f"[::]:{settings.plugin_port}", settings=settings)
    server.start()
    family = settings.plugin_family or DEFAULT_FAMILY
    log.info("plugin endpoint serving %s on port %s", family, port,
             extra={"family": family})
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop(grace=5).wait()


if __name__ == "__main__":
    main()
