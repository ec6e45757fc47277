"""Wait until every process eco.config.js starts answers ``GET /`` with 200 (``make pm2-start``).

PM2 returns as soon as it has spawned the processes, a few seconds before they have loaded the
models and listen; nginx started then would mark every backend down. Reads the environment
eco.config.js reads (HOST, PORT, CAPTCHA_OCR_INSTANCES).
"""

import os
import sys

from .local_server import wait_until_healthy

TIMEOUT_SECONDS = 120


def instances(setting):
    """How many processes PM2 starts for eco.config.js's ``instances``: 0 or "max" one per core, -N that many fewer."""
    cores = os.cpu_count() or 1
    if setting.strip() in ("0", "max"):
        return cores
    count = int(setting)
    return max(1, cores + count) if count < 0 else count


def main():
    host = os.environ.get("HOST", "127.0.0.1")
    host = "127.0.0.1" if host in ("0.0.0.0", "") else "[::1]" if host == "::" else host
    first = int(os.environ.get("PORT", "8000"))
    for port in range(first, first + instances(os.environ.get("CAPTCHA_OCR_INSTANCES", "1"))):
        url = f"http://{host}:{port}/"
        try:
            wait_until_healthy(url, timeout=TIMEOUT_SECONDS)
        except AssertionError as error:
            sys.exit(f"pm2-start: {error}; see node_modules/.bin/pm2 logs captcha-ocr")
        print(f"ready: {url}", flush=True)


if __name__ == "__main__":
    main()
