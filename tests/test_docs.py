import re

OCR_RESPONSES = {"200", "401", "413", "415", "422", "503"}


def test_spec_describes_the_contract_from_the_schemas(client):
    spec = client.get("/apispec_1.json").json
    assert spec["openapi"].startswith("3.")
    read = spec["paths"]["/ocr"]["post"]
    body = read["requestBody"]["content"]
    assert body["application/json"]["schema"] == {"$ref": "#/components/schemas/OcrRequest"}
    assert set(body["multipart/form-data"]["schema"]["properties"]) == {"image", "file", "length", "min_confidence", "model"}
    assert {"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp"} <= set(body)
    assert set(read["responses"]) == OCR_RESPONSES
    assert read["responses"]["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/OcrResponse"}
    assert read["responses"]["422"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Refusal"}
    schemas = spec["components"]["schemas"]
    assert set(schemas["OcrResponse"]["properties"]) == {"number", "digits", "confidence"}
    assert set(schemas["OcrRequest"]["properties"]) == {"image_base64", "length", "min_confidence", "model"}
    assert schemas["Error"]["required"] == ["detail"]
    assert "'text'" in schemas["OcrRequest"]["properties"]["image_base64"]["description"]
    assert set(spec["components"]["securitySchemes"]) == {"bearer", "api_key"}
    assert "get" in spec["paths"]["/"] and "get" in spec["paths"]["/metrics"]
    assert "get" in spec["paths"]["/models"] and "post" in spec["paths"]["/ocr/report"]
    assert {"/createTask", "/getTaskResult", "/in.php", "/res.php"} <= set(spec["paths"])


def test_swagger_ui_loads_nothing_from_other_hosts(client):
    page = client.get("/apidocs/")
    assert page.status_code == 200
    external = re.findall(r'(?:src|href)="(https?://[^"]+)"', page.get_data(as_text=True))
    assert external == ["https://github.com/rochacbruno/flasgger"]
    for asset in re.findall(r'(?:src|href)="(/flasgger_static/[^"]+)"', page.get_data(as_text=True)):
        with client.get(asset) as response:
            assert response.status_code == 200, asset
