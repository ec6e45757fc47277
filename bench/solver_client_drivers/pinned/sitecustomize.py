"""Imported by Python at start-up when this folder is on PYTHONPATH: the solving services' host names resolve to
loopback (what the bots' /etc/hosts line does) and their port 443 is the test's nginx port (what nginx listening on
:443 does), in that process only. PIN_HOSTS: the names, comma-separated; PIN_PORT: nginx's TLS port."""

import os
import socket

PINNED_HOSTS = frozenset(filter(None, os.environ.get("PIN_HOSTS", "").split(",")))
PINNED_PORT = int(os.environ.get("PIN_PORT") or 0)
resolve = socket.getaddrinfo


def getaddrinfo(host, port, *arguments, **keywords):
    """The real resolver, but for a pinned name's https port: loopback at PIN_PORT (requests, httpx, aiohttp all
    ask here)."""
    if host in PINNED_HOSTS and str(port) in ("443", "https"):
        return resolve("127.0.0.1", PINNED_PORT, *arguments, **keywords)
    return resolve(host, port, *arguments, **keywords)


socket.getaddrinfo = getaddrinfo
