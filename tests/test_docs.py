import re

import pytest

from captcha_service import create_app

OCR_RESPONSES = {"200", "401", "413", "415", "422", "503"}


def test_spec_describes_the_contract_from_the_schemas(client):
    spec = client.get("/apispec_1.json").json
    assert spec["openapi"].startswith("3.")
    read = spec["paths"]["/ocr"]["post"]
    body = read["requestBody"]["content"]
    assert body["application/json"]["schema"] == {"$ref": "#/components/schemas/OcrRequest"}
    assert set(body["multipart/form-data"]["schema"]["properties"]) == {
        "image",
        "file",
        "length",
        "min_confidence",
        "model",
    }
    assert {"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp"} <= set(body)
    assert set(read["responses"]) == OCR_RESPONSES
    assert read["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/OcrResponse"
    }
    assert read["responses"]["422"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Refusal"}
    schemas = spec["components"]["schemas"]
    assert set(schemas["OcrResponse"]["properties"]) == {"number", "digits", "confidence"}
    assert set(schemas["OcrRequest"]["properties"]) == {"image_base64", "length", "min_confidence", "model"}
    assert schemas["Error"]["required"] == ["detail"]
    assert "'text'" in schemas["OcrRequest"]["properties"]["image_base64"]["description"]
    assert "get" in spec["paths"]["/"] and "get" in spec["paths"]["/metrics"]
    assert "get" in spec["paths"]["/models"] and "post" in spec["paths"]["/ocr/report"]
    assert {"/createTask", "/getTaskResult", "/in.php", "/res.php"} <= set(spec["paths"])


def test_swagger_ui_loads_nothing_from_other_hosts(client):
    page = client.get("/apidocs/")
    assert page.status_code == 200
    external = re.findall(r'(?:src|href)="(https?://[^"]+)"', page.get_data(as_text=True))
    assert external == ["https://github.com/rochacbruno/flasgger"]
    for asset in re.findall(r'(?:src|href)="(/[^"]+)"', page.get_data(as_text=True)):
        with client.get(asset) as response:
            assert response.status_code == 200, asset
    # swagger-ui-bundle's own page and its initializer load a sample spec from petstore.swagger.io: not served
    for stock in ("index.html", "swagger-initializer.js", "../docs.py"):
        with client.get(f"/apidocs/swagger-ui/{stock}") as response:
            assert response.status_code == 404 and response.is_json, stock


def test_the_docs_page_has_no_script_error_and_its_example_is_answered_clearly():
    client = create_app().test_client()
    # flasgger's unset auth: a JS error
    assert "auth_config = None" not in client.get("/apidocs/").get_data(as_text=True)
    properties = client.get("/apispec_1.json").json["components"]["schemas"]["OcrRequest"]["properties"]
    example = {name: field["example"] for name, field in properties.items() if "example" in field}
    answer = client.post("/ocr", json=example)  # what "Try it out" sends as it stands
    assert answer.status_code in (200, 422) and answer.json.get("reason") in (
        None,
        "low_confidence",
        "no_reading",
        "unfamiliar",
    )


@pytest.mark.parametrize("keys", ["", "key-a"])
def test_keys_are_shown_only_when_set_and_only_where_asked(keys):
    spec = create_app({"API_KEYS": keys}).test_client().get("/apispec_1.json").json
    secured = {
        (path, method)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if isinstance(operation, dict) and operation.get("security")
    }
    assert secured == ({("/ocr", "post"), ("/ocr/report", "post"), ("/models", "get")} if keys else set())
    assert bool(spec.get("components", {}).get("securitySchemes")) == bool(keys)


def test_every_route_of_both_solver_protocols_is_in_the_spec():
    paths = create_app().test_client().get("/apispec_1.json").json["paths"]
    methods = {
        "/createTask",
        "/getTaskResult",
        "/getBalance",
        "/reportCorrect",
        "/reportIncorrect",
        "/reportIncorrectImageCaptcha",
    }
    assert methods | {"/in.php", "/res.php"} <= set(paths)


def schemas_with_a_pattern(node):
    """Every schema object under ``node`` that has a ``pattern``."""
    if isinstance(node, dict):
        if isinstance(node.get("pattern"), str):
            yield node
        for value in node.values():
            yield from schemas_with_a_pattern(value)
    elif isinstance(node, list):
        for value in node:
            yield from schemas_with_a_pattern(value)


def test_patterns_are_written_as_javascript_reads_them(client):
    """swagger-ui checks a field against its pattern in JavaScript: Python's \\Z there is a plain "Z", and refused
    "general"."""
    schemas = list(schemas_with_a_pattern(client.get("/apispec_1.json").json))
    assert schemas  # the model name's, in the query, the forms and the JSON body
    for schema in schemas:
        pattern = schema["pattern"]
        assert pattern.startswith("^") and pattern.endswith("$") and "\\Z" not in pattern and "\\A" not in pattern, (
            pattern
        )
        assert re.search(pattern, str(schema["example"])), (pattern, schema["example"])
