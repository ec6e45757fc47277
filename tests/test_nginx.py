"""deploy/nginx.conf in front of two real service processes: one dies mid-run, no client gets an error or a wrong answer
from nginx (a response cut mid-way by the kill is a broken connection, sent again)."""

import contextlib
import socket
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from deploy.local_server import NGINX, running_nginx, running_server
from deploy.nginx_conf import nginx_conf
from tests.captchas import CAPTCHA_FILES, base64_of, label_of

REQUESTS = 240
KILL_AFTER = 100
CLIENTS = 4

pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (make test installs it where it can)")


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
    with (
        running_server(tmp_path / "a.log", TRUSTED_PROXY="127.0.0.1") as (_, port_a, process_a, _),
        running_server(tmp_path / "b.log", TRUSTED_PROXY="127.0.0.1") as (_, port_b, _, _),
        running_nginx(tmp_path, (port_a, port_b)) as (url, _),
    ):
        answered, cut, lock, killed = [], [], threading.Lock(), threading.Event()

        def read(index):
            body, digits = bodies[index % len(bodies)]
            try:
                response = requests.post(url + "/ocr", json=body, timeout=60)
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
                # A kill -9 between the backend's headers and its body: nginx has passed the headers on and
                # cannot retry elsewhere. The client sees a broken connection, never a wrong answer, and
                # sends again, as clients do.
                with lock:
                    cut.append(index)
                response = requests.post(url + "/ocr", json=body, timeout=60)
            with lock:
                answered.append((response.status_code, response.json().get("digits") == digits))
                if len(answered) == KILL_AFTER:
                    process_a.kill()
                    killed.set()

        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(read, range(REQUESTS)))
        assert killed.is_set()
        assert len(cut) <= CLIENTS  # only reads under way on the killed backend
        assert len(answered) == REQUESTS
        assert all(status == 200 and right for status, right in answered)
        assert served_reads(tmp_path / "a.log") > 0 and served_reads(tmp_path / "b.log") > 0
        assert served_reads(tmp_path / "b.log") > REQUESTS - KILL_AFTER


def test_a_report_reaches_the_process_that_read_its_captcha(tmp_path):
    body = {"image_base64": base64_of(CAPTCHA_FILES[0])}
    with (
        running_server(tmp_path / "a.log", TRUSTED_PROXY="127.0.0.1") as (_, port_a, _, _),
        running_server(tmp_path / "b.log", TRUSTED_PROXY="127.0.0.1") as (_, port_b, _, _),
        running_nginx(tmp_path, (port_a, port_b)) as (url, _),
    ):
        for index in range(12):
            request_id = {"X-Request-ID": f"login-{index}"}
            assert requests.post(url + "/ocr", json=body, headers=request_id, timeout=60).status_code == 200
            report = {"request_id": f"login-{index}", "correct": True}
            assert requests.post(url + "/ocr/report", json=report, headers=request_id, timeout=60).status_code == 200
        assert served_reads(tmp_path / "a.log") > 0 and served_reads(tmp_path / "b.log") > 0


def test_slow_clients_hold_the_service_but_not_nginx_in_front(tmp_path):
    limit = 8
    with running_server(tmp_path / "a.log", CONNECTION_LIMIT=limit, TRUSTED_PROXY="127.0.0.1") as (
        direct_url,
        port,
        _,
        _,
    ):
        with slow_clients(port, limit):  # without a proxy: every connection is held, health checks wait
            with pytest.raises(requests.exceptions.ReadTimeout):
                requests.get(direct_url + "/", timeout=1.5)
        with running_nginx(tmp_path, (port,)) as (url, nginx_port), slow_clients(nginx_port, 10 * limit):
            response = requests.get(url + "/", timeout=5)
            assert response.status_code == 200 and response.json()["ready"] is True
            assert requests.get(direct_url + "/", timeout=5).status_code == 200


def test_with_shared_tasks_the_protocols_go_round_robin_too():
    pinned, shared = nginx_conf(3, 8000, "127.0.0.1:8080"), nginx_conf(3, 8000, "127.0.0.1:8080", shared_tasks=True)
    assert "hash $remote_addr consistent;" in pinned and "$remote_addr" not in shared
    assert shared.count("server 127.0.0.1:8002 ") == 2  # both upstreams list every process


def test_a_front_for_several_machines_lists_each_machines_processes_and_nginx_accepts_it(tmp_path):
    config = nginx_conf(2, 8000, "127.0.0.1:8080", shared_tasks=True, hosts=("10.0.0.2", "10.0.0.3"))
    backends = [f"server {host}:{port} " for host in ("10.0.0.2", "10.0.0.3") for port in (8000, 8001)]
    assert all(config.count(backend) == 2 for backend in backends)  # in both upstreams
    assert "127.0.0.1:800" not in config and "$remote_addr" not in config
    (tmp_path / "nginx.conf").write_text(config)
    checked = subprocess.run(
        [NGINX, "-t", "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stderr


def test_an_ipv6_host_is_written_in_brackets_as_nginx_reads_an_address_with_its_port(tmp_path):
    config = nginx_conf(1, 8000, "127.0.0.1:8080", shared_tasks=True, hosts=("fd00::2", "10.0.0.3", "[fd00::4]"))
    assert "server [fd00::2]:8000 " in config and "server 10.0.0.3:8000 " in config
    assert "server [fd00::4]:8000 " in config  # given in brackets already: not bracketed twice
    (tmp_path / "nginx.conf").write_text(config)
    checked = subprocess.run(
        [NGINX, "-t", "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stderr
