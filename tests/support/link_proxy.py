"""A TCP proxy between potwatch and its broker that can go half-open: a Wi-Fi link that silently dies.

``cut()`` stops forwarding in both directions and closes nothing: each pump
stops reading, so what either side sends stays in the kernel's buffers (as
unacknowledged segments would on a dead radio link) and neither side sees an
EOF, an RST or an error. Only a keepalive can tell. A connection made while
the link is cut is accepted (the kernel completes the handshake anyway) and
held, unanswered and unforwarded. ``heal()`` closes those held attempts (their
packets never made it: they are dead ends) and lets the old connections flow
again, so each side then learns whatever the other did meanwhile (usually
that it gave up); new connections are forwarded as before.

``cut_after(match)`` cuts the link the moment a chunk from the broker that
``match`` accepts has been forwarded (a PINGRESP, say), so a test can die at
the worst moment of a client's keepalive cycle, not at a random one.

``client_endings`` says how each client connection ended, as the proxy read
it: ``"eof"`` (an orderly close, FIN) or ``"reset"`` (RST: the client's
kernel threw away what it had not sent).

Real sockets and one thread per direction: nothing here knows MQTT.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from collections.abc import Callable, Iterator

from tests.support.net import free_port

CHUNK = 65536
POLL_S = 0.05


class LinkProxy:
    """Listens on a free port of 127.0.0.1 and forwards every connection to ``upstream``."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.host = "127.0.0.1"
        self.port = free_port()
        self.accepted = 0  # connections accepted, forwarded or held
        self.client_endings: list[str] = []  # "eof" or "reset", for each forwarded client connection that ended
        self._flowing = threading.Event()
        self._flowing.set()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._held: list[socket.socket] = []
        self._open: list[socket.socket] = []
        self._cut_when: Callable[[bytes], bool] | None = None
        self._cut_done = threading.Event()
        self._listener = socket.create_server((self.host, self.port))
        self._threads: list[threading.Thread] = []
        self._spawn(self._accept)

    # -- the test's controls

    def cut(self) -> None:
        """The link dies silently: nothing forwarded either way, nothing closed."""
        self._flowing.clear()

    def heal(self) -> None:
        """The link is back: attempts made while it was dead are dropped, the rest flows again."""
        with self._lock:
            held, self._held = self._held, []
        for conn in held:
            _close(conn)
        self._flowing.set()

    def cut_after(self, match: Callable[[bytes], bool], timeout: float) -> None:
        """Cut right after forwarding a chunk from upstream that ``match`` accepts; fail after ``timeout``."""
        self._cut_done.clear()
        self._cut_when = match
        if not self._cut_done.wait(timeout):
            self._cut_when = None
            raise AssertionError(f"no matching chunk from the broker within {timeout} s")

    @property
    def held(self) -> int:
        with self._lock:
            return len(self._held)

    def close(self) -> None:
        self._closed.set()
        self._flowing.set()
        _close(self._listener)
        with self._lock:
            conns = [*self._held, *self._open]
            self._held, self._open = [], []
        for conn in conns:
            _close(conn)
        for thread in self._threads:
            thread.join(2)

    def __enter__(self) -> LinkProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the threads

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.accepted += 1
            if not self._flowing.is_set():
                with self._lock:
                    self._held.append(conn)
                continue
            try:
                upstream = socket.create_connection(self.upstream, timeout=2.0)
            except OSError:
                _close(conn)  # the broker is not there: the client sees its connection end
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open += [conn, upstream]
            self._spawn(self._pump, conn, upstream, False)
            self._spawn(self._pump, upstream, conn, True)

    def _pump(self, src: socket.socket, dst: socket.socket, from_upstream: bool) -> None:
        """Copy ``src`` to ``dst`` while the link flows; an end on either side ends both."""
        try:
            while not self._closed.is_set():
                self._flowing.wait()
                readable, _, _ = select.select([src], [], [], POLL_S)
                if not readable:
                    continue
                try:
                    data = src.recv(CHUNK)
                except ConnectionResetError:
                    if not from_upstream:
                        self.client_endings.append("reset")
                    raise
                if not data:
                    if not from_upstream:
                        self.client_endings.append("eof")
                    break
                self._flowing.wait()  # cut while this chunk was read: it waits with the rest
                dst.sendall(data)
                match = self._cut_when
                if from_upstream and match is not None and match(data):
                    self._cut_when = None
                    self._flowing.clear()
                    self._cut_done.set()
        except (OSError, ValueError):  # ValueError: the other pump closed this socket under select
            pass
        finally:
            _close(src)
            _close(dst)


@contextlib.contextmanager
def link_proxy(upstream_host: str, upstream_port: int) -> Iterator[LinkProxy]:
    proxy = LinkProxy(upstream_host, upstream_port)
    try:
        yield proxy
    finally:
        proxy.close()


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
