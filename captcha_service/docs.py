"""OpenAPI docs by flasgger (``/apidocs/``, ``/apispec_1.json``), served without any CDN."""

from apispec.ext.marshmallow import MarshmallowPlugin
from flasgger import APISpec, Swagger

from . import __version__
from .schemas import ErrorSchema, HealthSchema, OcrRequestSchema, OcrResponseSchema, RefusalSchema

TITLE = "CaptchaOCR"


def init_app(app):
    """Describe every documented route, with definitions generated from the marshmallow schemas.

    Created per app: a module-level ``Swagger`` would share its cached spec between apps.
    """
    spec = APISpec(
        title=TITLE,
        version=__version__,
        openapi_version="2.0",
        plugins=[MarshmallowPlugin()],
        info={"description": "Reads numeric captchas; answers 422 rather than guess."},
        securityDefinitions={
            "bearer": {"type": "apiKey", "in": "header", "name": "Authorization", "description": "Bearer <key>, when API_KEYS is set"},
            "api_key": {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": "The key, when API_KEYS is set"},
        },
    )
    template = spec.to_flasgger(
        app, definitions=[OcrRequestSchema, OcrResponseSchema, ErrorSchema, RefusalSchema, HealthSchema]
    )
    app.config.setdefault("SWAGGER", {"title": TITLE, "uiversion": 3})
    Swagger(app, template=template)
