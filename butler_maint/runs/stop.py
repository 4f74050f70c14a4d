"""How a run stops: ONE model for SIGHUP, SIGINT and SIGTERM, for every kind of run.

A signal never unwinds the run from wherever it happens to be. It only sets the run's
:class:`Stop`; each part of the run looks at it where stopping is safe: the checklist
runner while it waits for hosts (and the SSH executor, which then ends the host's
script), ansible-runner through its ``cancel_callback``, a window before each batch and
step. What was done is recorded (report ``interrupted``, the rest ``not_run``) and the
command exits with 128 + the signal number (129/130/143).

The one exception is a question asked on a terminal (a manual item): a blocking read
cannot look at a flag, so inside :meth:`Stop.raising` the signal raises :class:`Stopped`.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

from butler_maint.errors import STOP_SIGNALS


class Stopped(BaseException):
    """Raised by a stop signal inside :meth:`Stop.raising` only."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class Stop:
    """Whether (and by which signal) a run was asked to stop; safe to share across threads."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._raising = 0
        self.signum: int | None = None

    def request(self, signum: int) -> None:
        """Ask the run to stop (the first signal is the one recorded)."""
        if self.signum is None:
            self.signum = signum
        self._event.set()

    @property
    def requested(self) -> bool:
        """True once a stop was asked for."""
        return self._event.is_set()

    @property
    def event(self) -> threading.Event:
        """Set when a stop is asked for (executors wait on it)."""
        return self._event

    def __call__(self) -> bool:
        """ansible-runner's ``cancel_callback``: True once a stop was asked for."""
        return self._event.is_set()

    @contextlib.contextmanager
    def raising(self) -> Iterator[None]:
        """Inside this block (a blocking question) a stop also raises :class:`Stopped`."""
        if self.requested:
            raise Stopped(self.signum or signal.SIGINT)
        self._raising += 1
        try:
            yield
        finally:
            self._raising -= 1

    def _on_signal(self, signum: int, frame: object) -> None:
        self.request(signum)
        if self._raising:
            raise Stopped(signum)


@contextlib.contextmanager
def stop_on_signals(stop: Stop | None = None) -> Iterator[Stop]:
    """While the block runs, SIGHUP, SIGINT and SIGTERM ask ``stop`` to stop."""
    stop = stop or Stop()
    previous = {s: signal.signal(s, stop._on_signal) for s in STOP_SIGNALS}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
