"""The solving services' real client libraries, unchanged, against a running server.

python-anticaptcha and CapSolver's SDK speak the createTask API over plain HTTP; 2captcha-python
speaks in.php/res.php and only over HTTPS, so it reaches the server through nginx with a
certificate made here.
"""

import base64
import subprocess

import capsolver
import pytest
from python_anticaptcha import AnticaptchaClient, AnticaptchaException, ImageToTextTask
from twocaptcha import TwoCaptcha
from twocaptcha.api import ApiException

from deploy.local_server import NGINX, running_nginx, running_server
from tests.captchas import CAPTCHA_FILES, label_of

KEY = "bot-key-0123456789"
CAPTCHA = next(path for path in CAPTCHA_FILES if path.name.startswith("java_kaptcha"))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("server") / "server.log", API_KEYS=KEY) as (url, port, _process, _seconds):
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
        AnticaptchaClient("not-our-key", host=f"127.0.0.1:{server}", use_ssl=False).create_task(ImageToTextTask(CAPTCHA.read_bytes()))
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
    certificate = make_certificate(directory)
    with running_nginx(directory, [server], certificate=certificate, ca_file=directory / "ca.pem") as (_url, port):
        patch = pytest.MonkeyPatch()
        patch.setenv("REQUESTS_CA_BUNDLE", str(directory / "ca.pem"))
        yield f"127.0.0.1:{port}"
        patch.undo()


def make_certificate(directory):
    """A CA and a certificate for 127.0.0.1 signed by it, with openssl: (certificate, key) paths."""
    def openssl(*arguments):
        subprocess.run(["openssl", *arguments], cwd=directory, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "1",
            "-subj", "/CN=captcha-ocr test CA", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    (directory / "extensions.cnf").write_text("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem",
            "-days", "1", "-extfile", "extensions.cnf")
    return directory / "server.pem", directory / "server.key"


def test_2captcha_python_reads_a_captcha_file_and_base64(https_host):
    solver = TwoCaptcha(KEY, server=https_host, pollingInterval=1, defaultTimeout=10)
    result = solver.normal(str(CAPTCHA), numeric=1, minLen=4, maxLen=4)
    assert result["code"] == label_of(CAPTCHA)
    import base64

    assert solver.normal(base64.b64encode(CAPTCHA.read_bytes()).decode())["code"] == label_of(CAPTCHA)
    assert solver.report(result["captchaId"], True) == "OK_REPORT_RECORDED"
    assert solver.balance() > 0


def test_2captcha_python_raises_its_own_exceptions(https_host, blank_png):
    solver = TwoCaptcha(KEY, server=https_host, pollingInterval=1, defaultTimeout=10)
    with pytest.raises(ApiException, match="ERROR_CAPTCHA_UNSOLVABLE"):
        solver.normal(str(blank_png))
    with pytest.raises(ApiException, match="ERROR_KEY_DOES_NOT_EXIST"):
        TwoCaptcha("not-our-key", server=https_host).normal(str(CAPTCHA))
