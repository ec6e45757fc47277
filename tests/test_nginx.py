"""deploy/nginx.conf in front of two real service processes: one dies mid-run, no client notices."""

import contextlib
import os
import shutil
import socket
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from deploy.nginx_conf import nginx_conf
from tests.captchas import CAPTCHA_FILES, base64_of, label_of
from tests.live_server import free_port, running_server, wait_until_healthy

NGINX = shutil.which("nginx") or next((path for path in ["/usr/sbin/nginx"] if os.access(path, os.X_OK)), None)
REQUESTS = 240
KILL_AFTER = 100
CLIENTS = 4

pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (make test installs it where it can)")


def nginx_config(listen_port, backend_ports):
    """deploy/nginx_conf.py's config, with the backends on the test's free ports."""
    config = nginx_conf(len(backend_ports), 8000, f"127.0.0.1:{listen_port}")
    for default_port, port in zip(range(8000, 8000 + len(backend_ports)), backend_ports):
        config = config.replace(f"server 127.0.0.1:{default_port} ", f"server 127.0.0.1:{port} ")
    return config


@contextlib.contextmanager
def running_nginx(tmp_path, backend_ports):
    """Real nginx with deploy/nginx_conf.py's config in front of ``backend_ports``; yields (url, port)."""
    listen_port = free_port()
    (tmp_path / "nginx.conf").write_text(nginx_config(listen_port, backend_ports))
    with open(tmp_path / "nginx.log", "w") as log:
        nginx = subprocess.Popen([NGINX, "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path), "-g", "daemon off;"], stderr=log)
    url = f"http://127.0.0.1:{listen_port}"
    try:
        wait_until_healthy(url + "/", still_running=lambda: nginx.poll() is None)
        yield url, listen_port
    finally:
        nginx.terminate()
        nginx.wait(timeout=30)


@contextlib.contextmanager
def slow_clients(port, count):
    """``count`` connections that send half a request's headers and then nothing (slowloris)."""
    connections = []
    try:
        for _ in range(count):
            connection = socket.create_connection(("127.0.0.1", port), timeout=5)
            connection.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            connections.append(connection)
        yield
    finally:
        for connection in connections:
            connection.close()


def served_reads(log_path):
    return sum("path=/ocr status=200" in line for line in log_path.read_text().splitlines())


def test_nginx_spreads_reads_and_hides_a_dead_backend(tmp_path):
    bodies = [({"image_base64": base64_of(path)}, label_of(path)) for path in CAPTCHA_FILES]
    with running_server(tmp_path / "a.log", TRUSTED_PROXY="127.0.0.1") as (_, port_a, process_a, _), \
         running_server(tmp_path / "b.log", TRUSTED_PROXY="127.0.0.1") as (_, port_b, _, _), \
         running_nginx(tmp_path, (port_a, port_b)) as (url, _):
        answered, lock, killed = [], threading.Lock(), threading.Event()

        def read(index):
            body, digits = bodies[index % len(bodies)]
            response = requests.post(url + "/ocr", json=body, timeout=60)
            with lock:
                answered.append((response.status_code, response.json().get("digits") == digits))
                if len(answered) == KILL_AFTER:
                    process_a.kill()
                    killed.set()

        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(read, range(REQUESTS)))
        assert killed.is_set()
        assert len(answered) == REQUESTS
        assert all(status == 200 and right for status, right in answered)
        assert served_reads(tmp_path / "a.log") > 0 and served_reads(tmp_path / "b.log") > 0
        assert served_reads(tmp_path / "b.log") > REQUESTS - KILL_AFTER


def test_slow_clients_hold_the_service_but_not_nginx_in_front(tmp_path):
    limit = 8
    with running_server(tmp_path / "a.log", CONNECTION_LIMIT=limit, TRUSTED_PROXY="127.0.0.1") as (direct_url, port, _, _):
        with slow_clients(port, limit):  # without a proxy: every connection is held, health checks wait
            with pytest.raises(requests.exceptions.ReadTimeout):
                requests.get(direct_url + "/", timeout=1.5)
        with running_nginx(tmp_path, (port,)) as (url, nginx_port), slow_clients(nginx_port, 10 * limit):
            response = requests.get(url + "/", timeout=5)
            assert response.status_code == 200 and response.json()["ready"] is True
            assert requests.get(direct_url + "/", timeout=5).status_code == 200
