"""OpenAPI docs by flasgger (``/apidocs/``, ``/apispec_1.json``), served without any CDN."""

from apispec.ext.marshmallow import MarshmallowPlugin
from flasgger import APISpec, Swagger

from .schemas import ErrorSchema, HealthSchema, OcrRequestSchema, OcrResponseSchema, RefusalSchema
from .version import __version__

TITLE = "CaptchaOCR"
OPENAPI_VERSION = "3.0.3"  # 2.0 cannot describe a JSON body and form fields on one operation


def init_app(app):
    """Describe every documented route, with definitions generated from the marshmallow schemas.

    Created per app: a module-level ``Swagger`` would share its cached spec between apps.
    """
    spec = APISpec(
        title=TITLE,
        version=__version__,
        openapi_version=OPENAPI_VERSION,
        plugins=[MarshmallowPlugin()],
        info={"description": "Reads numeric captchas; answers 422 rather than guess."},
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer", "description": "When API_KEYS is set"})
    spec.components.security_scheme("api_key", {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": "When API_KEYS is set"})
    template = spec.to_flasgger(
        app, definitions=[OcrRequestSchema, OcrResponseSchema, ErrorSchema, RefusalSchema, HealthSchema]
    )
    app.config.setdefault("SWAGGER", {"title": TITLE, "uiversion": 3, "openapi": OPENAPI_VERSION})
    Swagger(app, template=template)
