"""CaptchaOCR: an HTTP service that reads numeric captchas, or says it cannot."""

import os

from flask import Flask

__version__ = "1.0.0"


def create_app(test_config=None, load_model_in_background=False):
    """Create the app: config from the defaults, then the environment, then ``test_config``.

    A server passes ``load_model_in_background`` to answer "starting" while the model loads.
    """
    from . import admission, auth, docs, errors, metrics, request_log, views
    from .config import Config, settings_from_environment
    from .extension import ocr

    app = Flask(__name__)
    app.config.from_object(Config)
    app.config.update(settings_from_environment(os.environ))
    if test_config is not None:
        app.config.update(test_config)

    request_log.init_app(app)
    metrics.init_app(app, app.config["OCR_MODEL"])
    errors.init_app(app)
    auth.init_app(app)
    admission.init_app(app)
    ocr.init_app(app, in_background=load_model_in_background)
    app.register_blueprint(views.bp)
    docs.init_app(app)
    return app
