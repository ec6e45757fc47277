import time

from werkzeug.test import Client
from werkzeug.wrappers import Response

from captcha_service.memory import TrimFreedHeap


def hello(environ, start_response):
    return Response("hello")(environ, start_response)


def test_trim_freed_heap_answers_as_the_app_does_and_trims_once_requests_stop():
    trimming = TrimFreedHeap(hello, interval=0.05)
    response = Client(trimming).get("/")
    assert response.status_code == 200 and response.get_data(as_text=True) == "hello"
    assert trimming._served
    deadline = time.monotonic() + 5
    while trimming._served and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not trimming._served, "the trimming thread never ran after the request"
