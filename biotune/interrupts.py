"""Signals as an exception, so that a stopped command unwinds and leaves no temporaries behind.

Python dies on SIGTERM and SIGHUP without running one `finally` or `except BaseException`, so
`biotune.io.atomic_open` never removed the temporary of the output it was writing. SIGINT does
raise `KeyboardInterrupt`, but one that lands inside a `__del__` or a weakref callback is printed
as "Exception ignored" and dropped: the command carried on and finished as if never stopped.

`catch_signals()` (the `biotune` command runs inside it) raises `Interrupted`, a
`KeyboardInterrupt`, for each of SIGINT, SIGTERM and SIGHUP, so code that stops cleanly on Ctrl-C
stops the same way on the others, and delivers a dropped one again so that it lands in the code
that was running. A signal ignored when the process started (`nohup`, a background job of a
script) stays ignored, and a handler someone else installed is kept. SIGKILL cannot be caught:
the next write of the same output removes what it leaves (`biotune.io`).
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType

CAUGHT = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(KeyboardInterrupt):
    """A caught signal, raised wherever the main thread was."""

    def __init__(self, signum: int) -> None:
        self.signal = signal.Signals(signum)
        super().__init__(self.signal.name)


class SignalCatcher:
    """The handlers of `catch_signals`; `received` is the first signal caught, None while there is none."""

    def __init__(self) -> None:
        self.received: signal.Signals | None = None
        self._in_hook = False
        self._redeliveries: list[threading.Timer] = []

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if self._in_hook:  # raised here, it would be dropped again
            self._deliver_later(signum)
            return
        interrupted = Interrupted(signum)
        if self.received is None:
            self.received = interrupted.signal
        raise interrupted

    def unraisable(self, unraisable: sys.UnraisableHookArgs,
                   previous: Callable[[sys.UnraisableHookArgs], object]) -> None:
        """`sys.unraisablehook`: an `Interrupted` that a `__del__` dropped is delivered again, unprinted."""
        if not isinstance(unraisable.exc_value, Interrupted):
            previous(unraisable)
            return
        self._in_hook = True
        try:
            self._deliver_later(unraisable.exc_value.signal)
        finally:
            self._in_hook = False

    def _deliver_later(self, signum: int) -> None:
        """Signal the main thread again from another thread, once the hook has long returned: sent at
        once, the handler would run inside the hook, which drops what it raises. A real signal, sent to
        the main thread, also wakes it from a blocking call (a sleep, a wait on a lock or a socket)."""
        timer = threading.Timer(0.01, signal.pthread_kill, args=(threading.main_thread().ident, signum))
        timer.daemon = True
        self._redeliveries.append(timer)
        timer.start()

    def close(self) -> None:
        """Cancel the deliveries still pending: past the block, they would hit the handlers it restores."""
        for timer in self._redeliveries:
            timer.cancel()


@contextlib.contextmanager
def catch_signals() -> Iterator[SignalCatcher]:
    """Within the block (main thread only), SIGINT, SIGTERM and SIGHUP raise `Interrupted`; the
    handlers before it are restored at its end."""
    catcher = SignalCatcher()
    previous_hook = sys.unraisablehook
    previous = {signum: signal.getsignal(signum) for signum in CAUGHT}
    replaced = [signum for signum, handler in previous.items() if handler in (signal.SIG_DFL, signal.default_int_handler)]
    for signum in replaced:
        signal.signal(signum, catcher.handle)
    sys.unraisablehook = lambda unraisable: catcher.unraisable(unraisable, previous_hook)
    try:
        yield catcher
    finally:
        catcher.close()
        sys.unraisablehook = previous_hook
        for signum in replaced:
            signal.signal(signum, previous[signum])
