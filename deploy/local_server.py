"""The real server (``python wsgi.py``) on a free loopback port, nginx in front, and redis-server, for tests and
benchmarks."""

import contextlib
import os
import pathlib
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

import redis

from deploy.nginx_conf import nginx_conf

ROOT = pathlib.Path(__file__).resolve().parent.parent
NGINX = shutil.which("nginx") or next((path for path in ["/usr/sbin/nginx"] if os.access(path, os.X_OK)), None)


def free_port():
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_healthy(url, timeout=60, still_running=lambda: True, ca_file=None):
    """Poll ``GET url`` until it answers 200; fail if the server dies or the time runs out."""
    deadline = time.monotonic() + timeout
    context = ssl.create_default_context(cafile=ca_file) if ca_file else None
    while time.monotonic() < deadline:
        assert still_running(), f"the server behind {url} exited before answering"
        try:
            with urllib.request.urlopen(url, timeout=2, context=context) as response:
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


def start_server(port, log, errors, preexec_fn=None, **settings):
    """``python wsgi.py`` on ``port`` with ``settings`` in its environment, its output to the files ``log`` and
    ``errors``."""
    environment = {
        **os.environ,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        **{name: str(value) for name, value in settings.items()},
    }
    return subprocess.Popen(
        [sys.executable, "wsgi.py"], cwd=ROOT, env=environment, stdout=log, stderr=errors, preexec_fn=preexec_fn
    )


@contextlib.contextmanager
def running_server(log_path, preexec_fn=None, stderr_path=None, **settings):
    """``python wsgi.py`` with ``settings`` in its environment (``preexec_fn`` run in the child before it
    starts), its output in ``log_path`` (standard error too, unless ``stderr_path``); yields (url, port,
    process, start-up seconds)."""
    port = free_port()
    with open(log_path, "w") as log, open(stderr_path or os.devnull, "w") as errors:
        started = time.monotonic()
        process = start_server(port, log, errors if stderr_path else log, preexec_fn, **settings)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_healthy(url + "/", still_running=lambda: process.poll() is None)
            yield url, port, process, time.monotonic() - started
        finally:
            process.terminate()
            process.wait(timeout=30)


def nginx_config(listen_port, backend_ports, certificate=None, shared_tasks=False):
    """deploy/nginx_conf.py's config, with the backends on the test's free ports; ``certificate``: (cert, key) paths
    for TLS."""
    config = nginx_conf(
        len(backend_ports), 8000, f"127.0.0.1:{listen_port}", *(certificate or (None, None)), shared_tasks=shared_tasks
    )
    for default_port, port in zip(range(8000, 8000 + len(backend_ports)), backend_ports):
        config = config.replace(f"server 127.0.0.1:{default_port} ", f"server 127.0.0.1:{port} ")
    return config


@contextlib.contextmanager
def running_nginx(directory, backend_ports, certificate=None, ca_file=None, shared_tasks=False):
    """Real nginx with deploy/nginx_conf.py's config in front of ``backend_ports``; yields (url, port).

    With ``certificate`` ((cert, key) paths) it speaks HTTPS, checked against ``ca_file``; ``shared_tasks``: round
    robin for the protocols' calls too (the backends share REDIS_URL).
    """
    listen_port = free_port()
    (directory / "nginx.conf").write_text(nginx_config(listen_port, backend_ports, certificate, shared_tasks))
    url = f"{'https' if certificate else 'http'}://127.0.0.1:{listen_port}"
    with nginx_running(
        directory, lambda still_running: wait_until_healthy(url + "/", still_running=still_running, ca_file=ca_file)
    ):
        yield url, listen_port


@contextlib.contextmanager
def nginx_running(directory, wait_ready):
    """Real nginx with ``directory``/nginx.conf (``directory`` its prefix: its pid file and log) until the block ends;
    ``wait_ready(still_running)`` returns once it serves."""
    with open(directory / "nginx.log", "w") as log:
        nginx = subprocess.Popen(
            [NGINX, "-c", str(directory / "nginx.conf"), "-p", str(directory), "-g", "daemon off;"], stderr=log
        )
    try:
        wait_ready(lambda: nginx.poll() is None)
        yield nginx
    finally:
        nginx.terminate()
        nginx.wait(timeout=30)


def wait_until_listening(port, still_running=lambda: True, timeout=30):
    """Wait until something accepts TCP connections on loopback ``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert still_running(), f"the process meant to listen on port {port} exited"
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.02)
    raise AssertionError(f"nothing listens on port {port} after {timeout} s")


class RedisServer:
    """A real redis-server on a free loopback port; it can be stopped and started again. It keeps nothing on disk,
    unless ``folder`` is given: then every write goes to an append-only file there, and a restart keeps the data."""

    def __init__(self, folder=None):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None
        self.persistence = (
            ["--dir", str(folder), "--appendonly", "yes", "--appendfsync", "always"]
            if folder
            else ["--appendonly", "no"]
        )

    def start(self):
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", *self.persistence],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                redis.Redis(port=self.port).ping()
                return
            except redis.ConnectionError:
                time.sleep(0.02)
        raise AssertionError("redis-server did not start")

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)
