"""Several processes sharing their tasks in Redis, behind round-robin nginx, while processes die and Redis stops.

    python -m bench.cluster [--processes 3] [--clients 16] [--seconds 60] [--kill-every 10] [--redis-down-for 10]

Starts redis-server (its writes in an append-only file, so a restart keeps them), N service
processes with that REDIS_URL, and nginx in front in round robin (deploy/nginx_conf.py
--shared-tasks). Each captcha's answer is known first (``POST /ocr``). Then the clients, for S
seconds, each in turn: createTask -> getTaskResult, in.php -> res.php, polling until answered,
retrying a call answered "no slot" as clients do. Meanwhile one process after the other is
killed with SIGKILL every K seconds (and started again), and at 40% of the run Redis stops for
D seconds; a watcher reads over ``POST /ocr`` all along. It prints:
  tasks answered right, lost (created, then unknown), answered with another task's answer, 5xx
  the p50 of each protocol call, and of the Redis task store's calls against the in-memory one's
  while Redis is down: how long the protocols take to refuse, whether /ocr went on, and how soon
  after Redis is back every call succeeds again.
"""

import argparse
import base64
import contextlib
import pathlib
import random
import statistics
import tempfile
import threading
import time
from collections import Counter, defaultdict

import requests

from captcha_service.shared import connect
from captcha_service.solver_protocols.redis_tasks import RedisTaskStore
from captcha_service.solver_protocols.tasks import TaskStore
from deploy.local_server import NGINX, RedisServer, free_port, running_nginx, start_server, wait_until_healthy
from training.labelled import DEFAULT_ROOT, labelled_folders

NO_SLOT = "ERROR_NO_SLOT_AVAILABLE"  # the protocols' "try again" (Redis away, or no read slot free)
GIVE_UP_SECONDS = 60  # a task still unanswered after this is counted lost


class Backends:
    """The service processes, each on its own port; one can be killed and started again on the same port."""

    def __init__(self, count, folder, **settings):
        self.ports = [free_port() for _ in range(count)]
        self.folder, self.settings = folder, settings
        self.processes = [self._start(index) for index in range(count)]
        for port in self.ports:
            wait_until_healthy(f"http://127.0.0.1:{port}/", timeout=120)

    def _start(self, index):
        log = open(self.folder / f"process-{index}.log", "a")  # open as long as the process runs
        return start_server(self.ports[index], log, log, **self.settings)

    def kill_and_restart(self, index):
        self.processes[index].kill()
        self.processes[index].wait()
        self.processes[index] = self._start(index)

    def stop(self):
        for process in self.processes:
            process.terminate()
            process.wait(timeout=30)


class Tally:
    """Counts and latencies from every client thread."""

    def __init__(self):
        self.lock = threading.Lock()
        self.outcomes, self.latencies, self.statuses = Counter(), defaultdict(list), Counter()
        self.server_errors = Counter()  # (call, status) of each 5xx
        self.refusals_while_down = []  # seconds each refusal took
        self.last_refusal = None  # time.monotonic() of the last call refused "no slot"

    def call(self, session, kind, url, redis_down, **request):
        """One protocol call, retried while it is answered "no slot" (Redis away): (its answer, or None if it
        failed)."""
        while True:
            started = time.perf_counter()
            try:
                response = session.post(url, timeout=30, **request)
            except requests.RequestException:
                with self.lock:
                    self.statuses["no answer"] += 1
                return None
            took = time.perf_counter() - started
            with self.lock:
                self.statuses[response.status_code // 100 * 100] += 1
                if response.status_code >= 500:
                    self.server_errors[f"{kind} {response.status_code}"] += 1
                self.latencies[kind].append(took)
            if NO_SLOT not in response.text:
                return response
            with self.lock:
                if redis_down.is_set():
                    self.refusals_while_down.append(took)
                self.outcomes["no slot, retried"] += 1
                self.last_refusal = time.monotonic()
            time.sleep(0.2)


def known_answers(url, images):
    """{path: the digits /ocr answers, or None where it refuses}: what every task of that image must answer. (A
    refusal's body names the digits read too: they are not an answer.)"""
    answers = {}
    for path in images:
        response = requests.post(
            f"{url}/ocr", json={"image_base64": base64.b64encode(path.read_bytes()).decode()}, timeout=30
        )
        answers[path] = response.json()["digits"] if response.status_code == 200 else None
    return answers


def create_task_round(session, url, tally, body, redis_down):
    created = tally.call(
        session,
        "createTask",
        f"{url}/createTask",
        redis_down,
        json={"clientKey": "bot", "task": {"type": "ImageToTextTask", "body": body}},
    )
    if created is None or _json(created).get("errorId", 1):
        return "not created"
    task_id, deadline = created.json()["taskId"], time.monotonic() + GIVE_UP_SECONDS
    while time.monotonic() < deadline:
        polled = tally.call(
            session, "getTaskResult", f"{url}/getTaskResult", redis_down, json={"clientKey": "bot", "taskId": task_id}
        )
        if polled is None:
            continue
        answer = _json(polled)
        if answer.get("status") == "ready":
            return answer["solution"]["text"]
        if answer.get("errorCode") == "ERROR_CAPTCHA_UNSOLVABLE":
            return None
        if answer.get("errorCode") == "ERROR_NO_SUCH_CAPCHA_ID":
            return "lost"
        time.sleep(0.05)
    return "lost"


def _json(response):
    """The JSON object answered, or {} for anything else (nginx's own error page while a backend dies)."""
    try:
        answer = response.json()
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


def in_php_round(session, url, tally, body, redis_down):
    sent = tally.call(
        session, "in.php", f"{url}/in.php", redis_down, data={"key": "bot", "method": "base64", "body": body}
    )
    if sent is None or not sent.text.startswith("OK|"):
        return "not created"
    task_id, deadline = sent.text.split("|")[1], time.monotonic() + GIVE_UP_SECONDS
    while time.monotonic() < deadline:
        polled = tally.call(
            session, "res.php", f"{url}/res.php", redis_down, data={"key": "bot", "action": "get", "id": task_id}
        )
        if polled is None:
            continue
        if polled.text.startswith("OK|"):
            return polled.text.split("|")[1]
        if polled.text == "ERROR_CAPTCHA_UNSOLVABLE":
            return None
        if polled.text == "ERROR_WRONG_CAPTCHA_ID":
            return "lost"
        time.sleep(0.05)
    return "lost"


def client(url, answers, tally, until, redis_down, seed):
    rng, session = random.Random(seed), requests.Session()
    images = list(answers)
    bodies = {path: base64.b64encode(path.read_bytes()).decode() for path in images}
    rounds = (create_task_round, in_php_round)
    while time.monotonic() < until:
        path = rng.choice(images)
        got = rounds[rng.randrange(2)](session, url, tally, bodies[path], redis_down)
        verdict = (
            got
            if got in ("lost", "not created")
            else "right"
            if got == answers[path]
            else "refused, though /ocr reads it"
            if got is None
            else "another task's answer"
        )
        with tally.lock:
            tally.outcomes[verdict] += 1


def watch_ocr(url, until, redis_down, seen):
    """POST /ocr all along: its answers by status, apart while Redis is down."""
    session, body = (
        requests.Session(),
        {"image_base64": base64.b64encode(next(iter(seen["image"])).read_bytes()).decode()},
    )
    while time.monotonic() < until:
        try:
            status = session.post(f"{url}/ocr", json=body, timeout=30).status_code
        except requests.RequestException:
            status = "no answer"
        seen["while Redis down" if redis_down.is_set() else "otherwise"][status] += 1
        time.sleep(0.2)


def store_call_p50s(redis_url, calls=2000):
    """p50 seconds of add + get on the Redis task store and on the in-memory one, in this process."""
    stores = {"redis": RedisTaskStore(connect(redis_url), 10_000, 600, time.time), "memory": TaskStore(10_000, 600)}
    p50s = {}
    for name, store in stores.items():
        took = []
        for index in range(calls):
            started = time.perf_counter()
            task = store.add(f"owner-{index % 16}", "request", digits="1234")
            store.get(task.id, task.owner)
            took.append(time.perf_counter() - started)
        p50s[name] = statistics.median(took)
    stores["redis"].client.close()
    return p50s


def p50_ms(values):
    return 1000 * statistics.median(values) if values else float("nan")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--kill-every", type=float, default=10)
    parser.add_argument("--redis-down-for", type=float, default=10)
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--logs", help="keep the processes', nginx's and Redis's logs in this folder")
    arguments = parser.parse_args()
    if NGINX is None:
        raise SystemExit("nginx is not installed (make nginx)")
    images = [path for paths in labelled_folders([DEFAULT_ROOT]).values() for path in paths]
    images = random.Random(0).sample(images, arguments.images)
    with tempfile.TemporaryDirectory() as scratch, contextlib.ExitStack() as stack:
        folder = pathlib.Path(arguments.logs or scratch).resolve()
        folder.mkdir(parents=True, exist_ok=True)
        redis_server = RedisServer(folder)
        redis_server.start()
        stack.callback(lambda: redis_server.process.poll() is None and redis_server.stop())
        store_p50s = store_call_p50s(redis_server.url)
        backends = Backends(arguments.processes, folder, REDIS_URL=redis_server.url)
        stack.callback(backends.stop)
        url, _port = stack.enter_context(running_nginx(folder, backends.ports, shared_tasks=True))
        answers = known_answers(url, images)
        tally, redis_down, ocr_seen = (
            Tally(),
            threading.Event(),
            {"image": images[:1], "while Redis down": Counter(), "otherwise": Counter()},
        )
        started = time.monotonic()
        until = started + arguments.seconds
        threads = [
            threading.Thread(target=client, args=(url, answers, tally, until, redis_down, seed))
            for seed in range(arguments.clients)
        ]
        threads.append(threading.Thread(target=watch_ocr, args=(url, until, redis_down, ocr_seen)))
        for thread in threads:
            thread.start()
        kills, back_at, victim = 0, None, 0
        down_at = started + 0.4 * arguments.seconds
        next_kill = started + arguments.kill_every
        while time.monotonic() < until:
            now = time.monotonic()
            if now >= next_kill:
                backends.kill_and_restart(victim % arguments.processes)
                kills, victim, next_kill = kills + 1, victim + 1, now + arguments.kill_every
            if not redis_down.is_set() and back_at is None and now >= down_at:
                redis_down.set()
                redis_server.stop()
            if redis_down.is_set() and now >= down_at + arguments.redis_down_for:
                redis_server.start()
                back_at = time.monotonic()
                redis_down.clear()
            time.sleep(0.05)
        for thread in threads:
            thread.join(timeout=GIVE_UP_SECONDS + 30)
        first_success_after = recovery_seconds(tally, back_at)
    report(arguments, tally, kills, store_p50s, ocr_seen, first_success_after)


def recovery_seconds(tally, back_at):
    """Seconds from Redis's return to the last call refused "no slot" (0 if none was refused after it)."""
    if back_at is None or tally.last_refusal is None:
        return None if back_at is None else 0.0
    return max(0.0, tally.last_refusal - back_at)


def report(arguments, tally, kills, store_p50s, ocr_seen, recovery):
    outcomes = tally.outcomes
    tasks = sum(
        outcomes[name]
        for name in ("right", "lost", "another task's answer", "refused, though /ocr reads it", "not created")
    )
    print(
        f"{arguments.processes} processes behind round-robin nginx, {arguments.clients} clients, "
        f"{arguments.seconds:.0f} s, kill -9 of one process every {arguments.kill_every:.0f} s ({kills} kills), "
        f"Redis down {arguments.redis_down_for:.0f} s"
    )
    mixed_up = outcomes["another task's answer"]
    print(
        f"  tasks: {tasks}; right {outcomes['right']}, lost {outcomes['lost']}, another task's answer {mixed_up}, "
        f"refused though /ocr reads it {outcomes['refused, though /ocr reads it']}, "
        f"not created {outcomes['not created']} (goal: 0 lost, 0 mixed up); "
        f"calls answered 'no slot' and retried: {outcomes['no slot, retried']}"
    )
    print(
        f"  HTTP answers by class: {dict(sorted(tally.statuses.items(), key=str))}  (goal: no 5xx); "
        f"5xx by call: {dict(tally.server_errors)}"
    )
    print(
        "  p50 per call (ms): "
        + ", ".join(f"{kind} {p50_ms(values):.1f}" for kind, values in sorted(tally.latencies.items()))
    )
    print(
        f"  task store add + get, p50 in one process: Redis {1000 * store_p50s['redis']:.2f} ms, "
        f"memory {1000 * store_p50s['memory']:.3f} ms "
        f"(added by Redis: {1000 * (store_p50s['redis'] - store_p50s['memory']):.2f} ms; goal <= 2 ms)"
    )
    down = tally.refusals_while_down
    if down:
        print(
            f"  while Redis was down: {len(down)} calls refused 'no slot' in p50 {p50_ms(down):.1f} ms, "
            f"slowest {1000 * max(down):.0f} ms (goal <= 100 ms)"
        )
    print(
        f"  POST /ocr while Redis was down: {dict(ocr_seen['while Redis down'])}; "
        f"otherwise: {dict(ocr_seen['otherwise'])}"
    )
    if recovery is not None:
        print(f"  after Redis came back, the last call refused 'no slot' came {recovery:.1f} s later (goal <= 2 s)")


if __name__ == "__main__":
    main()
