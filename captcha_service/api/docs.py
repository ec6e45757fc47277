"""OpenAPI docs by flasgger (``/apidocs/``, ``/apispec_1.json``), served without any CDN."""

from apispec.ext.marshmallow import MarshmallowPlugin
from flasgger import APISpec, Swagger
from flask import Blueprint, abort, send_from_directory
from swagger_ui_bundle import swagger_ui_path

from ..ocr.images import IMAGE_MEDIA_TYPES
from ..version import __version__
from .auth import api_keys
from .inputs import BASE64_FORM_FIELD, UPLOAD_FIELDS
from .schemas import ErrorSchema, HealthSchema, OcrRequestSchema, OcrResponseSchema, ReadOptionsSchema, RefusalSchema

TITLE = "CaptchaOCR"
OPENAPI_VERSION = "3.0.3"  # 2.0 cannot describe a JSON body and form fields on one operation
SWAGGER_UI_PATH = "/apidocs/swagger-ui"
# flasgger's settings naming the files of Swagger UI its page loads, and those files in swagger-ui-bundle's.
SWAGGER_UI_FILES = {
    "swagger_ui_bundle_js": "swagger-ui-bundle.js",
    "swagger_ui_standalone_preset_js": "swagger-ui-standalone-preset.js",
    "swagger_ui_css": "swagger-ui.css",
}


def javascript_pattern(converter, field, ret, **kwargs):
    """Write a field's pattern as the spec's readers run it: ECMA 262, anchored as marshmallow's ``re.match``
    anchors it."""
    pattern = ret.get("pattern")
    if pattern is None:
        return {}
    # re.match anchors the start only, so our patterns end in Python's \Z. JavaScript reads \Z as a plain "Z":
    # the docs page found every value of such a field invalid ("general" was) and Execute sent nothing.
    body, end = (pattern.removesuffix("\\Z"), "$") if pattern.endswith("\\Z") else (pattern, "")
    if "\\A" in body or "\\Z" in body:
        raise ValueError(f"{pattern!r}: \\A and \\Z mean nothing in JavaScript; end the pattern with \\Z or not at all")
    return {"pattern": "^" + body.removeprefix("^") + end}


class _MarshmallowPlugin(MarshmallowPlugin):
    """apispec's marshmallow plugin, writing each field's pattern as JavaScript reads it."""

    def init_spec(self, spec):
        super().init_spec(spec)
        self.converter.add_attribute_function(javascript_pattern)


def read_captcha_openapi():
    """The parts of ``POST /ocr``'s OpenAPI that follow from the schemas, the upload fields and the image types.

    Options in the query string and form fields, the form's file fields and the raw image
    bodies are derived here, so that their ranges and types have one source each.
    """
    plugin = _MarshmallowPlugin()
    # gives the plugin its converter
    APISpec(title=TITLE, version=__version__, openapi_version=OPENAPI_VERSION, plugins=[plugin])
    binary = {"type": "string", "format": "binary"}
    upload = {
        field: {**binary, "description": f"The captcha image file (form field '{field}')."} for field in UPLOAD_FIELDS
    }
    base64_field = {
        "type": "string",
        "description": "The captcha image as base64 (ddddocr-fastapi's clients send it so).",
    }
    options = {name: plugin.converter.field2property(field) for name, field in ReadOptionsSchema().fields.items()}
    return {
        "parameters": plugin.converter.schema2parameters(ReadOptionsSchema, location="query"),
        "requestBody": {
            "content": {
                "multipart/form-data": {"schema": {"type": "object", "properties": upload | options}},
                "application/x-www-form-urlencoded": {
                    "schema": {"type": "object", "properties": {BASE64_FORM_FIELD: base64_field} | options}
                },
                **{media_type: {"schema": binary} for media_type in IMAGE_MEDIA_TYPES},
            }
        },
    }


def init_app(app):
    """Describe every documented route, with definitions generated from the marshmallow schemas.

    Created per app: a module-level ``Swagger`` would share its cached spec between apps.
    """
    spec = APISpec(
        title=TITLE,
        version=__version__,
        openapi_version=OPENAPI_VERSION,
        plugins=[_MarshmallowPlugin()],
        info={"description": "Reads numeric captchas; answers 422 rather than guess."},
    )
    keyed = bool(api_keys(app))
    if keyed:  # shown only where a key is asked for: without API_KEYS the docs showed a lock that opened nothing
        spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
        spec.components.security_scheme("api_key", {"type": "apiKey", "in": "header", "name": "X-API-Key"})
    template = spec.to_flasgger(
        app, definitions=[OcrRequestSchema, OcrResponseSchema, ErrorSchema, RefusalSchema, HealthSchema]
    )
    # Swagger UI itself from swagger-ui-bundle, not the 3.28 flasgger bundles: that one takes a spec to show from
    # the page's address (?url=, ?configUrl=), so a link could make our docs page show anyone's; later ones do not.
    # Only the files our page loads: the bundle's own index.html would show its sample spec, from petstore.swagger.io.
    swagger_ui = Blueprint("swagger_ui", __name__, url_prefix=SWAGGER_UI_PATH)
    swagger_ui.add_url_rule("/<name>", "file", _swagger_ui_file)
    app.register_blueprint(swagger_ui)
    # "auth": flasgger's page writes `let auth_config = <this>;`, which is `None` (a JavaScript error) when unset.
    app.config.setdefault(
        "SWAGGER",
        {
            "title": TITLE,
            "uiversion": 3,
            "openapi": OPENAPI_VERSION,
            "auth": {},
            **{setting: f"{SWAGGER_UI_PATH}/{name}" for setting, name in SWAGGER_UI_FILES.items()},
        },
    )
    _Swagger(app, template=template, keyed=keyed)


def _swagger_ui_file(name):
    if name not in SWAGGER_UI_FILES.values():
        abort(404)
    return send_from_directory(swagger_ui_path, name)


# The routes of the HTTP API that ask for a key when API_KEYS is set (the solver protocols carry theirs in the body).
KEYED_OPERATIONS = {"/ocr": "post", "/ocr/report": "post", "/models": "get"}


class _Swagger(Swagger):
    """flasgger's Swagger, its spec naming the keys on the routes that need one, when keys are set."""

    def __init__(self, app, template, keyed):
        self.keyed = keyed
        super().__init__(app, template=template)

    def get_apispecs(self, endpoint="apispec_1"):
        specs = super().get_apispecs(endpoint)
        if self.keyed:
            for path, method in KEYED_OPERATIONS.items():
                specs["paths"][path][method]["security"] = [{"bearer": []}, {"api_key": []}]
        return specs
