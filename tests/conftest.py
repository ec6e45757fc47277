import pytest

from captcha_service import create_app


@pytest.fixture(scope="session")
def app():
    """One app, and so one real set of models, for the whole test session."""
    return create_app({"TESTING": True})


@pytest.fixture
def client(app):
    return app.test_client()
