"""python-anticaptcha as its README uses it, with its default host (api.anti-captcha.com).

python drive_python_anticaptcha.py KEY CAPTCHA UNREADABLE   -> one JSON line (bench/solver_clients.py)
"""

import json
import sys
import time

from python_anticaptcha import AnticaptchaClient, AnticaptchaException, ImageToTextTask

key, captcha, unreadable = sys.argv[1:4]
client = AnticaptchaClient(key)
started = time.monotonic()
job = client.create_task(ImageToTextTask(captcha))
job.join()  # polls at once, then every 3 s
read, seconds = job.get_captcha_text(), time.monotonic() - started
reported = job.report_incorrect_image()
try:
    client.create_task(ImageToTextTask(unreadable)).join()
    refused = None
except AnticaptchaException as error:
    refused = error.error_code
print(
    json.dumps(
        {
            "read": read,
            "seconds": seconds,
            "refused": refused,
            "balance": client.get_balance(),
            "reported": reported is True,
        }
    )
)
