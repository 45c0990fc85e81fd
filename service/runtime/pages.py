"""Where a phone finds the page: the addresses the wiring logs, the QR code shows and Home Assistant links to.

The host name alone is not enough: Debian and Raspberry Pi OS map it to
127.0.1.1, so resolving it never gives the LAN address, and many Android
phones cannot resolve ``.local`` names at all. The LAN addresses are read from
the network interfaces instead, the one of the default route first.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import struct
from collections.abc import Iterable

# Interfaces a phone on the kitchen's network cannot reach: containers' and VMs' bridges.
_VIRTUAL = ("docker", "br-", "veth", "virbr", "lxc", "cni", "flannel", "podman")


def lan_addresses(default_route: str | None, interfaces: Iterable[tuple[str, str]]) -> list[str]:
    """The IPv4 addresses a phone may reach, best first (pure, for tests with made-up interfaces).

    ``default_route`` is the address the machine talks to the world from (it
    is the LAN's, on a Pi behind a home router); ``interfaces`` are
    ``(name, address)`` pairs. Loopback and container bridges are left out,
    link-local (169.254.x.x, no DHCP answered) comes last.
    """
    found: list[str] = []
    link_local: list[str] = []
    named = list(interfaces)
    virtual = {address for name, address in named if name.startswith(_VIRTUAL)}
    candidates = ([default_route] if default_route else []) + [address for _, address in named]
    for address in candidates:
        try:
            ip = ipaddress.IPv4Address(address)
        except ValueError:
            continue
        if ip.is_loopback or ip.is_unspecified or ip.is_multicast or address in virtual:
            continue
        bucket = link_local if ip.is_link_local else found
        if address not in bucket:
            bucket.append(address)
    return found + link_local


def default_route_address() -> str | None:
    """The source address of the default route: a UDP "connect" sends nothing, it only picks the route."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("192.0.2.1", 9))  # TEST-NET-1: never a real host
        return str(s.getsockname()[0])
    return None


def interface_addresses() -> list[tuple[str, str]]:
    """Each interface's IPv4 address (Linux: SIOCGIFADDR); empty where that is not available."""
    try:
        import fcntl
    except ImportError:  # not Linux: the default route's address is all there is
        return []
    siocgifaddr = 0x8915
    found: list[tuple[str, str]] = []
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for _, name in socket.if_nameindex():
            request = struct.pack("256s", name.encode()[:15])
            try:
                answer = fcntl.ioctl(s.fileno(), siocgifaddr, request)
            except OSError:  # down, or no IPv4 address
                continue
            found.append((name, socket.inet_ntoa(answer[20:24])))
    return found


def page_urls(scheme: str, host: str, port: int) -> list[str]:
    """Addresses a phone on the same network can open, the best first: LAN IPs, the .local name, loopback."""
    if host not in ("0.0.0.0", "::", ""):
        return [f"{scheme}://{host}:{port}/"]
    addresses = lan_addresses(default_route_address(), interface_addresses())
    urls = [f"{scheme}://{address}:{port}/" for address in addresses]
    urls.append(f"{scheme}://{socket.gethostname()}.local:{port}/")
    urls.append(f"{scheme}://127.0.0.1:{port}/")
    return urls
