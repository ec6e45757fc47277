"""anticaptchaofficial (anti-captcha's own Python library) as its README uses it; it always calls https://api.anti-captcha.com.

python drive_anticaptchaofficial.py KEY CAPTCHA UNREADABLE   -> one JSON line (bench/solver_clients.py)
"""

import json
import sys
import time

from anticaptchaofficial.imagecaptcha import imagecaptcha

key, captcha, unreadable = sys.argv[1:4]
solver = imagecaptcha()
solver.set_key(key)
started = time.monotonic()
read = solver.solve_and_return_solution(captcha)  # sleeps 1 s before its first poll, then polls every second
seconds = time.monotonic() - started
reported = solver.report_incorrect_image_captcha()
refusing = imagecaptcha()
refusing.set_key(key)
# its documented failure: 0, error_code
refused = refusing.error_code if refusing.solve_and_return_solution(unreadable) == 0 else None
print(
    json.dumps(
        {
            "read": read,
            "seconds": seconds,
            "refused": refused,
            "balance": solver.get_balance(),
            "reported": reported.get("errorId") == 0,
        }
    )
)
