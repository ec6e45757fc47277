"""Latency, throughput, memory and start-up of the real server, against the engine's own limits.

    python -m bench.load [--soak N] [--seconds S] [--json FILE] [FOLDER ...]

Starts `python wsgi.py` (waitress, as deployed, default settings) on a free loopback port and,
in the same run, measures on the same mixed real captchas (../shared/captchas by default):
  old service  the reference: one run of ddddocr's default model (common_old.onnx) per image,
               in-process, as the old FastAPI service read: p50 one at a time (default threads),
               and the best throughput of 1, 2 or 4 threads with one onnxruntime thread each
  engine       our whole read in-process (decode, models, decoding, calibration): p50 and the
               best parallel throughput
  latency      HTTP p50/p95/p99 at concurrency 1, and p50 / the old service's model run
  throughput   requests/s at concurrency 1, 2, 4, 8, 16, 32, and the best / the old service's best
  memory       server RSS after warm-up and after a soak of N requests (images of varied sizes),
               each once the server has idled for 3 s; and at the end of the soak, under load
  start-up     process start to the first 200 on GET /
  overload     an offered load of 10x the measured capacity: what the clients get
  site models  a server with three site models loaded (copies of the general digit model, which
               is what a fine-tuned one is in size), against the same server before it read with them
  worst case   each input of the hostile corpus (bench/hostile_corpus.py) and the heaviest
               allowed ones, on their own: the slowest and the most memory-hungry, with the
               server's peak RSS while it is read and GET /'s latency meanwhile
One figure a line. The ratios are what to read: these machines are shared and noisy.
"""

import argparse
import base64
import http.client
import io
import json
import os
import pathlib
import shutil
import statistics
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import onnxruntime
from PIL import Image

from bench.hostile_corpus import DATA_URL_WITHOUT_A_COMMA, HEAVY_BUT_ALLOWED, IMAGE_CASES
from captcha_service.config import Config
from captcha_service.ocr.ddddocr_model import DdddocrModels, model_input
from captcha_service.ocr.digit_model import MODEL_FILE
from captcha_service.ocr.images import decode_picture
from captcha_service.ocr.pipeline import intra_op_threads
from captcha_service.ocr.recogniser import DIGIT_MODEL, Recogniser, load_calibrations, session_options
from captcha_service.ocr.site_models import CARD_FILE_NAME, MODEL_FILE_NAME
from deploy.local_server import rss_mb, running_server
from training.labelled import DEFAULT_ROOT, labelled_folders

CONCURRENCIES = (1, 2, 4, 8, 16, 32)
OLD_SERVICE_MODEL = "common_old"
WARM_UP_REQUESTS = 50
SIZE_FACTORS = (0.6, 1.0, 2.0)
IDLE_SECONDS = 3.0


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class Client:
    """One keep-alive HTTP connection that POSTs prepared bodies to /ocr."""

    def __init__(self, port):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def post(self, body):
        """(status, seconds) of one request."""
        started = time.perf_counter()
        self.connection.request("POST", "/ocr", body=body, headers={"Content-Type": "application/json"})
        response = self.connection.getresponse()
        response.read()
        if response.getheader("Connection", "").lower() == "close":
            self.connection.close()
        return response.status, time.perf_counter() - started


def image_set(folders):
    """The captcha bytes, and request bodies at several sizes (for the soak: varied input shapes)."""
    images = [path.read_bytes() for paths in folders.values() for path in paths]
    varied = []
    for data in images:
        with Image.open(io.BytesIO(data)) as image:
            if getattr(image, "n_frames", 1) > 1:
                varied.append(data)
                continue
            for factor in SIZE_FACTORS:
                buffer = io.BytesIO()
                image.convert("RGB").resize(
                    (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
                ).save(buffer, "PNG")
                varied.append(buffer.getvalue())
    return images, [body_of(data) for data in images], [body_of(data) for data in varied]


def body_of(data):
    return json.dumps({"image_base64": base64.b64encode(data).decode()}).encode()


def old_service_reference(images, seconds):
    """The old service's model run per image: (p50 seconds at default threads, best runs/s over 1/2/4 threads)."""
    inputs = [model_input(decode_picture(data)) for data in images]
    single = DdddocrModels([OLD_SERVICE_MODEL], session_options(3, 0))
    times = []
    for batch in inputs:
        started = time.perf_counter()
        single.model_scores([batch])
        times.append(time.perf_counter() - started)
    one_thread_each = DdddocrModels([OLD_SERVICE_MODEL], session_options(3, 1))
    best = max(
        parallel_rate(lambda index: one_thread_each.model_scores([inputs[index % len(inputs)]]), threads, seconds)
        for threads in (1, 2, 4)
    )
    return statistics.median(times), best


def engine_reference(images, seconds):
    """Our whole read per image in-process: (p50 seconds, best reads/s over 1/2/4 threads)."""
    recogniser = Recogniser(Config.OCR_MODEL, 3, intra_op_threads(vars(Config)))
    recogniser.warm_up()
    times = []
    for data in images:
        started = time.perf_counter()
        recogniser.read(decode_picture(data), Config.OCR_DIGITS)
        times.append(time.perf_counter() - started)

    def read(index):
        recogniser.read(decode_picture(images[index % len(images)]), Config.OCR_DIGITS)

    best = max(parallel_rate(read, threads, seconds) for threads in (1, 2, 4))
    return statistics.median(times), best


def parallel_rate(work, threads, seconds):
    """Calls of ``work(index)`` per second from ``threads`` threads for ``seconds``."""
    done = [0] * threads
    deadline = time.perf_counter() + seconds

    def worker(number):
        index = number
        while time.perf_counter() < deadline:
            work(index)
            done[number] += 1
            index += threads

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(worker, range(threads)))
    return sum(done) / (time.perf_counter() - started)


def closed_loop(port, bodies, concurrency, seconds=None, total=None):
    """Each of ``concurrency`` clients sends its next request when the last is answered."""
    statuses, latencies, lock = Counter(), [], threading.Lock()
    sent = iter(range(total)) if total else None
    deadline = time.perf_counter() + seconds if seconds else None

    def client(worker):
        connection, index = Client(port), worker
        while True:
            if deadline and time.perf_counter() >= deadline:
                return
            if sent is not None:
                with lock:
                    index = next(sent, None)
                if index is None:
                    return
            try:
                status, latency = connection.post(bodies[index % len(bodies)])
            except (OSError, http.client.HTTPException):
                status, latency, connection = "connection error", 0.0, Client(port)
            with lock:
                statuses[status] += 1
                latencies.append(latency)
            index += concurrency

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(client, range(concurrency)))
    return statuses, latencies, time.perf_counter() - started


def open_loop(port, bodies, rate, seconds, clients=200):
    """Requests sent at ``rate`` per second whatever the answers: what an overload looks like."""
    statuses, latencies, lock = Counter(), [], threading.Lock()
    count = int(rate * seconds)
    start = time.perf_counter() + 0.2

    def send(index):
        delay = start + index / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        try:
            status, latency = Client(port).post(bodies[index % len(bodies)])
        except (OSError, http.client.HTTPException):
            status, latency = "connection error", 0.0
        with lock:
            statuses[status] += 1
            latencies.append(latency)

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(send, range(count)))
    return statuses, latencies


def idle_rss_mb(pid):
    """The server's RSS once it has been idle for a while (memory.TrimFreedHeap has returned freed heap)."""
    time.sleep(IDLE_SECONDS)
    return rss_mb(pid)


def peak_rss_mb(pid):
    """The process's peak RSS since the last ``reset_peak_rss`` (VmHWM)."""
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


def reset_peak_rss(pid):
    with open(f"/proc/{pid}/clear_refs", "w") as clear_refs:
        clear_refs.write("5")


def probe_health(port, done, latencies):
    """``GET /`` again and again until ``done`` is set, each one's latency appended to ``latencies``."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while not done.is_set():
        started = time.perf_counter()
        connection.request("GET", "/")
        connection.getresponse().read()
        latencies.append(time.perf_counter() - started)
        time.sleep(0.01)


def worst_cases(port, pid):
    """(name, status, seconds, peak RSS MB, slowest GET / meanwhile in ms) of each hostile or heavy input."""
    inputs = [(name, base64.b64encode(data).decode()) for name, data, _ in IMAGE_CASES]
    inputs += [(name, base64.b64encode(data).decode()) for name, data in HEAVY_BUT_ALLOWED]
    inputs.append(("data-url-without-a-comma", DATA_URL_WITHOUT_A_COMMA))
    results = []
    for name, text in inputs:
        body = json.dumps({"image_base64": text}).encode()
        reset_peak_rss(pid)
        health, done = [], threading.Event()
        prober = threading.Thread(target=probe_health, args=(port, done, health))
        prober.start()
        try:
            status, seconds = Client(port).post(body)
        except (OSError, http.client.HTTPException):
            status, seconds = "connection error", float("nan")
        done.set()
        prober.join()
        results.append((name, status, seconds, peak_rss_mb(pid), 1000 * max(health, default=0.0)))
    return results


def site_models_rss(bodies, names=("site-a", "site-b", "site-c")):
    """(idle RSS after warm-up with the general model, idle RSS once each site model has read too)."""
    with tempfile.TemporaryDirectory() as scratch:
        calibration = load_calibrations()[DIGIT_MODEL]
        for name in names:
            folder = pathlib.Path(scratch, "models", name)
            folder.mkdir(parents=True)
            shutil.copy(MODEL_FILE, folder / MODEL_FILE_NAME)
            (folder / CARD_FILE_NAME).write_text(
                json.dumps({"calibration": {"weights": calibration.weights, "bias": calibration.bias}})
            )
        with running_server(os.path.join(scratch, "server.log"), MODELS_DIR=os.path.join(scratch, "models")) as (
            _url,
            port,
            process,
            _,
        ):
            closed_loop(port, bodies, 1, total=WARM_UP_REQUESTS)
            general = idle_rss_mb(process.pid)
            for name in names:
                named = [json.dumps({**json.loads(body), "model": name}).encode() for body in bodies[:WARM_UP_REQUESTS]]
                statuses, _, _ = closed_loop(port, named, 1, total=WARM_UP_REQUESTS)
                assert set(statuses) <= {200, 422}, statuses
            return general, idle_rss_mb(process.pid)


def is_error(status):
    return not isinstance(status, int) or status >= 500


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="*", default=[DEFAULT_ROOT])
    parser.add_argument("--soak", type=int, default=20_000, help="requests in the memory soak (default 20000)")
    parser.add_argument("--seconds", type=float, default=6.0, help="length of each throughput measurement")
    parser.add_argument("--latency-requests", type=int, default=400)
    parser.add_argument("--json", help="also write the figures to this file")
    arguments = parser.parse_args()
    onnxruntime.set_default_logger_severity(3)
    figures = {}

    def report(name, value, unit=""):
        figures[name] = value
        print(f"{name}: {value:.3f}{unit}" if isinstance(value, float) else f"{name}: {value}{unit}", flush=True)

    images, bodies, varied_bodies = image_set(labelled_folders(arguments.folders))
    report("cpu cores", os.cpu_count())
    report("images", len(images))
    with (
        tempfile.TemporaryDirectory() as scratch,
        running_server(os.path.join(scratch, "server.log")) as (url, port, process, startup),
    ):
        report("start-up to first 200 on GET /", startup, " s")
        closed_loop(port, bodies, 1, total=WARM_UP_REQUESTS)
        report("server RSS after warm-up", idle_rss_mb(process.pid), " MB (goal <= 150)")

        old_p50, old_best = old_service_reference(images, arguments.seconds)
        report("old service: one common_old run per image (p50, in-process, default threads)", 1000 * old_p50, " ms")
        report(
            "old service: best in-process throughput (1/2/4 threads, one onnxruntime thread each)", old_best, " runs/s"
        )
        engine_read, engine_best = engine_reference(images, arguments.seconds)
        report("engine: whole read per image (p50, in-process)", 1000 * engine_read, " ms")
        report("engine: best in-process parallel throughput", engine_best, " reads/s")

        statuses, latencies, _ = closed_loop(port, bodies, 1, total=arguments.latency_requests)
        p50 = percentile(latencies, 0.5)
        for share in (0.5, 0.95, 0.99):
            report(f"HTTP latency p{round(share * 100)} at concurrency 1", 1000 * percentile(latencies, share), " ms")
        report("ratio: HTTP p50 / old service's model run p50", p50 / old_p50, " (goal <= 1.0)")
        report("ratio: HTTP p50 / engine whole read", p50 / engine_read)

        best = 0.0
        for concurrency in CONCURRENCIES:
            statuses, latencies, elapsed = closed_loop(port, bodies, concurrency, seconds=arguments.seconds)
            rate = sum(statuses.values()) / elapsed
            best = max(best, rate)
            errors = sum(count for status, count in statuses.items() if is_error(status))
            report(
                f"throughput at concurrency {concurrency}",
                rate,
                f" requests/s ({errors} errors, p99 {1000 * percentile(latencies, 0.99):.0f} ms)",
            )
        report("ratio: best HTTP throughput / old service's best throughput", best / old_best, " (goal >= 1.0)")
        report("ratio: best HTTP throughput / engine's best in-process throughput", best / engine_best)

        before = idle_rss_mb(process.pid)
        statuses, _, elapsed = closed_loop(port, varied_bodies, 4, total=arguments.soak)
        under_load = rss_mb(process.pid)
        after = idle_rss_mb(process.pid)
        errors = sum(count for status, count in statuses.items() if is_error(status))
        report(
            "soak",
            f"{arguments.soak} requests of {len(varied_bodies)} images of varied sizes in {elapsed:.0f} s, "
            f"{errors} errors",
        )
        report("server RSS at the end of the soak (under load)", under_load, " MB")
        report("server RSS after the soak", after, " MB")
        report("RSS growth over the soak", after - before, " MB (goal <= 5)")

        statuses, latencies = open_loop(port, bodies, rate=10 * best, seconds=min(arguments.seconds, 5.0))
        answered = [latency for latency in latencies if latency > 0]
        report("overload: offered load", 10 * best, " requests/s (10x the best throughput)")
        report(
            "overload: answers", ", ".join(f"{status}: {count}" for status, count in sorted(statuses.items(), key=str))
        )
        report(
            "overload: latency p50 / p99",
            f"{1000 * percentile(answered, 0.5):.0f} / {1000 * percentile(answered, 0.99):.0f} ms",
        )
        report("overload: server RSS", rss_mb(process.pid), " MB")
        report("overload: healthy afterwards", Client(port).post(bodies[0])[0] in (200, 422))

    general_rss, with_sites = site_models_rss(bodies)
    report("site models: server RSS after warm-up, general model only", general_rss, " MB")
    report("site models: server RSS with three site models loaded", with_sites, " MB")
    report("site models: RSS for three site models", with_sites - general_rss, " MB (goal <= 40)")

    with (
        tempfile.TemporaryDirectory() as scratch,
        running_server(os.path.join(scratch, "server.log")) as (url, port, process, _),
    ):
        cases = worst_cases(port, process.pid)
        slowest = max(cases, key=lambda case: case[2])
        hungriest = max(cases, key=lambda case: case[3])
        report(
            "worst case: inputs", f"{len(cases)} hostile or heavy, statuses {dict(Counter(case[1] for case in cases))}"
        )
        report("worst case: slowest", f"{slowest[0]}: {1000 * slowest[2]:.0f} ms (goal <= 1000)")
        report("worst case: peak RSS", f"{hungriest[0]}: {hungriest[3]:.0f} MB (goal <= 300)")
        report("worst case: slowest GET / while one is read", f"{max(case[4] for case in cases):.0f} ms (goal <= 100)")
        report("worst case: healthy afterwards", Client(port).post(bodies[0])[0] in (200, 422))
    if arguments.json:
        with open(arguments.json, "w") as output:
            json.dump(figures, output, indent=2, default=str)


if __name__ == "__main__":
    main()
