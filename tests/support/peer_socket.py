"""Another process's TCP sockets, borrowed: to read their options back from the real socket.

A socket option (TCP_NODELAY, TCP_QUICKACK) lives on the socket, not on a
descriptor: a duplicate of the running service's descriptor, taken with
Linux's ``pidfd_getfd`` (5.6+; the test runs as the service's user or root),
reads what the service set, from outside it, on the connection it really
uses. Without the right to (``EPERM``: neither the service's user nor root,
or no CAP_SYS_PTRACE in a container) ``borrow`` raises ``PermissionError``,
for the test to say so. Which descriptor is which comes from ``/proc``: ``/proc/<pid>/fd``
names each socket's inode, ``/proc/net/tcp`` and ``tcp6`` give each inode's
two ends.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import socket
from dataclasses import dataclass
from pathlib import Path

_SYS_PIDFD_GETFD = 438  # the same number on every architecture (the unified syscall table)


@dataclass(frozen=True)
class TcpEnds:
    """One TCP connection of a process: its descriptor there and both ports."""

    fd: int
    local_port: int
    remote_port: int


def _inodes(pid: int) -> dict[int, int]:
    """inode → descriptor, for each socket the process holds."""
    found: dict[int, int] = {}
    for entry in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(entry)
            if target.startswith("socket:["):
                found[int(target[8:-1])] = int(entry.name)
    return found


def _port(address: str) -> int:
    return int(address.rsplit(":", 1)[1], 16)


def tcp_connections(pid: int) -> list[TcpEnds]:
    """The process's established TCP connections (state 01 in /proc/net/tcp)."""
    inodes = _inodes(pid)
    ends: list[TcpEnds] = []
    for table in ("tcp", "tcp6"):
        lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        for line in lines:
            fields = line.split()
            local, remote, state, inode = fields[1], fields[2], fields[3], int(fields[9])
            if state == "01" and inode in inodes:
                ends.append(TcpEnds(inodes[inode], _port(local), _port(remote)))
    return ends


def borrow(pid: int, fd: int) -> socket.socket:
    """A duplicate of descriptor ``fd`` of process ``pid``, as a socket (``with`` it: theirs stays open)."""
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    try:
        dup = libc.syscall(_SYS_PIDFD_GETFD, pidfd, fd, 0)
        if dup < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"pidfd_getfd({pid}, {fd}): {os.strerror(err)}")  # PermissionError for EPERM
    finally:
        os.close(pidfd)
    return socket.socket(fileno=dup)
