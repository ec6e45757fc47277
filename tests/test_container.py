"""The container image, as docs/operations.md builds it: its base from Debian packages (deploy/container_base.sh),
the Containerfile built on it with Debian's buildah, and the server run from it on the host's network, read from
and stopped with SIGTERM.

Needs root, buildah and debootstrap (``make container-tools``); skipped where they cannot run. The base is built
again only when deploy/container_base.sh changes (the image carries the script's sha256), and the image's layers
are cached (``--layers``): a change to the code costs one pip install of the package, not of its requirements.
"""

import base64
import hashlib
import json
import os
import pathlib
import shutil
import signal
import subprocess
import time

import pytest
import requests

from deploy.local_server import ROOT, free_port, wait_until_healthy

BASE_SCRIPT = ROOT / "deploy" / "container_base.sh"
BASE_IMAGE = "localhost/captcha-ocr-base:bookworm"  # the Containerfile's default BASE
IMAGE = "localhost/captcha-ocr:test"
FIXTURE = ROOT / "tests" / "fixtures" / "java_kaptcha-100_3674.jpg"
SITE_PACKAGES = pathlib.PurePosixPath("opt/captcha-ocr/lib/python3.11/site-packages")
NICE = ["nice", "-n", "19"]  # builds take both cores otherwise
CHROOT = ["--isolation", "chroot"]
STOP_SECONDS = 10


def unavailable():
    """Why images cannot be built and run here, or ``None``."""
    if os.geteuid() != 0:
        return "needs root: debootstrap, and buildah's chroot isolation"
    tools = {
        "buildah": shutil.which("buildah"),
        "debootstrap": shutil.which("debootstrap", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin"),
    }
    missing = [name for name, path in tools.items() if path is None]
    if missing:
        return f"{' and '.join(missing)} not installed (make container-tools, or apt-get install buildah debootstrap)"
    try:
        info = subprocess.run(["buildah", "info"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"buildah cannot run here: {error}"
    if info.returncode != 0:
        return f"buildah cannot run here: {info.stderr.strip()[-500:]}"
    return None


def run(command, timeout=120):
    """``command``'s standard output; its output's end in the failure otherwise."""
    completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    assert completed.returncode == 0, (
        f"{' '.join(command)} exited with {completed.returncode}:\n{(completed.stdout + completed.stderr)[-3000:]}"
    )
    return completed.stdout


def labels_of(image):
    """An image's labels, or ``None`` when there is no such image."""
    completed = subprocess.run(
        ["buildah", "inspect", "--type", "image", image], capture_output=True, text=True, timeout=60
    )
    if completed.returncode != 0:
        return None
    return json.loads(completed.stdout)["OCIv1"]["config"].get("Labels") or {}


def docker_config(image):
    """The image's configuration in docker's format (the one HEALTHCHECK is kept in)."""
    return json.loads(run(["buildah", "inspect", "--type", "image", image]))["Docker"]["config"]


@pytest.fixture(scope="module")
def image():
    reason = unavailable()
    if reason:
        pytest.skip(reason)
    script_hash = hashlib.sha256(BASE_SCRIPT.read_bytes()).hexdigest()
    if (labels_of(BASE_IMAGE) or {}).get("captcha-ocr.base-script-sha256") != script_hash:
        run([*NICE, str(BASE_SCRIPT), BASE_IMAGE], timeout=1800)
    # PIP_INDEX_URL: a mirror this machine's pip is told to use (pypi.org otherwise).
    index = (
        [f"--build-arg=INDEX_URL={os.environ['PIP_INDEX_URL']}"]
        if os.environ.get("PIP_INDEX_URL", "").startswith(("http://", "https://"))
        else []
    )
    run(
        [
            *NICE,
            "buildah",
            "bud",
            *CHROOT,
            "--format",
            "docker",
            "--layers",
            "--pull=never",
            f"--build-arg=BASE={BASE_IMAGE}",
            *index,
            "-f",
            str(ROOT / "Containerfile"),
            "-t",
            IMAGE,
            str(ROOT),
        ],
        timeout=1800,
    )
    return IMAGE


@pytest.fixture
def container(image):
    name = run(["buildah", "from", "--pull=never", image]).strip()
    yield name
    subprocess.run(["buildah", "rm", name], capture_output=True, timeout=120)


def contained_server(buildah_pid):
    """The process ``buildah run`` (pid ``buildah_pid``) runs in the container: the descendant that is not buildah's
    own.

    It is what ``docker stop`` signals. buildah run itself, sent SIGTERM, kills it with SIGKILL (buildah 1.28's
    chroot isolation does not forward the signal), so the test signals the server, as a container runtime does.
    """
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        parents = {}
        for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
            try:
                parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            except OSError:  # ended meanwhile
                continue
        for pid, parent in parents.items():
            ancestor = parent
            while ancestor not in (0, 1, buildah_pid) and ancestor in parents:
                ancestor = parents[ancestor]
            try:
                command = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
            except OSError:
                continue
            if ancestor == buildah_pid and not command.startswith(b"buildah"):
                return pid
        time.sleep(0.1)
    raise AssertionError(f"no process of the container under buildah run (pid {buildah_pid})")


def test_the_image_holds_the_package_and_its_models_and_nothing_of_the_build(image, container):
    config = docker_config(image)
    assert config["User"] == "10001:10001"
    assert "8000/tcp" in config["ExposedPorts"] and "HOST=0.0.0.0" in config["Env"] and "PORT=8000" in config["Env"]
    assert config["Cmd"] == ["captcha-ocr", "serve"] and config["StopSignal"] == "SIGTERM"
    assert config["Healthcheck"]["Test"][:2] == ["CMD", "python"]
    root = pathlib.Path(run(["buildah", "mount", container]).strip())
    try:
        models = root / SITE_PACKAGES / "captcha_service" / "ocr" / "models"
        assert (
            (models / "digits.onnx").is_file()
            and (models / "calibrations.json").is_file()
            and (models / "common-int8.onnx").is_file()
        )
        assert (
            root / SITE_PACKAGES / "ddddocr" / "common_old.onnx"
        ).is_file()  # the ddddocr model the service runs as it is
        assert not [
            name for name in ("tests", "bench", "deploy", "cv2", "pip") if (root / SITE_PACKAGES / name).exists()
        ]
        assert not (root / "src").exists() and not (root / "root" / ".cache").exists()
    finally:
        subprocess.run(["buildah", "umount", container], capture_output=True, timeout=60)


def test_the_container_serves_reads_and_stops_on_sigterm(image, container, tmp_path):
    config = docker_config(image)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "container.log"
    # buildah run's options before the command, for the server and its health check alike
    in_container = [*CHROOT, "--network", "host", "--env", f"PORT={port}", container, "--"]
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            [*NICE, "buildah", "run", *in_container, *config["Cmd"]], stdout=log, stderr=subprocess.STDOUT
        )
    try:
        wait_until_healthy(url + "/", timeout=180, still_running=lambda: server.poll() is None)
        image_base64 = base64.b64encode(FIXTURE.read_bytes()).decode()
        answer = requests.post(url + "/ocr", json={"image_base64": image_base64}, timeout=60)
        assert answer.status_code == 200, answer.text
        assert answer.json()["digits"] == "3674"

        served = contained_server(server.pid)
        # not root
        assert f"Uid:\t{config['User'].split(':')[0]}\t" in pathlib.Path(f"/proc/{served}/status").read_text()
        healthcheck = [*in_container, *config["Healthcheck"]["Test"][1:]]
        assert subprocess.run(["buildah", "run", *healthcheck], capture_output=True, timeout=120).returncode == 0

        stopping = time.monotonic()
        os.kill(served, signal.SIGTERM)
        # 0: waitress drained and stopped, not killed
        assert server.wait(timeout=STOP_SECONDS) == 0, log_path.read_text()[-3000:]
        assert time.monotonic() - stopping < STOP_SECONDS
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=30)
    output = log_path.read_text()
    assert f"captcha-ocr: listening on http://0.0.0.0:{port}" in output and "Traceback" not in output
    # nothing answers now
    assert subprocess.run(["buildah", "run", *healthcheck], capture_output=True, timeout=120).returncode != 0
