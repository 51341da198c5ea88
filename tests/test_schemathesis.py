"""Schemathesis against a live server: every operation, once per role, no 5xx and no spec breaks.

The schema is the checked-in ``openapi/openapi.json`` (``test_openapi`` keeps it equal to the
app's), so what is fuzzed is what integrators generate clients from. The tokens are those of one
world whose plan exists (a goal on each side), and a well-formed ``plan_id`` is pointed at that
plan, so requests get past the role check and past scope into the handlers.

- With the role that owns the operation's router (none for ``/healthz``, ``/readyz``,
  ``/metrics``) every phase runs: Schemathesis's coverage phase (boundary and invalid values,
  missing parameters, unexpected methods) and then ``MAX_EXAMPLES`` fuzzed cases.
- With each of the three other roles, ``MAX_EXAMPLES`` fuzzed cases: the 403 refusal, and any
  422 or 400 that comes before it, must be as the spec declares.

Checks: no server error, and the response conforms to the spec: a declared status code, a
declared content type, a body that matches the declared schema. Generation is derandomized
(the coverage phase is deterministic anyway), so CI sees the same cases every run.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.factories import TokenMaker, World, make_world
from tests.live import LiveServer, serving

SPEC = Path(__file__).resolve().parents[1] / "openapi" / "openapi.json"

pytestmark = pytest.mark.live
#: Fuzzed cases per operation and role. A deeper run, e.g. before a release:
#: ``SCHEMATHESIS_MAX_EXAMPLES=200 pytest tests/test_schemathesis.py``.
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "8"))
ROLES = ("clinician", "nav_advisor", "patient", "auditor")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

#: The owning role's run: every phase.
schema = schemathesis.openapi.from_path(SPEC)
#: The other roles' runs: fuzzing only.
fuzz_only = schemathesis.openapi.from_path(SPEC)
fuzz_only.config.phases.coverage.enabled = False

#: Which role each router serves, by path prefix; operations routes need no token.
OWNERS = {
    "/api/v1/dps/": "clinician",
    "/fhir/r4/": "clinician",
    "/api/v1/nav/": "nav_advisor",
    "/api/v1/patient/": "patient",
    "/api/v1/audit/": "auditor",
}


def owner_of(path: str) -> str | None:
    return next((role for prefix, role in OWNERS.items() if path.startswith(prefix)), None)


@pytest.fixture(scope="module")
def server(
    database_url: str, data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    with serving(database_url, data_dir, tmp_path_factory.mktemp("live") / "serve.log") as live:
        yield live


@pytest.fixture(scope="module")
def scene(server: LiveServer, tokens: TokenMaker) -> tuple[World, str]:
    """A world whose patient has an active plan with a goal on each side."""
    world = make_world(tokens)
    with httpx.Client(base_url=server.base_url, timeout=10.0) as http:
        created = http.post(
            "/api/v1/dps/plans",
            json={
                "patient": {"nid": world.nid, "name": "Ola Pasient"},
                "nav_office": world.nav_office,
                "title": "Tilbake i arbeid",
                "status": "active",
            },
            headers=world.clinician.headers,
        )
        assert created.status_code == 201, created.text
        plan_id: str = created.json()["id"]
        for side, actor, domain in (
            ("dps", world.clinician, "treatment"),
            ("nav", world.advisor, "work"),
        ):
            goal = http.post(
                f"/api/v1/{side}/plans/{plan_id}/goals",
                json={"domain": domain, "title": f"Et {domain}-mål"},
                headers=actor.headers,
            )
            assert goal.status_code == 201, goal.text
    return world, plan_id


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as http:
        yield http


def _is_uuid(value: object) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


HYPOTHESIS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def call_and_validate(
    case: schemathesis.Case,
    role: str | None,
    server: LiveServer,
    scene: tuple[World, str],
    session: requests.Session,
) -> None:
    world, plan_id = scene
    headers = {}
    if role is not None:
        actor = {
            "clinician": world.clinician,
            "nav_advisor": world.advisor,
            "patient": world.patient,
            "auditor": world.auditor,
        }[role]
        headers["Authorization"] = f"Bearer {actor.token}"
    # A well-formed plan id becomes the world's plan, so the request reaches past scope into
    # the handler; a malformed one is left for the 422 it must get.
    if case.path_parameters and _is_uuid(case.path_parameters.get("plan_id")):
        case.path_parameters["plan_id"] = plan_id
    case.call_and_validate(
        base_url=server.base_url, session=session, headers=headers, checks=CHECKS, timeout=30
    )


# pytest >= 9.2 builds an item's id from the function and its pytest parameters alone, and
# schemathesis puts the operation only in the item's name: without a pytest parameter every
# operation's item has the same id, and pytest-xdist's --dist loadfile runs just one of them.
@pytest.mark.parametrize("phases", ["all"])
@schema.parametrize()
@HYPOTHESIS
def test_owning_role(
    case: schemathesis.Case,
    phases: str,
    server: LiveServer,
    scene: tuple[World, str],
    session: requests.Session,
) -> None:
    call_and_validate(case, owner_of(case.path), server, scene, session)


@pytest.mark.parametrize("other", [1, 2, 3])
@fuzz_only.parametrize()
@HYPOTHESIS
def test_other_roles(
    case: schemathesis.Case,
    other: int,
    server: LiveServer,
    scene: tuple[World, str],
    session: requests.Session,
) -> None:
    """``other`` counts on from the owning role in ``ROLES``: the three roles that are not it."""
    owner = owner_of(case.path) or ROLES[0]
    role = ROLES[(ROLES.index(owner) + other) % len(ROLES)]
    call_and_validate(case, role, server, scene, session)


# --- Regressions: inputs that once gave a 500 or broke the spec, sent as explicit cases ----------
#
# The bounded run above may not hit these again (or, for header values outside ASCII, cannot),
# so each is pinned here and put through the same checks, with the status it must get.


def _b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@dataclass(frozen=True)
class Pinned:
    method: str
    path: str
    role: str
    status: int
    path_parameters: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] | None = None
    headers: dict[str, str] | None = None
    body: dict[str, Any] | None = None

    def __str__(self) -> str:
        given = self.query or self.headers or self.body or self.path_parameters
        return f"{self.method} {self.path} {given}"


PLAN = "{plan}"  # replaced by the scene's plan id
ANY_ID = "6f0e6c1a-4f1e-4c55-9c27-6d8f7f6c2a11"
PINNED = [
    # A NUL in body text reached PostgreSQL, which cannot store it (found by Schemathesis).
    Pinned(
        "POST", "/api/v1/dps/plans/{plan_id}/team", "clinician", 422, {"plan_id": PLAN},
        body={"sub": "u-nul", "name": "A\x00B", "role": "clinician", "org": "dps-x"},
    ),
    # A malformed id on a DELETE got a 422 the operation did not declare (found by Schemathesis).
    Pinned(
        "DELETE", "/api/v1/patient/consents/{consent_id}", "patient", 422,
        {"consent_id": "null,null"},
    ),
    # If-Match values that name no version; "²" passed str.isdigit() and failed int().
    *(
        Pinned(
            "PATCH", "/api/v1/dps/plans/{plan_id}", "clinician", 412, {"plan_id": PLAN},
            headers={"If-Match": tag}, body={"title": "Ny tittel"},
        )
        for tag in ['"²"', '"¹"', 'W/"1"', '"-1"', '"+1"', '"1"x', '"' + "9" * 40 + '"']
    ),
    # Cursors this service never issued: numbers past bigint, a number for an id, a time
    # outside the years 1-9999 in UTC. Each reached the database or crashed before.
    Pinned(
        "GET", "/api/v1/dps/events", "clinician", 422,
        query={"after": _b64("99999999999999999999:1")},
    ),
    Pinned(
        "GET", "/api/v1/nav/plans/{plan_id}/history", "nav_advisor", 422, {"plan_id": PLAN},
        query={"cursor": _b64("1:99999999999999999999")},
    ),
    Pinned(
        "GET", "/api/v1/dps/plans", "clinician", 422,
        query={"cursor": _b64(json.dumps(["2026-01-01T00:00:00+00:00", 123]))},
    ),
    Pinned(
        "GET", "/api/v1/patient/access-log", "patient", 422,
        query={"cursor": _b64(json.dumps(["0001-01-01T00:00:00+14:00", ANY_ID]))},
    ),
    # Query values PostgreSQL cannot hold: a NUL, and moments outside its range in UTC.
    Pinned("GET", "/api/v1/audit/events", "auditor", 422, query={"actor": "a\x00"}),
    Pinned(
        "GET", "/api/v1/audit/events", "auditor", 422,
        query={"to": "0001-01-01T00:00:00+14:00"},
    ),
    Pinned(
        "GET", "/api/v1/audit/events", "auditor", 422,
        query={"from": "9999-12-31T23:59:59-14:00"},
    ),
    Pinned(
        "POST", "/api/v1/dps/plans/{plan_id}/consents", "clinician", 422, {"plan_id": PLAN},
        body={
            "scopes": ["treatment_goals"],
            "evidence": "verbal",
            "valid_until": "9999-12-31T23:59:59-14:00",
        },
    ),
]  # fmt: skip


@pytest.mark.parametrize("pinned", PINNED, ids=str)
def test_pinned_cases_get_the_declared_answer(
    pinned: Pinned, server: LiveServer, scene: tuple[World, str], session: requests.Session
) -> None:
    world, plan_id = scene
    actor = {
        "clinician": world.clinician,
        "nav_advisor": world.advisor,
        "patient": world.patient,
        "auditor": world.auditor,
    }[pinned.role]
    operation = schema[pinned.path][pinned.method]
    case = operation.Case(
        path_parameters={k: plan_id if v == PLAN else v for k, v in pinned.path_parameters.items()},
        query=pinned.query,
        headers=pinned.headers,
        **({"body": pinned.body, "media_type": "application/json"} if pinned.body else {}),
    )
    response = case.call_and_validate(
        base_url=server.base_url,
        session=session,
        headers={"Authorization": f"Bearer {actor.token}"},
        checks=CHECKS,
        timeout=30,
    )
    assert response.status_code == pinned.status, response.text
