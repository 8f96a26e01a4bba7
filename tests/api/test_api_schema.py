"""Property-based tests over the OpenAPI schema (schemathesis): no input makes a 5xx, and
every response matches its documented status, content type and schema."""

from __future__ import annotations

import json

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from .conftest import AUTH


@pytest.fixture(scope="module")
def schema(api):  # noqa: ANN001, ANN201
    loaded = schemathesis.openapi.from_dict(api.get("/openapi.json").json())
    return loaded.include(path_regex=r"^/(v1|health)")


# The loan-system API must also match its documentation exactly; every route (signaling and
# admin included) must never answer 5xx.
CONFORMANCE = [not_a_server_error, status_code_conformance, content_type_conformance,
               response_schema_conformance]
LOAN_API = ("/v1/sessions", "/v1/verdicts")


def _as_text(part: tuple) -> tuple:
    """Generated extra form fields may carry numbers; a multipart part is text or bytes."""
    filename, value, *rest = part
    if not isinstance(value, str | bytes):
        value = json.dumps(value)
    return (filename, value, *rest)


def _fuzz(api, operation, calls: dict[str, int]) -> None:  # noqa: ANN001
    """Hypothesis-driven requests for one operation through the running app's test client."""
    loan = operation.path.startswith(LOAN_API)
    checks = CONFORMANCE if loan else [not_a_server_error]

    @settings(max_examples=30 if loan else 10, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def run(case) -> None:  # noqa: ANN001
        # Sent through the test client of the running app (schemathesis' own ASGI client
        # would run the app's lifespan a second time).
        kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=dict(AUTH))
        kwargs.pop("cookies", None)
        if kwargs.get("files"):
            kwargs["files"] = [(name, _as_text(part)) for name, part in kwargs["files"]]
        request = api.build_request(**kwargs)
        request.read()  # multipart bodies are streams; the validator reads the request
        response = api.send(request)
        calls[operation.path] = calls.get(operation.path, 0) + 1
        assert response.status_code < 500, (case.method, case.formatted_path,
                                            response.status_code, response.text[:300])
        case.validate_response(response, checks=checks)

    run()


def test_no_input_crashes_the_api(api, schema):
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 5
    failures = []
    calls: dict[str, int] = {}
    for operation in operations:
        try:
            _fuzz(api, operation, calls)
        except Exception as err:  # schemathesis reports conformance failures as its own types
            failures.append(f"{operation.method.upper()} {operation.path}: {err}")
    assert not failures, "\n\n".join(failures)
    assert calls.get("/v1/sessions", 0) >= 20 and len(calls) >= 8, calls
