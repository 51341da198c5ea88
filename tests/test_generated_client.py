"""A client generated from the checked-in spec works against a live server.

What a script writer does (README, "A generated client"): generate a client with
``openapi-python-client`` from ``openapi/openapi.json``, install it, and call the service
through it alone. The scenario crosses both sides and the consent rule: DPS adds a treatment
goal and NAV a work goal; without consent NAV's view has no treatment goal, DPS's has both.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.factories import TokenMaker, make_world
from tests.live import LiveServer, serving

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "openapi" / "openapi.json"
#: What the generator needs besides the spec: the PDF answers read as bytes.
CLIENT_CONFIG = ROOT / "openapi" / "client-config.yaml"
BIN = Path(sys.executable).parent
PACKAGE = "carework_client"  # from the spec's title

pytestmark = pytest.mark.live


def run(*args: str, cwd: Path) -> None:
    # The generator formats its output with ruff, which it looks up on PATH.
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"{args[0]} failed:\n{result.stdout}\n{result.stderr}"


@pytest.fixture(scope="module")
def generated_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Generate the client, pip-install it into a directory of its own, put that on sys.path.

    The project's virtualenv stays as it was: the package goes to ``--target``, and is
    forgotten again (sys.path, sys.modules) when the module's tests are done.
    """
    work = tmp_path_factory.mktemp("generated")
    run(
        str(BIN / "openapi-python-client"),
        *("generate", "--path", str(SPEC), "--output-path", str(work / "client")),
        *("--meta", "setup", "--config", str(CLIENT_CONFIG), "--fail-on-warning"),
        cwd=work,
    )
    site = work / "site"
    # pip builds it as any sdist, fetching its build backend (setuptools) like `pip install`
    # fetches carework's own.
    run(
        sys.executable,
        *("-m", "pip", "install", "--quiet", "--no-deps"),
        *("--target", str(site), str(work / "client")),
        cwd=work,
    )
    assert (site / PACKAGE / "py.typed").is_file()
    sys.path.insert(0, str(site))
    try:
        yield site
    finally:
        sys.path.remove(str(site))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def generated(name: str) -> ModuleType:
    return importlib.import_module(f"{PACKAGE}.{name}")


@pytest.fixture(scope="module")
def server(
    database_url: str, data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    with serving(database_url, data_dir, tmp_path_factory.mktemp("live") / "serve.log") as live:
        yield live


def test_generated_client_runs_the_two_sided_scenario(
    generated_client: Path, server: LiveServer, tokens: TokenMaker
) -> None:
    client_module, models = generated("client"), generated("models")
    assert str(client_module.__file__).startswith(str(generated_client))  # the installed copy
    dps_create_plan = generated("api.dps.dps_create_plan")
    dps_create_goal = generated("api.dps.dps_create_goal")
    dps_read_plan = generated("api.dps.dps_read_plan")
    nav_create_goal = generated("api.nav.nav_create_goal")
    nav_read_plan = generated("api.nav.nav_read_plan")
    nav_read_plan_pdf = generated("api.nav.nav_read_plan_pdf")

    world = make_world(tokens)

    def authenticated(token: str) -> Any:
        return client_module.AuthenticatedClient(
            base_url=server.base_url,
            token=token,
            raise_on_unexpected_status=True,  # a status the spec does not declare fails the test
            timeout=httpx.Timeout(30.0),
        )

    with authenticated(world.clinician.token) as dps, authenticated(world.advisor.token) as nav:
        body = models.PlanCreate(
            patient=models.PatientIn(nid=world.nid, name="Ola Pasient"),
            title="Tilbake i arbeid",
            nav_office=world.nav_office,
            status=models.PlanCreateStatus.ACTIVE,
        )
        key = uuid.uuid4().hex
        created = dps_create_plan.sync_detailed(client=dps, body=body, idempotency_key=key)
        assert created.status_code == 201, created.content
        plan = created.parsed
        assert isinstance(plan, models.DpsPlanRead)
        assert (plan.dps_unit, plan.nav_office) == (world.dps_unit, world.nav_office)
        assert created.headers["etag"] == f'"{plan.version}"'
        # A retry with the same Idempotency-Key is answered from the first call.
        retried = dps_create_plan.sync_detailed(client=dps, body=body, idempotency_key=key)
        assert retried.status_code == 201
        assert retried.parsed.id == plan.id
        assert retried.headers["idempotent-replayed"] == "true"

        treatment = dps_create_goal.sync(
            plan.id,
            client=dps,
            body=models.GoalCreate(domain=models.GoalDomain.TREATMENT, title="Sove bedre"),
        )
        assert isinstance(treatment, models.GoalRead), treatment
        work = nav_create_goal.sync(
            plan.id,
            client=nav,
            body=models.GoalCreate(domain=models.GoalDomain.WORK, title="Arbeidstrening"),
        )
        assert isinstance(work, models.GoalRead), work

        nav_view = nav_read_plan.sync(plan.id, client=nav)
        assert isinstance(nav_view, models.NavPlanRead), nav_view
        assert nav_view.consent == []
        assert {(g.id, g.domain) for g in nav_view.goals} == {(work.id, models.GoalDomain.WORK)}

        pdf = nav_read_plan_pdf.sync(plan.id, client=nav)
        assert pdf.payload.read().startswith(b"%PDF"), pdf

        dps_view = dps_read_plan.sync(plan.id, client=dps)
        assert isinstance(dps_view, models.DpsPlanRead), dps_view
        assert {(g.id, g.domain) for g in dps_view.goals} == {
            (treatment.id, models.GoalDomain.TREATMENT),
            (work.id, models.GoalDomain.WORK),
        }

        # Errors come back as the declared problem type, not as a crash in the client.
        other = authenticated(world.other_advisor.token)
        with other:
            hidden = nav_read_plan.sync_detailed(plan.id, client=other)
        assert hidden.status_code == 404
        assert isinstance(hidden.parsed, models.Problem)
        assert hidden.parsed.status == 404
