"""The executor's TCP socket: no Nagle, immediate ACKs on Linux, timeout kept."""

from __future__ import annotations

import socket
import sys

from butler_maint.executors.ssh import _quick, _QuickAckSocket


def test_quick_socket_reads_with_nodelay_and_quickack() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        raw = socket.create_connection(server.getsockname(), timeout=3.5)
        peer, _ = server.accept()
        with peer, _quick(raw) as sock:
            assert sock.gettimeout() == 3.5
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            peer.sendall(b"SSH-2.0-x\r\n")
            assert sock.recv(64) == b"SSH-2.0-x\r\n"
            if sys.platform.startswith("linux"):
                assert isinstance(sock, _QuickAckSocket)
                assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK)
            sock.sendall(b"pong")
            assert peer.recv(4) == b"pong"
        assert raw.fileno() == -1  # the descriptor moved, it is closed once
