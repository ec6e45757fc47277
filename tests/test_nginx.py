"""deploy/nginx.conf in front of two real service processes: one dies mid-run, no client notices."""

import os
import shutil
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from conftest import CAPTCHA_FILES, ROOT, base64_of, free_port, label_of, running_server, wait_until_healthy

NGINX = shutil.which("nginx") or next((path for path in ["/usr/sbin/nginx"] if os.access(path, os.X_OK)), None)
REQUESTS = 240
KILL_AFTER = 100
CLIENTS = 4

pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (make test installs it where it can)")


def nginx_config(listen_port, backend_ports):
    config = (ROOT / "deploy" / "nginx.conf").read_text()
    config = config.replace("listen 127.0.0.1:8080;", f"listen 127.0.0.1:{listen_port};")
    for default_port, port in zip((8000, 8001), backend_ports):
        config = config.replace(f"server 127.0.0.1:{default_port} ", f"server 127.0.0.1:{port} ")
    return config


def served_reads(log_path):
    return sum("path=/ocr status=200" in line for line in log_path.read_text().splitlines())


def test_nginx_spreads_reads_and_hides_a_dead_backend(tmp_path):
    bodies = [({"image_base64": base64_of(path)}, label_of(path)) for path in CAPTCHA_FILES]
    with running_server(tmp_path / "a.log", TRUSTED_PROXY="127.0.0.1") as (_, port_a, process_a, _), \
         running_server(tmp_path / "b.log", TRUSTED_PROXY="127.0.0.1") as (_, port_b, _, _):
        listen_port = free_port()
        (tmp_path / "nginx.conf").write_text(nginx_config(listen_port, (port_a, port_b)))
        with open(tmp_path / "nginx.log", "w") as log:
            nginx = subprocess.Popen([NGINX, "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path), "-g", "daemon off;"], stderr=log)
        url = f"http://127.0.0.1:{listen_port}"
        try:
            wait_until_healthy(url + "/", still_running=lambda: nginx.poll() is None)
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
        finally:
            nginx.terminate()
            nginx.wait(timeout=30)
        assert killed.is_set()
        assert len(answered) == REQUESTS
        assert all(status == 200 and right for status, right in answered)
        assert served_reads(tmp_path / "a.log") > 0 and served_reads(tmp_path / "b.log") > 0
        assert served_reads(tmp_path / "b.log") > REQUESTS - KILL_AFTER
