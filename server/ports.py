"""Is the port free? Asked before anything else, so that `serve` and `demo` on a taken port
end with one line saying so, before a store is opened or a key is printed."""

from __future__ import annotations

import errno
import socket


class PortTaken(Exception):
    """The address cannot be listened on; the message says which and what to do."""


def ensure_free(host: str, port: int) -> None:
    """Bind the address for a moment, as the server will (with SO_REUSEADDR, so a port
    left in TIME_WAIT by an earlier run is free, as it is for the server)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror:
        raise PortTaken(f"Cannot listen on {host}: no such address; check --host.") from None
    family, kind, protocol, _, address = infos[0]
    with socket.socket(family, kind, protocol) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise PortTaken(
                    f"Port {port} on {host} is taken by another process: choose another "
                    "with --port."
                ) from None
            raise PortTaken(
                f"Cannot listen on {host} port {port} ({error.strerror}): choose another "
                "--host or --port."
            ) from None
