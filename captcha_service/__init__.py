"""CaptchaOCR: an HTTP service that reads numeric captchas, or says it cannot."""

import os

from .version import __version__  # noqa: F401 - the package's version, as importers expect it


def create_app(test_config=None, load_model_in_background=False):
    """Create the app: config from the defaults, then the environment, then ``test_config``.

    A server passes ``load_model_in_background`` to answer "starting" while the model loads.
    """
    from flask import Flask  # here, so that importing the reading core (captcha_service.ocr) loads no Flask

    from . import solver_protocols
    from .api import auth, cors, docs, errors, metrics, quotas, reports, request_log, views
    from .api.extension import ocr
    from .config import check_settings, load_config
    from .shared import connect

    app = Flask(__name__)
    # A path with doubled slashes is not found, not redirected: routing's redirects bypass the error handlers, and
    # a client of a protocol reads JSON, not an HTML "Redirecting..." page. Set before any route is added.
    app.url_map.merge_slashes = False
    app.config.update(load_config(os.environ))
    if test_config is not None:
        app.config.update(test_config)
    check_settings(app.config)

    request_log.init_app(app)
    metrics.init_app(app, app.config["OCR_MODEL"])
    errors.init_app(app)
    auth.init_app(app)
    cors.init_app(app)
    ocr.init_app(app, in_background=load_model_in_background)
    shared = connect(app.config["REDIS_URL"]) if app.config["REDIS_URL"] else None  # unreachable: ValueError
    quotas.init_app(app, shared)
    reports.init_app(app, shared)
    app.register_blueprint(views.bp)
    solver_protocols.init_app(app, shared)
    docs.init_app(app)
    return app
