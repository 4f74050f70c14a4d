"""run-due with several controllers: one claim per schedule occurrence, in the broker.

A controller about to run an occurrence sets ``<ns>:butler:occurrence:<schedule>:<time>``
only if it is not set (Redis ``SET NX``) to ``running <who>`` with a lease it renews
while the run lasts; once the run is recorded the key says ``done <who>`` for
``DONE_TTL_S``. Another controller meeting the key skips the occurrence. A controller
that dies mid-run stops renewing: the lease ends and the next run-due may take the
occurrence over (as the evidence of the dead one holds no report for it). A run that
raised (refused) gives the claim back. A broker that is down is a clear error (exit 3):
nothing runs rather than running twice.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from butler_maint.errors import CannotRunError
from butler_maint.evidence.model import iso_z
from butler_maint.workers.broker import Broker, shown

LEASE_S = 60.0
DONE_TTL_S = 90 * 86400


@dataclass(frozen=True)
class BrokerClaims:
    """Claims on occurrences shared through the broker (a ``runs.request.Claims``)."""

    broker: Broker
    holder: str
    lease_s: float = LEASE_S

    @contextlib.contextmanager
    def claim(self, schedule: str, occurrence: datetime) -> Iterator[str | None]:
        """Hold the occurrence while the block runs (yield None), or yield its holder."""
        import redis

        key = self.broker.key("occurrence", schedule, iso_z(occurrence))
        lease = int(self.lease_s * 1000)
        try:
            client = self.broker.redis()
            taken = client.set(key, f"running {self.holder}", nx=True, px=lease)
            other = None if taken else (client.get(key) or b"").decode()
        except redis.RedisError as exc:
            raise CannotRunError(
                f"broker {self.broker.shown} is unreachable ({shown(str(exc))}): run-due "
                "cannot claim the occurrence, so it runs nothing"
            ) from None
        if other is not None:
            yield other or "another controller"
            return
        done = threading.Event()
        renew = threading.Thread(
            target=_renew, args=(client, key, lease, done), name="claim", daemon=True
        )
        renew.start()
        try:
            yield None
        except BaseException:
            done.set()
            renew.join()
            with contextlib.suppress(redis.RedisError):
                client.delete(key)
            raise
        done.set()
        renew.join()
        with contextlib.suppress(redis.RedisError):
            client.set(key, f"done {self.holder}", ex=DONE_TTL_S)


def _renew(client: object, key: str, lease_ms: int, done: threading.Event) -> None:
    while not done.wait(lease_ms / 3000):
        with contextlib.suppress(Exception):  # a hiccup: the next renewal retries
            client.pexpire(key, lease_ms)  # type: ignore[attr-defined]
