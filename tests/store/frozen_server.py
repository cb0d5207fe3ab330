"""A database server that stops answering while its host still accepts and acknowledges everything: a TCP proxy to
PostgreSQL that the test can freeze. Frozen, it passes nothing on in either direction and leaves every connection
open, and it accepts new connections without ever answering them, as a server paused with SIGSTOP, a frozen VM, or a
pooler that hangs does (their kernels keep acknowledging, so TCP keepalives and tcp_user_timeout see nothing wrong).
No root needed, unlike `silent_network`, whose packets are dropped.

`close()` ends every connection both ways, so the server ends the sessions (rolling back what they left open) and a
client still waiting is released.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator


class FrozenServer:
    """Listens on 127.0.0.1 (`port`) and forwards to `upstream` until `freeze()`, or until the client has sent
    `freeze_on` for the `nth` time (that chunk and everything after it are held back)."""

    def __init__(self, upstream: tuple[str, int], *, freeze_on: bytes | None = None, nth: int = 1) -> None:
        self._upstream = upstream
        self._freeze_on, self._left = freeze_on, nth
        self._frozen = threading.Event()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, url: str) -> str:
        """`url` with its host and port replaced by this proxy's."""
        from sqlalchemy.engine import make_url

        return make_url(url).set(host="127.0.0.1", port=self.port).render_as_string(hide_password=False)

    @property
    def frozen(self) -> bool:
        return self._frozen.is_set()

    def freeze(self) -> None:
        self._frozen.set()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self._keep(client)
            if self._frozen.is_set():
                continue  # accepted, and never answered
            try:
                server = socket.create_connection(self._upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            self._keep(server)
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _keep(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)

    def _pump(self, source: socket.socket, sink: socket.socket, from_client: bool) -> None:
        while True:
            try:
                chunk = source.recv(65536)
            except OSError:
                chunk = b""
            if from_client and self._freeze_on is not None and self._freeze_on in chunk:
                self._left -= 1
                if self._left == 0:
                    self._frozen.set()
            if self._frozen.is_set() and not self._closed.is_set():
                # Held: nothing more passes either way. The connection stays open, as a frozen host's does.
                self._closed.wait()
                return
            if not chunk:
                with contextlib.suppress(OSError):
                    sink.shutdown(socket.SHUT_WR)
                return
            try:
                sink.sendall(chunk)
            except OSError:
                return

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in [self._listener, *sockets]:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def __enter__(self) -> FrozenServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def frozen_server(url: str, *, freeze_on: bytes | None = None, nth: int = 1) -> Iterator[FrozenServer]:
    """A `FrozenServer` in front of the PostgreSQL server of `url`."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    with FrozenServer((parsed.host or "127.0.0.1", parsed.port or 5432), freeze_on=freeze_on, nth=nth) as server:
        yield server
