"""The real server (``python wsgi.py``) on a free loopback port, for tests and benchmarks."""

import contextlib
import os
import pathlib
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent


def free_port():
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_healthy(url, timeout=60, still_running=lambda: True):
    """Poll ``GET url`` until it answers 200; fail if the server dies or the time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert still_running(), f"the server behind {url} exited before answering"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.02)
    raise AssertionError(f"{url} did not answer 200 within {timeout} s")


def rss_mb(pid):
    """Resident memory of a process, from /proc."""
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


@contextlib.contextmanager
def running_server(log_path, **settings):
    """``python wsgi.py`` with ``settings`` in its environment; yields (url, port, process, start-up seconds)."""
    port = free_port()
    environment = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), **{name: str(value) for name, value in settings.items()}}
    with open(log_path, "w") as log:
        started = time.monotonic()
        process = subprocess.Popen([sys.executable, "wsgi.py"], cwd=ROOT, env=environment, stdout=log, stderr=log)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_healthy(url + "/", still_running=lambda: process.poll() is None)
            yield url, port, process, time.monotonic() - started
        finally:
            process.terminate()
            process.wait(timeout=30)
