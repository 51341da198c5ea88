"""The checked-in spec is the app's spec, and every operation is documented for integrators."""

from __future__ import annotations

import json
from pathlib import Path

from carework.openapi import render_spec

SPEC_FILE = Path(__file__).resolve().parents[1] / "openapi" / "openapi.json"


def test_checked_in_spec_matches_the_app() -> None:
    assert SPEC_FILE.read_text(encoding="utf-8") == render_spec(), "run `carework openapi`"


def test_every_operation_has_an_id_a_tag_and_problem_errors() -> None:
    spec = json.loads(render_spec())
    seen: set[str] = set()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            op_id = operation["operationId"]
            assert op_id not in seen, op_id
            seen.add(op_id)
            assert operation["tags"], (method, path)
            if path.startswith("/api/"):
                assert {"401", "403"} <= set(operation["responses"]), (method, path)
                problem = operation["responses"]["401"]["content"]["application/problem+json"]
                assert problem["schema"]["$ref"].endswith("/Problem")
                assert operation.get("security") == [{"HTTPBearer": []}], (method, path)
