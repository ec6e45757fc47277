"""capsolver (CapSolver's official Python SDK) as its README uses it, with its default api_base (https://api.capsolver.com).
The SDK has no report call.

    python drive_capsolver.py KEY CAPTCHA UNREADABLE   -> one JSON line (bench/solver_clients.py)
"""

import base64
import json
import pathlib
import sys
import time

import capsolver

key, captcha, unreadable = sys.argv[1:4]
capsolver.api_key = key


def task(path):
    return {"type": "ImageToTextTask", "body": base64.b64encode(pathlib.Path(path).read_bytes()).decode()}


started = time.monotonic()
solution = capsolver.solve(task(captcha))  # no poll when createTask answers "ready"; else one a second
seconds = time.monotonic() - started
try:
    capsolver.solve(task(unreadable))
    refused = None
except capsolver.InvalidRequestError as error:
    refused = error.json_body["errorCode"]
print(
    json.dumps(
        {
            "read": solution["text"],
            "seconds": seconds,
            "refused": refused,
            "balance": capsolver.balance()["balance"],
            "reported": None,
        }
    )
)
