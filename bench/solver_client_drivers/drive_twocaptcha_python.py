"""2captcha-python (2captcha's official Python library) as its README uses it, with its default server (2captcha.com).

python drive_twocaptcha_python.py KEY CAPTCHA UNREADABLE   -> one JSON line (bench/solver_clients.py)
"""

import json
import sys
import time

from twocaptcha import TwoCaptcha
from twocaptcha.api import ApiException

key, captcha, unreadable = sys.argv[1:4]
solver = TwoCaptcha(key)
started = time.monotonic()
result = solver.normal(captcha)  # polls at once, then every pollingInterval (10 s)
seconds = time.monotonic() - started
reported = solver.report(result["captchaId"], True)
try:
    solver.normal(unreadable)
    refused = None
except ApiException as error:
    refused = str(error)
print(
    json.dumps(
        {
            "read": result["code"],
            "seconds": seconds,
            "refused": refused,
            "balance": solver.balance(),
            "reported": reported == "OK_REPORT_RECORDED",
        }
    )
)
