import shutil

import pytest

from captcha_service import create_app
from deploy.local_server import RedisServer

# Tests that start processes (the real server, PM2, nginx, pip, training runs) or drive thousands
# of requests: `make test` runs them, `make test-fast` (pytest -m "not slow") leaves them out.
SLOW_MODULES = {
    "test_concurrency",
    "test_nginx",
    "test_packaging",
    "test_pm2",
    "test_schemathesis",
    "test_server",
    "test_solver_clients",
    "test_training",
    "test_upstream_solver",
    "test_upstream_handover",
    "test_site_models",
    "test_layers",
    "test_container",
    "test_apidocs_browser",
}


def pytest_collection_modifyitems(items):
    for item in items:
        if item.module.__name__.rsplit(".", 1)[-1] in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def app():
    """One app, and so one real set of models, for the whole test session."""
    return create_app({"TESTING": True})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def redis_server():
    """A real redis-server for one test, stopped after it; the test is skipped where none is installed."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (make redis)")
    server = RedisServer()
    server.start()
    yield server
    server.stop()
