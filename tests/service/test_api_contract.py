"""The API against its own contract: schemathesis generates requests from the live OpenAPI schema, sends them
to a live server with a valid key, and checks every response: never a 5xx, status codes, content types,
headers and bodies as documented, and data the schema forbids is refused. The committed docs/openapi.yaml
must equal what the code generates (with warnings as errors)."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from django.core.management import call_command
from hypothesis import HealthCheck, settings
from schemathesis import checks

from audit_app.models import Team
from audit_app.services.api_keys import create_key

ROOT = Path(__file__).resolve().parents[2]
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,
]


@pytest.fixture
def key(transactional_db) -> str:  # type: ignore[no-untyped-def]
    return create_key("Contract test", Team.objects.create(name="Contracts"), "read submit", None, "test").secret


# The committed contract; the last test proves it is exactly what the live server serves at /api/v1/schema/.
schema = schemathesis.openapi.from_path(ROOT / "docs" / "openapi.yaml")


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_every_operation_keeps_its_contract(case, key: str, live_server) -> None:  # type: ignore[no-untyped-def]
    case.call_and_validate(base_url=live_server.url, headers={"Authorization": f"Bearer {key}"}, checks=CHECKS)


def test_the_committed_schema_is_what_the_code_generates_and_serves(tmp_path: Path, client, key: str) -> None:  # type: ignore[no-untyped-def]
    generated = tmp_path / "openapi.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(generated))
    committed = (ROOT / "docs" / "openapi.yaml").read_text()
    served = client.get("/api/v1/schema/", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert served.status_code == 200
    assert served.content.decode() == committed
    assert generated.read_text() == committed, (
        "docs/openapi.yaml is out of date: run "
        "'manage.py spectacular --validate --fail-on-warn --file docs/openapi.yaml' and commit it."
    )
