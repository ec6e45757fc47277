"""The solving services' real client libraries, unchanged, against a running server.

python-anticaptcha and CapSolver's SDK speak the createTask API over plain HTTP; 2captcha-python
speaks in.php/res.php and only over HTTPS, so it reaches the server through nginx with a
certificate made here. Then the ten most used libraries, Python and node, each with its own default
host, through deploy/vendor_tls.py's recipe (bench/solver_clients.py drives them).
"""

import base64

import capsolver
import pytest
from python_anticaptcha import AnticaptchaClient, AnticaptchaException, ImageToTextTask
from twocaptcha import TwoCaptcha
from twocaptcha.api import ApiException

from bench.solver_clients import CLIENTS, run, vendor_front
from deploy.local_server import NGINX, running_nginx, running_server
from deploy.vendor_tls import make_certificates
from tests.captchas import CAPTCHA_FILES, label_of

KEY = "bot-key-0123456789"
CAPTCHA = next(path for path in CAPTCHA_FILES if path.name.startswith("java_kaptcha"))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("server") / "server.log", API_KEYS=KEY) as (
        url,
        port,
        _process,
        _seconds,
    ):
        yield port


@pytest.fixture(scope="module")
def blank_png(tmp_path_factory):
    from PIL import Image

    path = tmp_path_factory.mktemp("images") / "blank.png"
    Image.new("RGB", (160, 60), "white").save(path)
    return path


def test_python_anticaptcha_reads_a_captcha(server):
    client = AnticaptchaClient(KEY, host=f"127.0.0.1:{server}", use_ssl=False)
    job = client.create_task(ImageToTextTask(CAPTCHA.read_bytes(), numeric=1, min_length=4, max_length=4))
    job.join(maximum_time=10)
    assert job.get_captcha_text() == label_of(CAPTCHA)
    assert job.report_incorrect_image() is True
    assert client.get_balance() > 0


def test_python_anticaptcha_raises_its_own_exceptions(server, blank_png):
    client = AnticaptchaClient(KEY, host=f"127.0.0.1:{server}", use_ssl=False)
    job = client.create_task(ImageToTextTask(str(blank_png)))
    with pytest.raises(AnticaptchaException) as unsolvable:
        job.join(maximum_time=10)
    assert unsolvable.value.error_code == "ERROR_CAPTCHA_UNSOLVABLE"
    with pytest.raises(AnticaptchaException) as wrong_key:
        AnticaptchaClient("not-our-key", host=f"127.0.0.1:{server}", use_ssl=False).create_task(
            ImageToTextTask(CAPTCHA.read_bytes())
        )
    assert wrong_key.value.error_code == "ERROR_KEY_DOES_NOT_EXIST"


@pytest.fixture
def capsolver_here(server, monkeypatch):
    """CapSolver's SDK configured as its README says, with our URL for its API base."""
    monkeypatch.setattr(capsolver, "api_key", KEY)
    monkeypatch.setattr(capsolver, "api_base", f"http://127.0.0.1:{server}")


def test_capsolvers_sdk_reads_a_captcha_and_raises_its_own_errors(capsolver_here, blank_png):
    solution = capsolver.solve({"type": "ImageToTextTask", "body": base64.b64encode(CAPTCHA.read_bytes()).decode()})
    assert solution["text"] == label_of(CAPTCHA)
    assert capsolver.balance()["balance"] > 0
    with pytest.raises(capsolver.InvalidRequestError) as unsolvable:  # what the SDK raises for an unsolvable captcha
        capsolver.solve({"type": "ImageToTextTask", "body": base64.b64encode(blank_png.read_bytes()).decode()})
    assert unsolvable.value.json_body["errorCode"] == "ERROR_CAPTCHA_UNSOLVABLE"
    capsolver.api_key = "not-our-key"
    with pytest.raises(capsolver.AuthenticationError):
        capsolver.solve({"type": "ImageToTextTask", "body": base64.b64encode(CAPTCHA.read_bytes()).decode()})


@pytest.fixture(scope="module")
def https_host(server, tmp_path_factory):
    """nginx with TLS in front of the server; requests trusts the test's own CA."""
    if NGINX is None:
        pytest.skip("nginx is not installed (make test installs it where it can)")
    directory = tmp_path_factory.mktemp("tls")
    certificate = make_certificates(directory, ["127.0.0.1"], "server")
    with running_nginx(directory, [server], certificate=certificate, ca_file=directory / "ca.pem") as (_url, port):
        patch = pytest.MonkeyPatch()
        patch.setenv("REQUESTS_CA_BUNDLE", str(directory / "ca.pem"))
        yield f"127.0.0.1:{port}"
        patch.undo()


def test_2captcha_python_reads_a_captcha_file_and_base64(https_host):
    solver = TwoCaptcha(KEY, server=https_host, pollingInterval=1, defaultTimeout=10)
    result = solver.normal(str(CAPTCHA), numeric=1, minLen=4, maxLen=4)
    assert result["code"] == label_of(CAPTCHA)
    assert solver.normal(base64.b64encode(CAPTCHA.read_bytes()).decode())["code"] == label_of(CAPTCHA)
    assert solver.report(result["captchaId"], True) == "OK_REPORT_RECORDED"
    assert solver.balance() > 0


def test_2captcha_python_raises_its_own_exceptions(https_host, blank_png):
    solver = TwoCaptcha(KEY, server=https_host, pollingInterval=1, defaultTimeout=10)
    with pytest.raises(ApiException, match="ERROR_CAPTCHA_UNSOLVABLE"):
        solver.normal(str(blank_png))
    with pytest.raises(ApiException, match="ERROR_KEY_DOES_NOT_EXIST"):
        TwoCaptcha("not-our-key", server=https_host).normal(str(CAPTCHA))


@pytest.fixture(scope="module")
def front(server, tmp_path_factory):
    """deploy/vendor_tls.py's front (nginx answering as the vendors' hosts) on a free port before the server."""
    if NGINX is None:
        pytest.skip("nginx is not installed (make test installs it where it can)")
    with vendor_front(tmp_path_factory.mktemp("vendor-tls"), server) as front:
        yield front


@pytest.mark.parametrize("client", CLIENTS, ids=lambda client: client.name)
def test_each_popular_library_reads_refuses_reports_and_sees_a_balance_through_the_vendor_hosts(
    client, front, blank_png
):
    """With its defaults, its vendor's host pinned to the front and its stack's trust variable: no other change."""
    if reason := client.missing():
        pytest.skip(reason)
    outcome = run(client, front, KEY, CAPTCHA, blank_png)
    assert outcome["read"] == label_of(CAPTCHA)
    assert outcome["refused"] == "ERROR_CAPTCHA_UNSOLVABLE"  # the library's own error, never a crash
    assert outcome["balance"] > 0
    assert outcome["reported"] is (True if client.reports else None)


@pytest.mark.parametrize("client", [client for client in CLIENTS if client.advice], ids=lambda client: client.name)
def test_the_polling_advice_answers_at_the_first_poll(client, front, blank_png):
    """docs/solver-protocols.md's advice for the libraries that wait seconds before their first poll."""
    if reason := client.missing():
        pytest.skip(reason)
    assert run(client, front, KEY, CAPTCHA, blank_png, advice=True)["read"] == label_of(CAPTCHA)
