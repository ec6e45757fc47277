"""The ten most used solving-service client libraries, unchanged, against this service; and how long each takes.

    python -m bench.solver_clients [--runs 3]

Each driver in bench/solver_client_drivers/ uses one library as its README does, with the library's own default host
(api.anti-captcha.com, 2captcha.com, ...), reached through deploy/vendor_tls.py's front: nginx with a certificate
of a local CA for the vendors' names. In the driver's process only, those names resolve to loopback and their port
443 is nginx's port (pinned/sitecustomize.py for Python, pin_vendor_hosts.js for node, beside the drivers), as the
hosts line and nginx on :443 do on a bot's machine; the one trust variable its stack reads names the local CA. A
driver prints one JSON line: the digits it read and the seconds that took, the error code of a captcha we refuse,
the balance, and whether its report was accepted (null: the library has no report call).
tests/test_solver_clients.py runs them all.

This prints, per library, the seconds from its call to the answer of a captcha we read at once, with its defaults
and with the polling advice of docs/solver-protocols.md (the median of --runs), beside a direct POST /ocr.
"""

import argparse
import base64
import contextlib
import dataclasses
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from deploy.local_server import ROOT, free_port, nginx_running, running_server, wait_until_listening
from deploy.vendor_tls import VENDOR_HOSTS, write_front

DRIVERS = pathlib.Path(__file__).with_name("solver_client_drivers")
NODE = shutil.which("node")
# capmonstercloudclient pins old versions of what the service pins newer (attrs, typing-extensions, ...): the
# Makefile installs it and its dependencies into a folder of their own, put first on its driver's PYTHONPATH.
CAPMONSTERCLOUDCLIENT_FOLDER = pathlib.Path(sys.prefix) / "capmonstercloudclient"


@dataclasses.dataclass(frozen=True)
class Client:
    name: str  # as its registry spells it
    driver: str  # its file in bench/solver_client_drivers/
    trust: str  # the variable its stack reads a CA bundle from
    advice: str = ""  # the polling setting its driver's --advice applies; empty: nothing to change
    reports: bool = True  # it has a call to report an answer
    python_path: tuple = ()  # folders its interpreter needs first

    @property
    def stack(self):
        return "node" if self.driver.endswith(".js") else "python"

    def missing(self):
        """Why this client cannot run on this machine (no node), or None."""
        return "node is not installed" if self.stack == "node" and NODE is None else None

    def not_installed(self):
        """What installs this client, when it is not installed, or None."""
        if self.stack == "node" and not (ROOT / "node_modules" / self.name / "package.json").exists():
            return f"{self.name} is not installed: npm ci installs package.json's devDependencies (make test does)"
        if any(not pathlib.Path(folder).is_dir() for folder in self.python_path):
            return f"{self.name} is not installed: make .venv/.dev-installed puts it in {self.python_path[0]}"
        return None


CLIENTS = (
    Client("python-anticaptcha", "drive_python_anticaptcha.py", "REQUESTS_CA_BUNDLE"),
    Client("anticaptchaofficial", "drive_anticaptchaofficial.py", "REQUESTS_CA_BUNDLE"),
    Client("capmonster_python", "drive_capmonster_python.py", "SSL_CERT_FILE"),
    Client(
        "capmonstercloudclient",
        "drive_capmonstercloudclient.py",
        "SSL_CERT_FILE",
        reports=False,
        python_path=(str(CAPMONSTERCLOUDCLIENT_FOLDER),),
    ),
    Client("capsolver", "drive_capsolver.py", "REQUESTS_CA_BUNDLE", reports=False),
    Client("2captcha-python", "drive_twocaptcha_python.py", "REQUESTS_CA_BUNDLE"),
    Client(
        "@antiadmin/anticaptchaofficial",
        "drive_antiadmin_anticaptchaofficial.js",
        "NODE_EXTRA_CA_CERTS",
        advice="ac.settings.firstAttemptWaitingInterval = 0",
    ),
    Client(
        "@2captcha/captcha-solver",
        "drive_2captcha_captcha_solver.js",
        "NODE_EXTRA_CA_CERTS",
        advice="new Solver(key, 250)",
    ),
    Client("2captcha", "drive_2captcha.js", "NODE_EXTRA_CA_CERTS", advice="new Solver(key, 250)"),
    Client("rucaptcha-2captcha", "drive_rucaptcha_2captcha.js", "NODE_EXTRA_CA_CERTS"),
)


@dataclasses.dataclass(frozen=True)
class VendorFront:
    """nginx answering as the vendors' hosts on loopback ``port``, with the certificate of the CA in ``ca_file``."""

    port: int
    ca_file: pathlib.Path


@contextlib.contextmanager
def vendor_front(directory, backend_port):
    """deploy/vendor_tls.py's certificate and nginx.conf, nginx on a free loopback port in front of ``backend_port``."""
    port = free_port()
    write_front(directory, listen=f"127.0.0.1:{port}", port=backend_port)
    with nginx_running(directory, lambda still_running: wait_until_listening(port, still_running)):
        yield VendorFront(port, directory / "ca.pem")


def run(client, front, key, captcha, unreadable, advice=False, timeout=90):
    """``client``'s driver through ``front``: its JSON line as a dict (an AssertionError with its output if it
    fails)."""
    assert not client.not_installed(), client.not_installed()
    environment = {
        **os.environ,
        "PIN_HOSTS": ",".join(VENDOR_HOSTS),
        "PIN_PORT": str(front.port),
        client.trust: str(front.ca_file),
    }
    for variable in {"REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS"} - {client.trust}:
        environment.pop(variable, None)  # only the variable the docs name for this stack
    driver = DRIVERS / client.driver
    if client.stack == "node":
        environment["NODE_OPTIONS"] = f"--require {DRIVERS / 'pin_vendor_hosts.js'}"
        command = [NODE, str(driver)]
    else:
        environment["PYTHONPATH"] = os.pathsep.join([str(DRIVERS / "pinned"), *client.python_path])
        command = [sys.executable, str(driver)]
    command += [key, str(captcha), str(unreadable), *(["--advice"] if advice else [])]
    finished = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=timeout)
    lines = finished.stdout.strip().splitlines()
    assert finished.returncode == 0 and lines, (
        f"{client.name} failed ({finished.returncode}):\n{finished.stdout}\n{finished.stderr}"
    )
    return json.loads(lines[-1])


def direct_read_seconds(port, key, captcha):
    """Seconds of one POST /ocr straight to the service (a new connection, as a driver makes)."""
    body = json.dumps({"image_base64": base64.b64encode(captcha.read_bytes()).decode()}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/ocr", body, {"Content-Type": "application/json", "X-API-Key": key}
    )
    started = time.monotonic()
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()
    return time.monotonic() - started


def main():
    from tests.captchas import CAPTCHA_FILES

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    arguments = parser.parse_args()
    key = "bench-key"
    captcha = next(path for path in CAPTCHA_FILES if path.name.startswith("java_kaptcha"))
    with tempfile.TemporaryDirectory() as folder:
        folder = pathlib.Path(folder)
        unreadable = folder / "blank.png"
        from PIL import Image

        Image.new("RGB", (160, 60), "white").save(unreadable)
        with (
            running_server(folder / "server.log", API_KEYS=key) as (_url, port, _process, _seconds),
            vendor_front(folder / "tls", port) as front,
        ):
            direct = statistics.median(direct_read_seconds(port, key, captcha) for _ in range(max(arguments.runs, 5)))
            print(f"{'POST /ocr, direct':32s} {direct:6.2f} s")
            for client in CLIENTS:
                if reason := client.missing() or client.not_installed():
                    print(f"{client.name:32s} skipped: {reason}")
                    continue
                line = (
                    f"{client.name:32s} "
                    f"{median_seconds(client, front, key, captcha, unreadable, arguments.runs, False):6.2f} s"
                )
                if client.advice:
                    line += (
                        f"   {median_seconds(client, front, key, captcha, unreadable, arguments.runs, True):6.2f} s "
                        f"with {client.advice}"
                    )
                print(line, flush=True)


def median_seconds(client, front, key, captcha, unreadable, runs, advice):
    return statistics.median(run(client, front, key, captcha, unreadable, advice)["seconds"] for _ in range(runs))


if __name__ == "__main__":
    main()
