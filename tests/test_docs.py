import re

OCR_RESPONSES = {"200", "401", "413", "415", "422", "503"}


def test_spec_describes_the_contract_from_the_schemas(client):
    spec = client.get("/apispec_1.json").json
    read = spec["paths"]["/ocr"]["post"]
    assert read["parameters"][0]["schema"] == {"$ref": "#/definitions/OcrRequest"}
    assert set(read["responses"]) == OCR_RESPONSES
    assert read["responses"]["200"]["schema"] == {"$ref": "#/definitions/OcrResponse"}
    assert set(spec["definitions"]["OcrResponse"]["properties"]) == {"number", "digits", "confidence"}
    assert set(spec["definitions"]["OcrRequest"]["properties"]) == {"image_base64", "length", "min_confidence"}
    assert read["responses"]["422"]["schema"] == {"$ref": "#/definitions/Refusal"}
    assert spec["definitions"]["Error"]["required"] == ["detail"]
    assert "'text'" in spec["definitions"]["OcrRequest"]["properties"]["image_base64"]["description"]
    assert "get" in spec["paths"]["/"]


def test_swagger_ui_loads_nothing_from_other_hosts(client):
    page = client.get("/apidocs/")
    assert page.status_code == 200
    external = re.findall(r'(?:src|href)="(https?://[^"]+)"', page.get_data(as_text=True))
    assert external == ["https://github.com/rochacbruno/flasgger"]
    for asset in re.findall(r'(?:src|href)="(/flasgger_static/[^"]+)"', page.get_data(as_text=True)):
        with client.get(asset) as response:
            assert response.status_code == 200, asset
