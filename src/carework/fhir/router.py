"""``/fhir/r4``: the plan as FHIR R4 resources, for DPS EHR integrations (clinicians only).

The same service call and access policy as ``GET /api/v1/dps/plans/{id}``: a clinician out of
scope gets 404, another role 403. Errors stay ``application/problem+json`` like the rest of the
API; successes are ``application/fhir+json``.
"""

import uuid
from typing import Any

from fastapi import Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from carework import readmodel
from carework.auth.principal import Principal
from carework.fhir import mapping
from carework.http.params import Session
from carework.http.principal import Caller
from carework.http.responses import READ_ERRORS
from carework.http.route import AudienceRouter
from carework.vocab import Role

FHIR_MEDIA_TYPE = "application/fhir+json"


class FhirResponse(JSONResponse):
    media_type = FHIR_MEDIA_TYPE


def _ok(resource_type: str, description: str) -> dict[int | str, dict[str, Any]]:
    spec = f"https://hl7.org/fhir/R4/{resource_type.lower()}.html"
    return {
        200: {
            "description": description,
            "content": {
                FHIR_MEDIA_TYPE: {
                    "schema": {
                        "type": "object",
                        "description": f"A FHIR R4 {resource_type} resource ({spec}).",
                        "required": ["resourceType"],
                        "properties": {"resourceType": {"type": "string", "enum": [resource_type]}},
                    }
                }
            },
        }
    }


#: The problem+json errors of every read. Without ``model``: FastAPI would list the Problem schema
#: under the route's own media type too, and an error is never ``application/fhir+json``.
ERRORS = {
    code: {k: v for k, v in spec.items() if k != "model"} for code, spec in READ_ERRORS.items()
}

#: The same unit of work and audit as every patient-data router; clinicians only, for now.
router = AudienceRouter(prefix="/fhir/r4", tag="fhir", roles=(Role.clinician,))


@router.get(
    "/CarePlan/{plan_id}",
    response_class=FhirResponse,
    operation_id="fhir_read_care_plan",
    responses={**_ok("CarePlan", "The plan with its Goals and CareTeam contained."), **ERRORS},
    summary="The plan as a FHIR R4 CarePlan",
)
async def read_care_plan(plan_id: uuid.UUID, principal: Caller, session: Session) -> FhirResponse:
    resource = mapping.care_plan_resource(await _view(session, principal, plan_id))
    return FhirResponse(resource, headers={"ETag": f'W/"{resource["meta"]["versionId"]}"'})


@router.get(
    "/Goal",
    response_class=FhirResponse,
    operation_id="fhir_search_goals",
    responses={**_ok("Bundle", "A searchset Bundle of the plan's Goals."), **ERRORS},
    summary="The plan's goals as a FHIR R4 searchset Bundle",
)
async def search_goals(
    request: Request,
    principal: Caller,
    session: Session,
    plan: uuid.UUID = Query(description="The id of the plan whose goals to return."),
) -> FhirResponse:
    view = await _view(session, principal, plan)
    return FhirResponse(mapping.goal_search_bundle(view, self_url=str(request.url)))


async def _view(
    session: AsyncSession, principal: Principal, plan_id: uuid.UUID
) -> mapping.CarePlanView:
    """The caller's view of the plan, from the read model every other surface reads too."""
    view = readmodel.validated(
        await readmodel.read_plan(session, principal, plan_id), principal.role
    )
    assert isinstance(view, mapping.CarePlanView), "FHIR serves the care team's views"
    return view
