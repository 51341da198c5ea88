"""Consent: the patient grants and revokes, a clinician records a consent given in person, NAV
reads which scopes are active."""

from __future__ import annotations

import uuid

from fastapi import Response, status

from carework.consent import service as consent
from carework.consent.schemas import (
    ActiveConsent,
    ConsentList,
    ConsentRead,
    PatientConsentCreate,
    RecordedConsentCreate,
)
from carework.http.params import Session
from carework.http.principal import Caller
from carework.http.responses import DELETE_ERRORS
from carework.http.route import RouteTable

REVOKED = {"status_code": status.HTTP_204_NO_CONTENT, "responses": DELETE_ERRORS}

#: The clinician's, the NAV advisor's and the patient's routes.
dps_routes = RouteTable(shared=False)
nav_routes = RouteTable(shared=False)
patient_routes = RouteTable(shared=False)


@dps_routes.create(
    "/plans/{plan_id}/consents", ConsentRead,
    "Record a consent the patient gave in person (verbal or written)",
)  # fmt: skip
async def dps_record_consent(
    plan_id: uuid.UUID, body: RecordedConsentCreate, principal: Caller, session: Session
) -> ConsentRead:
    return ConsentRead.of(*await consent.record_in_person(session, principal, plan_id, body))


@dps_routes.read(
    "/plans/{plan_id}/consents", ConsentList, "Every consent of the plan, active or not"
)
async def dps_list_consents(plan_id: uuid.UUID, principal: Caller, session: Session) -> ConsentList:
    rows = await consent.list_for_plan(session, principal, plan_id)
    return ConsentList(items=[ConsentRead.of(*row) for row in rows])


@dps_routes.delete(
    "/plans/{plan_id}/consents/{consent_id}", **REVOKED,
    summary="Record that the patient withdrew a consent in person",
)  # fmt: skip
async def dps_revoke_consent(
    plan_id: uuid.UUID, consent_id: uuid.UUID, principal: Caller, session: Session
) -> Response:
    await consent.revoke(session, principal, plan_id, consent_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@nav_routes.read(
    "/plans/{plan_id}/consent", ActiveConsent,
    "Which consent scopes are active now (NAV reads, never grants)",
)  # fmt: skip
async def nav_read_active_consent(
    plan_id: uuid.UUID, principal: Caller, session: Session
) -> ActiveConsent:
    scopes = await consent.active_for_plan(session, principal, plan_id)
    return ActiveConsent(plan_id=plan_id, scopes=sorted(scopes))


@patient_routes.create(
    "/consents",
    ConsentRead,
    "Let NAV see treatment goals (and notes), until revoked or valid_until",
)
async def patient_grant_consent(
    body: PatientConsentCreate, principal: Caller, session: Session
) -> ConsentRead:
    return ConsentRead.of(*await consent.grant_by_patient(session, principal, body))


@patient_routes.read("/consents", ConsentList, "My consents, active or not")
async def patient_list_consents(principal: Caller, session: Session) -> ConsentList:
    rows = await consent.list_own(session, principal)
    return ConsentList(items=[ConsentRead.of(*row) for row in rows])


@patient_routes.delete(
    "/consents/{consent_id}", **REVOKED,
    summary="Revoke a consent; NAV loses sight from the next request on",
)  # fmt: skip
async def patient_revoke_consent(
    consent_id: uuid.UUID, principal: Caller, session: Session
) -> Response:
    await consent.revoke_own(session, principal, consent_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
