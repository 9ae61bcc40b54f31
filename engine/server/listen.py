"""Where the server listens: the addresses a host resolves to as the socket will bind
them (what "loopback" means is decided here), and a port check before start-up."""

from __future__ import annotations

from engine.errors import UsageError


def bind_addresses(host: str, port: int = 0) -> list[str]:
    """The addresses a listening socket on host would bind, as the OS resolves them
    (an empty host or 0.0.0.0 / :: is every interface)."""
    import socket

    name = host.strip().strip("[]")
    if not name or name in ("*", "0.0.0.0", "::"):
        return ["0.0.0.0" if name != "::" else "::"]
    try:
        infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as e:
        raise UsageError(f"cannot resolve the host '{host}' to listen on; give an address "
                         "such as 127.0.0.1") from e
    return sorted({str(info[4][0]) for info in infos})


def is_loopback(host: str) -> bool:
    """True only when every address the server would bind never leaves this machine."""
    import ipaddress

    try:
        addresses = bind_addresses(host)
    except UsageError:
        return False
    return bool(addresses) and all(
        ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses)


def check_port_free(host: str, port: int) -> None:
    """UsageError (exit 2) now, rather than a server that dies at start, when the port is
    taken or the address cannot be bound."""
    import errno
    import socket

    for address in bind_addresses(host, port):
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((address, port))
            except OSError as e:
                if e.errno == errno.EADDRINUSE:
                    raise UsageError(f"port {port} on {address} is already in use (another "
                                     "scandex serve?); choose another --port") from e
                raise UsageError(f"cannot listen on {address}:{port}: {e.strerror or e}") from e
