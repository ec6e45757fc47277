"""capmonster_python (the CapMonster Cloud wrapper on PyPI) as its README uses it; it always calls https://api.capmonster.cloud
(httpx: it trusts SSL_CERT_FILE).

    python drive_capmonster_python.py KEY CAPTCHA UNREADABLE   -> one JSON line (bench/solver_clients.py)
"""

import base64
import json
import pathlib
import sys
import time

from capmonster_python import CapmonsterAPIException, CapmonsterClient, ImageToTextTask

key, captcha, unreadable = sys.argv[1:4]
client = CapmonsterClient(key)


def task(path):
    return ImageToTextTask(body=base64.b64encode(pathlib.Path(path).read_bytes()).decode())


started = time.monotonic()
task_id = client.create_task(task(captcha))
read = client.join_task_result(task_id)["text"]  # polls at once, then every retry_delay (2 s)
seconds = time.monotonic() - started
client.report_incorrect_image(task_id)  # raises CapmonsterAPIException if refused; returns None
try:
    client.solve(task(unreadable))
    refused = None
except CapmonsterAPIException as error:
    refused = error.error_code
print(
    json.dumps(
        {"read": read, "seconds": seconds, "refused": refused, "balance": client.get_balance(), "reported": True}
    )
)
