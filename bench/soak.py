"""The state the service keeps, under a mixed load and kill -9: nothing lost that was written, nothing over its bounds.

    python -m bench.soak [--seconds S] [--clients N] [--kill-every K] [--json FILE]

Starts the service under real PM2 (eco.config.js, its own PM2_HOME) with SAMPLES_DIR, a small
SAMPLES_MAX_BYTES, API keys and a site model, then runs N clients for S seconds, each in turn:
  /ocr and reports on the answer (relabelled three times), with and without the site model
  in.php -> res.php -> reportgood (2captcha's legacy API)
  createTask -> getTaskResult -> reportCorrect (the createTask API)
while the service's process is killed with SIGKILL every K seconds (PM2 starts it again).
Prints the answers by status (5xx must be 0, but for "503 starting", which a restarted process
answers while its models load; a refused connection while PM2 restarts is counted apart, as are
tasks and reports the killed process held: they live in its memory), the process's peak RSS,
and then SAMPLES_DIR: its bytes against the quota, files that do not decode whole, and parts left.
"""

import argparse
import base64
import json
import os
import pathlib
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter

from PIL import Image

from captcha_service.ocr.digit_model import MODEL_FILE
from captcha_service.ocr.site_models import CARD_FILE_NAME, MODEL_FILE_NAME
from deploy.local_server import ROOT, free_port, rss_mb, wait_until_healthy
from training.labelled import DEFAULT_ROOT, labelled_folders

PM2 = ROOT / "node_modules" / ".bin" / "pm2"
KEYS = ("soak-key-a", "soak-key-b")
QUOTA = 8 * 1024 * 1024
SITE_CARD = {"name": "soak", "calibration": {"weights": [1.0, 0.5, 2.0, 0.1], "bias": 0.0}}


def call(url, path, body=None, headers=None, form=None, timeout=10):
    """(status, parsed answer) of one request; status "refused" when nothing listens (PM2 restarting)."""
    data = json.dumps(body).encode() if body is not None else form
    request = urllib.request.Request(
        url + path,
        data=data,
        headers={**({"Content-Type": "application/json"} if body is not None else {}), **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, text, request_id = response.status, response.read().decode(), response.headers.get("X-Request-ID")
    except urllib.error.HTTPError as error:
        status, text, request_id = error.code, error.read().decode(), error.headers.get("X-Request-ID")
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        time.sleep(0.05)  # PM2 is starting it again: a client would wait a moment too
        return "refused", None, None
    try:
        answer = json.loads(text)
    except ValueError:
        answer = text
    if status == 503 and isinstance(answer, dict) and str(answer.get("detail", "")).startswith("starting"):
        status = "503 starting"  # the models of a restarted process still loading: up, not ready (Retry-After)
    return status, answer, request_id


class Tally:
    def __init__(self):
        self.statuses, self.lost, self._lock = Counter(), Counter(), threading.Lock()

    def add(self, kind, status):
        with self._lock:
            self.statuses[kind, str(status)] += 1

    def lose(self, kind):
        with self._lock:
            self.lost[kind] += 1


def ocr_round(url, key, image, tally, model=None):
    headers = {"X-API-Key": key}
    body = {"image_base64": image, **({"model": model} if model else {})}
    status, _answer, request_id = call(url, "/ocr", body, headers)
    tally.add("ocr", status)
    if status not in (200, 422) or request_id is None:
        return
    for digits in random.sample(range(1000, 10000), 3):
        status, _answer, _ = call(url, "/ocr/report", {"request_id": request_id, "digits": str(digits)}, headers)
        tally.add("report", status)
        if status == 404:
            tally.lose("report")  # remembered by the process that was killed


def twocaptcha_round(url, key, image, tally):
    status, answer, _ = call(
        url,
        "/in.php",
        form=urllib.parse.urlencode({"key": key, "method": "base64", "body": image, "json": "1"}).encode(),
    )
    tally.add("in.php", status)
    if status != 200 or not isinstance(answer, dict) or answer.get("status") != 1:
        return
    query = f"/res.php?key={key}&json=1&id={answer['request']}"
    status, polled, _ = call(url, query + "&action=get")
    tally.add("res.php", status)
    if isinstance(polled, dict) and polled.get("request") == "ERROR_WRONG_CAPTCHA_ID":
        tally.lose("task")
    status, _, _ = call(url, query + "&action=reportgood")
    tally.add("res.php", status)


def createtask_round(url, key, image, tally):
    status, created, _ = call(
        url, "/createTask", {"clientKey": key, "task": {"type": "ImageToTextTask", "body": image}}
    )
    tally.add("createTask", status)
    if status != 200 or not isinstance(created, dict) or "taskId" not in created:
        return
    status, polled, _ = call(url, "/getTaskResult", {"clientKey": key, "taskId": created["taskId"]})
    tally.add("getTaskResult", status)
    if isinstance(polled, dict) and polled.get("errorCode") == "ERROR_NO_SUCH_CAPCHA_ID":
        tally.lose("task")
    status, _, _ = call(url, "/reportCorrect", {"clientKey": key, "taskId": created["taskId"]})
    tally.add("reportCorrect", status)


ROUNDS = (
    lambda url, key, image, tally: ocr_round(url, key, image, tally),
    lambda url, key, image, tally: ocr_round(url, key, image, tally, model="soak"),
    twocaptcha_round,
    createtask_round,
)


def app_pid(pm2):
    listed = json.loads(pm2("jlist"))
    return listed[0]["pid"] if listed else 0


def samples_check(folder):
    """(bytes, images, files that do not decode whole, writes in progress left) of SAMPLES_DIR."""
    total = images = broken = parts = 0
    for path in pathlib.Path(folder).rglob("*"):
        if not path.is_file():
            continue
        total += path.stat().st_size
        if path.name.endswith(".partial"):
            parts += 1
            continue
        images += 1
        try:
            with Image.open(path) as image:
                image.load()
        except (OSError, SyntaxError):
            broken += 1
    return total, images, broken, parts


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--kill-every", type=float, default=10)
    parser.add_argument("--json")
    arguments = parser.parse_args()
    images = [
        base64.b64encode(path.read_bytes()).decode()
        for paths in labelled_folders([DEFAULT_ROOT]).values()
        for path in paths[:20]
    ]
    scratch = pathlib.Path(tempfile.mkdtemp(prefix="soak-"))
    samples, models = scratch / "samples", scratch / "models"
    (models / "soak").mkdir(parents=True)
    shutil.copy(MODEL_FILE, models / "soak" / MODEL_FILE_NAME)
    (models / "soak" / CARD_FILE_NAME).write_text(json.dumps(SITE_CARD))
    port = free_port()
    environment = {
        **os.environ,
        "PM2_HOME": str(scratch / "pm2"),
        "PORT": str(port),
        "CAPTCHA_OCR_PYTHON": sys.executable,
        "SAMPLES_DIR": str(samples),
        "SAMPLES_MAX_BYTES": str(QUOTA),
        "MODELS_DIR": str(models),
        "API_KEYS": ",".join(KEYS),
    }

    def pm2(*command):
        return subprocess.run(
            [str(PM2), *command], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60, check=True
        ).stdout

    url = f"http://127.0.0.1:{port}"
    tally, stop, peak_rss, kills = Tally(), threading.Event(), [0.0], [0]
    try:
        pm2("start", "eco.config.js")
        wait_until_healthy(url + "/", timeout=120)

        def client(index):
            rng = random.Random(index)
            while not stop.is_set():
                rng.choice(ROUNDS)(url, KEYS[index % 2], rng.choice(images), tally)

        def killer():
            while not stop.wait(arguments.kill_every):
                pid = app_pid(pm2)
                if pid:
                    os.kill(pid, signal.SIGKILL)
                    kills[0] += 1

        def watch_memory():
            while not stop.wait(0.5):
                try:
                    peak_rss[0] = max(peak_rss[0], rss_mb(app_pid(pm2)))
                except (OSError, RuntimeError, subprocess.SubprocessError):
                    pass  # between a kill and the restart

        threads = [threading.Thread(target=client, args=(index,)) for index in range(arguments.clients)]
        threads += [threading.Thread(target=killer), threading.Thread(target=watch_memory)]
        for thread in threads:
            thread.start()
        time.sleep(arguments.seconds)
        stop.set()
        for thread in threads:
            thread.join()
    finally:
        subprocess.run([str(PM2), "kill"], env=environment, capture_output=True, timeout=60)
    total, kept, broken, parts = samples_check(samples)
    server_errors = sum(
        count for (_, status), count in tally.statuses.items() if status.startswith("5") and "starting" not in status
    )
    figures = {
        "seconds": arguments.seconds,
        "clients": arguments.clients,
        "kills": kills[0],
        "answers": {f"{kind} {status}": count for (kind, status), count in sorted(tally.statuses.items())},
        "5xx": server_errors,
        "lost_with_the_killed_process": dict(tally.lost),
        "peak_rss_mb": round(peak_rss[0], 1),
        "samples_bytes": total,
        "samples_quota": QUOTA,
        "samples": kept,
        "samples_broken": broken,
        "parts_left": parts,
    }
    for name, value in figures.items():
        print(f"{name:30s} {value}")
    if arguments.json:
        pathlib.Path(arguments.json).write_text(json.dumps(figures, indent=2))
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
