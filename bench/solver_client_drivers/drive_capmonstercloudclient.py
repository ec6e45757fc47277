"""capmonstercloudclient (CapMonster's official Python SDK) as its README uses it, with its default service_url
(https://api.capmonster.cloud; aiohttp: it trusts SSL_CERT_FILE). The SDK has no report call.

    python drive_capmonstercloudclient.py KEY CAPTCHA UNREADABLE   -> one JSON line (bench/solver_clients.py)
"""

import asyncio
import json
import pathlib
import sys
import time

from capmonstercloudclient import CapMonsterClient, ClientOptions
from capmonstercloudclient.exceptions import GetResultError
from capmonstercloudclient.requests import ImageToTextRequest

key, captcha, unreadable = sys.argv[1:4]


async def main():
    client = CapMonsterClient(options=ClientOptions(api_key=key))
    started = time.monotonic()
    # first poll after 0.35 s
    solution = await client.solve_captcha(ImageToTextRequest(image_bytes=pathlib.Path(captcha).read_bytes()))
    seconds = time.monotonic() - started
    try:
        await client.solve_captcha(ImageToTextRequest(image_bytes=pathlib.Path(unreadable).read_bytes()))
        refused = None
    except GetResultError as error:  # its message: "[ERROR_CODE] description."
        refused = str(error).split("]")[0].lstrip("[")
    balance = (await client.get_balance())["balance"]
    print(
        json.dumps(
            {"read": solution["text"], "seconds": seconds, "refused": refused, "balance": balance, "reported": None}
        )
    )


asyncio.run(main())
