"""The broker: its URL with the password put in (in memory only), TLS, the Celery app,
and the names of queues and keys.

The password comes from ``broker.password_file`` or the environment variable
``broker.password_env`` (default ``BUTLER_BROKER_PASSWORD``), or from the URL itself;
it is never written anywhere by butler-maint and :func:`shown` masks it in every
message. Every queue and key is prefixed by the namespace: a worker takes shards of its
namespace and segment only. Remote control of workers (Celery's broadcast commands) is
off: a worker does nothing but run shards.
"""

from __future__ import annotations

import os
import re
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from butler_maint.errors import ButlerError, CannotRunError
from butler_maint.model.config import BrokerSettings

TASK = "butler_maint.shard"
PLAY_TASK = "butler_maint.play"
CONNECT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Broker:
    """A configured broker, ready to connect to."""

    url: str  # with the password: never print it, use ``shown``
    namespace: str
    settings: BrokerSettings
    root: Path

    def queue(self, segment: str) -> str:
        """The queue of one segment's workers."""
        return f"{self.namespace}.{segment}"

    def key(self, *parts: str) -> str:
        """A key of butler-maint's own (claims, heartbeats) in this namespace."""
        return ":".join([self.namespace, "butler", *parts])

    @property
    def shown(self) -> str:
        """The URL with any password masked."""
        return shown(self.url)

    @property
    def prefix(self) -> str:
        """Celery's key prefix (queues, unacknowledged messages, results)."""
        return f"{self.namespace}:"

    def ssl_options(self) -> dict[str, Any] | None:
        """TLS options for a ``rediss://`` URL (certificate verified against the CA)."""
        if not self.url.startswith("rediss://"):
            return None
        tls = self.settings.tls
        options: dict[str, Any] = {"ssl_cert_reqs": ssl.CERT_REQUIRED}
        if tls is not None:
            for key, value in (
                ("ssl_ca_certs", tls.ca_file),
                ("ssl_certfile", tls.cert_file),
                ("ssl_keyfile", tls.key_file),
            ):
                if value is not None:
                    options[key] = str(self.root / value)
        return options

    def redis(self) -> Any:
        """A redis-py client for butler-maint's own keys."""
        import redis

        extra = self.ssl_options() or {}
        return redis.Redis.from_url(
            self.url, socket_connect_timeout=CONNECT_TIMEOUT_S,
            socket_timeout=CONNECT_TIMEOUT_S * 2, **extra,
        )  # fmt: skip

    def ping(
        self, consequence: str = "nothing was run on the workers of the network segments"
    ) -> None:
        """Raise CannotRunError (exit 3) saying ``consequence`` unless the broker answers."""
        import redis

        try:
            self.redis().ping()
        except redis.RedisError as exc:
            raise CannotRunError(
                f"broker {self.shown} is unreachable or refused us ({type(exc).__name__}: "
                f"{shown(str(exc))}); {consequence}"
            ) from None


_URL_PASSWORD = re.compile(r"(rediss?://[^:/@\s]*:)[^@\s]*@")


def shown(text: str) -> str:
    """``text`` with the password of every redis URL in it masked."""
    return _URL_PASSWORD.sub(r"\1***@", text)


def password(settings: BrokerSettings, root: Path) -> str | None:
    """The broker password: from its file, else its environment variable, else none."""
    if settings.password_file is not None:
        path = root / settings.password_file
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ButlerError(f"butler.yaml: broker.password_file {path}: {exc.strerror}") from None
    if settings.password_env:
        return os.environ.get(settings.password_env) or None
    return None


def broker_for(settings: BrokerSettings, root: Path, url: str | None = None) -> Broker:
    """The broker of ``settings`` (``url`` overrides its URL: a worker may reach the
    broker at another address), with its password."""
    target = url or settings.url
    secret = password(settings, root)
    parts = urlsplit(target)
    if parts.scheme not in ("redis", "rediss"):
        raise ButlerError(f"broker URL {shown(target)}: expected redis:// or rediss://")
    if secret is not None:
        host = parts.netloc.rsplit("@", 1)[-1]
        user = quote(parts.username or "", safe="")
        target = urlunsplit(parts._replace(netloc=f"{user}:{quote(secret, safe='')}@{host}"))
    return Broker(target, settings.namespace, settings, root)


def celery_app(broker: Broker) -> Any:
    """The Celery app of this broker: JSON only, late acknowledgement, one shard at a time."""
    from celery import Celery

    app = Celery("butler_maint", broker=broker.url, backend=broker.url, set_as_current=False)
    visibility = broker.settings.visibility_timeout
    transport = {
        "global_keyprefix": broker.prefix,
        "visibility_timeout": visibility,
        "unacked_restore_interval": max(1, int(visibility / 4)),
        "unacked_restore_throttle": 1,
        "socket_connect_timeout": CONNECT_TIMEOUT_S,
    }
    tls = broker.ssl_options()
    app.conf.update(
        task_serializer="json", result_serializer="json", accept_content=["json"],
        task_acks_late=True, task_reject_on_worker_lost=True, worker_prefetch_multiplier=1,
        task_track_started=False, result_expires=86400, result_extended=False,
        broker_transport_options=transport,
        result_backend_transport_options={"global_keyprefix": broker.prefix},
        broker_connection_retry_on_startup=True, broker_connection_timeout=CONNECT_TIMEOUT_S,
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.5},
        worker_enable_remote_control=False, worker_send_task_events=False,
        worker_hijack_root_logger=False, broker_use_ssl=tls, redis_backend_use_ssl=tls,
    )  # fmt: skip
    return app
