"""/apidocs in a real browser: Debian's headless chromium, driven by selenium, against the real server."""

import json
import shutil

import pytest
import requests
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from deploy.local_server import running_server

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
# What headless chromium needs as root in a container, and what keeps it from calling out while a test runs.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
KEY = "browser-test-key"
WAIT = 30  # seconds for the page to render or answer; it takes one or two

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="chromium and chromium-driver are not installed (make test installs them where it can)",
)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Headless chromium with a fresh profile, keeping every console message for ``get_log("browser")``."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(CHROMEDRIVER))
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def open_server(tmp_path_factory):
    """The real server with no API keys; yields its base url."""
    with running_server(tmp_path_factory.mktemp("open") / "server.log", API_KEYS="", API_KEYS_FILE="") as (
        url,
        _,
        _,
        _,
    ):
        yield url


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory):
    """The real server with API_KEYS set; yields its base url."""
    with running_server(tmp_path_factory.mktemp("keyed") / "server.log", API_KEYS=KEY, API_KEYS_FILE="") as (
        url,
        _,
        _,
        _,
    ):
        yield url


@pytest.fixture(params=["open_server", "keyed_server"])
def server(request):
    return request.getfixturevalue(request.param)


def open_docs(browser, url, query=""):
    """Load ``url``/apidocs/ afresh (with ``query``), wait until swagger-ui has drawn the operations, and return the
    console messages of the load."""
    browser.get_log("browser")  # drop what an earlier page left
    browser.get(url + "/apidocs/" + query)
    WebDriverWait(browser, WAIT).until(
        lambda driver: driver.find_elements(By.CSS_SELECTOR, ".opblock .opblock-summary-path")
    )
    return browser.get_log("browser")


def operations(browser):
    """Each operation drawn on the page, as (METHOD, path), with its element."""
    return {
        (
            block.find_element(By.CSS_SELECTOR, ".opblock-summary-method").text,
            block.find_element(By.CSS_SELECTOR, ".opblock-summary-path").get_attribute("data-path"),
        ): block
        for block in browser.find_elements(By.CSS_SELECTOR, ".opblock")
    }


def try_it_out(browser, operation):
    """Open ``operation`` and press "Try it out": the page fills in its examples."""
    operation.find_element(By.CSS_SELECTOR, ".opblock-summary").click()
    WebDriverWait(browser, WAIT).until(lambda _: operation.find_elements(By.CSS_SELECTOR, ".try-out__btn"))[0].click()


def execute(browser, operation):
    """Press "Execute" (after "Clear", if an answer is shown) and return the status and JSON body the page shows."""
    for shown in operation.find_elements(By.CSS_SELECTOR, ".btn-clear"):
        shown.click()
    WebDriverWait(browser, WAIT).until(lambda _: operation.find_elements(By.CSS_SELECTOR, ".btn.execute"))[0].click()
    try:
        status = (
            WebDriverWait(browser, WAIT)
            .until(
                lambda _: operation.find_elements(
                    By.CSS_SELECTOR, ".live-responses-table .response .response-col_status"
                )
            )[0]
            .text
        )
    except TimeoutException:
        refused = [field.get_attribute("outerHTML") for field in operation.find_elements(By.CSS_SELECTOR, ".invalid")]
        pytest.fail(f"no answer shown after Execute; the fields the page refused to send: {refused}")
    body = operation.find_element(
        By.CSS_SELECTOR, ".live-responses-table .response-col_description .highlight-code pre"
    ).text
    return int(status), json.loads(body)


def script_errors(browser, operation):
    """The SEVERE console messages since the last look, less the reports of a 4xx answer ``operation`` shows.

    Chromium logs every 4xx as a "network" message, and swagger-ui logs the answer's status
    line ("Error: UNPROCESSABLE ENTITY") before it draws the answer: neither is a script error.
    """
    shown = [
        line.text
        for line in operation.find_elements(By.CSS_SELECTOR, ".live-responses-table .response-col_description > span")
    ]
    reported = [line for line in shown if line.startswith("Error: ")]
    return [
        message
        for message in browser.get_log("browser")
        if message["level"] == "SEVERE"
        and message["source"] != "network"
        and not any(line in message["message"] for line in reported)
    ]


def authorize(browser, key):
    """Enter ``key`` for the X-API-Key scheme in the Authorize dialog, and close it."""
    browser.find_element(By.CSS_SELECTOR, ".auth-wrapper .btn.authorize").click()
    containers = WebDriverWait(browser, WAIT).until(
        lambda driver: driver.find_elements(By.CSS_SELECTOR, ".dialog-ux .auth-container")
    )
    api_key = next(container for container in containers if "X-API-Key" in container.text)
    api_key.find_element(By.CSS_SELECTOR, "input").send_keys(key)
    api_key.find_element(By.CSS_SELECTOR, ".btn.modal-btn.authorize").click()
    browser.find_element(By.CSS_SELECTOR, ".dialog-ux .close-modal").click()


def test_the_page_loads_without_console_errors(browser, server):
    messages = open_docs(browser, server)
    assert [message for message in messages if message["level"] == "SEVERE"] == []


def test_the_page_shows_our_spec_whatever_its_address_asks(browser, open_server):
    # Swagger UI 3.28 (flasgger's own) loaded the spec that ?url= or ?configUrl= named: a link could make our docs
    # page show, and send requests as, anyone's API
    for query in ("?url=/elsewhere.json", "?configUrl=/elsewhere.json"):
        open_docs(browser, open_server, query)
        assert ("POST", "/ocr") in operations(browser), query


def test_every_path_of_the_spec_is_an_operation_on_the_page(browser, server):
    spec = requests.get(server + "/apispec_1.json", timeout=10).json()
    open_docs(browser, server)
    in_spec = {
        (method.upper(), path) for path, item in spec["paths"].items() for method in item if method != "parameters"
    }
    assert set(operations(browser)) == in_spec


def test_try_it_out_on_post_ocr_is_answered_clearly(browser, open_server):
    open_docs(browser, open_server)
    read = operations(browser)["POST", "/ocr"]
    try_it_out(browser, read)
    status, body = execute(browser, read)
    assert (status, "digits" in body) == (200, True) or (status, "detail" in body) == (422, True), (status, body)
    assert script_errors(browser, read) == []


def test_without_keys_nothing_is_locked(browser, open_server):
    open_docs(browser, open_server)
    assert browser.find_elements(By.CSS_SELECTOR, ".btn.authorize") == []
    assert browser.find_elements(By.CSS_SELECTOR, ".authorization__btn") == []


def test_with_keys_locks_are_shown_on_the_routes_that_ask_for_one_and_only_there(browser, keyed_server):
    open_docs(browser, keyed_server)
    assert len(browser.find_elements(By.CSS_SELECTOR, ".auth-wrapper .btn.authorize")) == 1
    shown = operations(browser)
    locked = {
        operation for operation, block in shown.items() if block.find_elements(By.CSS_SELECTOR, ".authorization__btn")
    }
    asking = {
        (method, path)
        for method, path in shown
        if requests.request(method, keyed_server + path, timeout=10).status_code == 401
    }
    assert ("POST", "/ocr") in asking
    assert locked == asking


def test_with_keys_the_example_is_refused_until_a_key_is_entered(browser, keyed_server):
    open_docs(browser, keyed_server)
    read = operations(browser)["POST", "/ocr"]
    try_it_out(browser, read)
    status, body = execute(browser, read)
    assert status == 401 and "detail" in body
    assert script_errors(browser, read) == []
    authorize(browser, KEY)
    status, body = execute(browser, read)
    assert (status, "digits" in body) == (200, True) or (status, "detail" in body) == (422, True), (status, body)
    assert script_errors(browser, read) == []
