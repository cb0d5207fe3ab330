"""A TCP proxy to PostgreSQL across a network path that can be made to go silent: packets dropped, nothing sent back,
no RST or FIN (a firewall dropping a connection's packets, a failed switch, a frozen server host).

Why not a proxy alone: a proxy that merely stops forwarding still has its kernel acknowledge every segment the
client sends and answer its keepalive probes, so the client's TCP stack sees a healthy connection to a server that
does not answer, and libpq's TCP-level settings (tcp_user_timeout, keepalives) cannot tell. So the proxy listens in a
network namespace of its own, joined to this one by a veth pair: `silence()` takes the namespace's end of the link
down (segments sent to it vanish, its kernel sends nothing back) and stops forwarding both ways; `restore()` brings
the link up and forwarding back. Only this private link changes: the machine's loopback and other sessions'
connections are not touched. Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) and iproute2's `ip`; skipped otherwise.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import random
import shutil
import socket
import subprocess
import threading
import uuid
from collections.abc import Iterator

import pytest

_CLONE_NEWNET = 0x40000000


def _ip(*args: str, ns_fd: int | None = None) -> None:
    """iproute2's `ip ARGS`, in the network namespace open as `ns_fd` (else this process's)."""
    command = ["ip", *args] if ns_fd is None else ["nsenter", f"--net=/proc/self/fd/{ns_fd}", "ip", *args]
    subprocess.run(command, check=True, capture_output=True, pass_fds=() if ns_fd is None else (ns_fd,))


class SilentNetwork:
    """`host`, `port`: where to connect instead of the server at `upstream`. Used as a context manager."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self._silent = False
        self._links: list[threading.Event] = []  # per connection: set while it forwards
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._closed = False
        tag = uuid.uuid4().hex[:8]
        self._outer_dev, self._inner_dev = f"cwo{tag}", f"cwi{tag}"
        self._outer_mac, self._inner_mac = (f"02:{n}:{tag[0:2]}:{tag[2:4]}:{tag[4:6]}:{tag[6:8]}" for n in ("0a", "0b"))
        # A /30 of 198.18.0.0/15, the range set aside for network tests (RFC 2544): no real network's addresses.
        net = random.randrange(1 << 15) * 4
        self._outer_ip = f"198.{18 + (net >> 16)}.{(net >> 8) & 255}.{(net & 255) + 1}"
        self.host = f"198.{18 + (net >> 16)}.{(net >> 8) & 255}.{(net & 255) + 2}"
        self._ns_fd, self._listener = self._make_namespace()
        self.port = self._listener.getsockname()[1]
        self._acceptor = threading.Thread(target=self._accept, daemon=True, name="silent-network-accept")
        self._acceptor.start()

    def _make_namespace(self) -> tuple[int, socket.socket]:
        """A new network namespace holding one end of a veth pair and the proxy's listening socket. Made in a thread
        of its own, since unshare moves only the calling thread: the rest of the process (the client, and the proxy's
        connections to the server) stays in this one."""
        made: dict[str, object] = {}

        def make() -> None:
            try:
                libc = ctypes.CDLL(None, use_errno=True)
                if libc.unshare(_CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET)")
                fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
                made["fd"] = fd
                _ip("link", "add", self._inner_dev, "address", self._inner_mac, "type", "veth", "peer", "name",
                    self._outer_dev, "address", self._outer_mac, "netns", str(os.getpid()))
                _ip("addr", "add", f"{self.host}/30", "dev", self._inner_dev)
                _ip("link", "set", self._inner_dev, "up")
                _ip("neigh", "replace", self._outer_ip, "lladdr", self._outer_mac, "dev", self._inner_dev, "nud",
                    "permanent")
                listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # in the new namespace
                listener.bind((self.host, 0))
                listener.listen(16)
                made["listener"] = listener
            except BaseException as exc:
                made["error"] = exc

        thread = threading.Thread(target=make, name="silent-network-namespace")
        thread.start()
        thread.join()
        if "error" in made:
            if "fd" in made:
                os.close(int(made["fd"]))  # type: ignore[call-overload]
            raise made["error"]  # type: ignore[misc]
        _ip("addr", "add", f"{self._outer_ip}/30", "dev", self._outer_dev)
        _ip("link", "set", self._outer_dev, "up")
        # Neighbours known for good: with the link down, ARP would fail within 3 s and fail a new connection at once
        # ("No route to host"), where a silent path beyond a router swallows its SYN until connect_timeout.
        _ip("neigh", "replace", self.host, "lladdr", self._inner_mac, "dev", self._outer_dev, "nud", "permanent")
        return int(made["fd"]), made["listener"]  # type: ignore[call-overload, return-value]

    @property
    def closed(self) -> bool:
        return self._closed

    def silence(self) -> None:
        """From now on the path drops everything, both ways, and answers nothing."""
        with self._lock:
            self._silent = True
            for link in self._links:
                link.clear()
        _ip("link", "set", self._inner_dev, "down", ns_fd=self._ns_fd)

    def restore(self, *, forget: bool = False) -> None:
        """The path forwards again: connections that were not given up go on where they were. `forget`: except
        the connections made before (a stateful firewall or NAT that lost them on failing over), which stay silent
        while new ones go through; their client's kernel gets its segments acknowledged again, so only what it
        learnt while the path was silent (keepalive probes unanswered) tells it they are dead."""
        if self._closed:
            return
        _ip("link", "set", self._inner_dev, "up", ns_fd=self._ns_fd)
        _ip("neigh", "replace", self._outer_ip, "lladdr", self._outer_mac, "dev", self._inner_dev, "nud", "permanent",
            ns_fd=self._ns_fd)  # taking the link down forgot it
        with self._lock:
            self._silent = False
            if not forget:
                for link in self._links:
                    link.set()

    def url(self, url: str) -> str:
        """`url` (a postgresql:// URL of the upstream server) through this path."""
        from sqlalchemy.engine import make_url

        return make_url(url).set(host=self.host, port=self.port).render_as_string(hide_password=False)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            try:
                server = socket.create_connection(self.upstream)  # made in this thread: this process's namespace
            except OSError:
                client.close()
                continue
            flowing = threading.Event()
            with self._lock:
                if self._closed:
                    client.close()
                    server.close()
                    return
                self._sockets += [client, server]
                self._links.append(flowing)
                if not self._silent:
                    flowing.set()
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink, flowing), daemon=True,
                                 name="silent-network-pump").start()

    def _pump(self, source: socket.socket, sink: socket.socket, flowing: threading.Event) -> None:
        with contextlib.suppress(OSError):
            while not self._closed:
                flowing.wait()
                data = source.recv(65536)
                if not data:
                    break
                flowing.wait()  # held while silent: a network that comes back delivers what TCP resends
                if self._closed:
                    break
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        """Ends every connection through the path with a FIN, the path up again first so that it arrives: a client
        still waiting on a silent connection (a test that failed) is released instead of waiting for its kernel."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            sockets, self._sockets = self._sockets, []
            links, self._links = self._links, []
        with contextlib.suppress(subprocess.CalledProcessError):
            _ip("link", "set", self._inner_dev, "up", ns_fd=self._ns_fd)
        for link in links:
            link.set()
        for sock in [self._listener, *sockets]:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._acceptor.join(timeout=5)
        for sock in [self._listener, *sockets]:
            sock.close()
        with contextlib.suppress(subprocess.CalledProcessError):
            _ip("link", "del", self._outer_dev)  # and its peer in the namespace
        os.close(self._ns_fd)

    def __enter__(self) -> SilentNetwork:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def silent_network(upstream_url: str) -> Iterator[SilentNetwork]:
    """A `SilentNetwork` to the server of `upstream_url`; skips the test where one cannot be made."""
    from sqlalchemy.engine import make_url

    parsed = make_url(upstream_url)
    if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("nsenter"):
        pytest.skip("a silent network path is simulated in a network namespace: needs root, ip and nsenter")
    try:
        network = SilentNetwork((parsed.host or "127.0.0.1", parsed.port or 5432))
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot make a network namespace with a veth link here: {exc}")
    with network:
        yield network
