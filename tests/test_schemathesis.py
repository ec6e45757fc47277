"""The app against its own OpenAPI spec: generated requests never get a 5xx or an undocumented answer.

schemathesis' pytest plugin does not run under pytest 9, so its strategies are driven directly.
Its check that schema-valid requests succeed is left out: a string the schema allows is rarely
an image, and refusing it with a documented 422 is the contract.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

EXAMPLES = 60


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/ocr", "POST"),
        ("/", "GET"),
        ("/createTask", "POST"),
        ("/getTaskResult", "POST"),
        ("/in.php", "POST"),
        ("/res.php", "GET"),
        ("/ocr/report", "POST"),
        ("/models", "GET"),
    ],
)
def test_the_api_keeps_its_documented_contract(app, path, method):
    operation = schemathesis.openapi.from_wsgi("/apispec_1.json", app)[path][method]

    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def keeps_the_contract(case):
        case.call_and_validate(excluded_checks=[positive_data_acceptance])

    keeps_the_contract()
