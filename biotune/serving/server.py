"""Running the service: uvicorn as a `ClosingServer`, which answers queued requests 503 at once when
SIGINT or SIGTERM comes, lets the batch being computed finish and be answered, and logs one line
with the count; a second Ctrl-C answers that batch's requests 503 too. No request is left to be
cancelled mid-answer, which is what printed a traceback per open request.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from collections.abc import Sequence
from contextlib import suppress

import uvicorn
from fastapi import FastAPI

from biotune.serving.batcher import MicroBatcher

# Seconds a forced shutdown (a second Ctrl-C) waits for the requests it answered 503 to be sent.
_FORCED_ANSWER_S = 2.0


class ClosingServer(uvicorn.Server):
    """uvicorn's server, shutting the service down when the signal comes, not once every request is answered.

    uvicorn answers SIGINT or SIGTERM by waiting for every open request, queued ones included,
    before the app's lifespan ends; a second Ctrl-C then cancels the requests still open, each
    cancellation a traceback in the log. Here the first signal closes the app's batchers: the
    queued requests are answered 503 at once and the batch being computed finishes, so the wait
    is one batch. A second signal answers that batch's requests 503 too and ends the app's
    lifespan itself (uvicorn skips it when forced), so nothing is left to cancel.
    """

    def __init__(self, config: uvicorn.Config, batchers: Sequence[MicroBatcher]) -> None:
        super().__init__(config)
        self.batchers = batchers

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's `serve`, except that a Ctrl-C that stopped the server cleanly is not raised again
        once it has stopped: stopping the service was the whole request (exit status 0). A SIGTERM
        is still raised again, so a supervisor sees the process end by it. (uvicorn 0.54 keeps the
        signals it handled in `_captured_signals` and raises them again as `capture_signals` ends.)"""
        with self.capture_signals():
            await self._serve(sockets)
            self._captured_signals = [s for s in self._captured_signals if s != signal.SIGINT]

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        cancelled = sum(batcher.close() for batcher in self.batchers)
        # uvicorn's own logger: this line belongs in the server log beside its start and stop lines
        logging.getLogger("uvicorn.error").info("biotune serve: shutting down, %d queued requests cancelled",
                                                cancelled)
        await super().shutdown(sockets)
        if not self.force_exit:
            return
        for batcher in self.batchers:
            batcher.abandon()
        if self.server_state.tasks:
            await asyncio.wait(set(self.server_state.tasks), timeout=_FORCED_ANSWER_S)
        await self.lifespan.shutdown()


def run_server(app: FastAPI, host: str, port: int) -> None:
    """Serve `app` (from `create_app`) on `host`:`port` until SIGINT or SIGTERM, then shut down as `ClosingServer` does.

    A Ctrl-C ends it with exit status 0 (see `ClosingServer.serve`); a SIGTERM ends the process as
    that signal's default does (or, under the `biotune` command's `catch_signals`, with status 143),
    so a supervisor sees it.
    """
    server = ClosingServer(uvicorn.Config(app, host=host, port=port), list(app.state.batchers.values()))
    with suppress(KeyboardInterrupt):  # the SIGTERM raised again, under `catch_signals`
        server.run()
