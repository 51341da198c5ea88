"""Consent use cases. ``active_scopes`` is what the access policy's ``View`` is built from."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import Row, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from carework.access.policy import ensure_may_grant_consent
from carework.access.sensitivity import GENERAL
from carework.audit.record import touch
from carework.auth.principal import Principal
from carework.consent.repository import is_active
from carework.consent.schemas import PatientConsentCreate, RecordedConsentCreate
from carework.errors import NotFound, RuleViolation
from carework.feed import outbox as feed
from carework.models.consent import Consent
from carework.models.plan import Plan
from carework.plans import repository as plans
from carework.plans.service import plan_for_reading, plan_for_writing
from carework.vocab import ConsentEvidence, ConsentScope, EventType


async def _grant(
    session: AsyncSession,
    principal: Principal,
    plan_id: uuid.UUID,
    scopes: list[ConsentScope],
    evidence: ConsentEvidence,
    valid_until: datetime | None,
) -> Row[Consent, bool]:
    ensure_may_grant_consent(principal, evidence)
    if valid_until is not None and valid_until <= datetime.now(UTC):
        raise RuleViolation("valid_until must lie in the future.")
    consent = Consent(
        id=uuid.uuid4(),
        plan_id=plan_id,
        scopes=[s.value for s in scopes],
        evidence=evidence.value,
        granted_by_sub=principal.sub,
        granted_by_name=principal.name,
        granted_by_role=principal.role.value,
        valid_until=valid_until,
    )
    session.add(consent)
    touch(resource=("consent", consent.id))
    await session.flush()
    await feed.record(
        session,
        principal,
        type=EventType.consent_granted,
        of=GENERAL,
        plan_id=plan_id,
        resource=("consent", consent.id),
        data={"scopes": consent.scopes},
    )
    return await _one(session, consent.id)


async def _one(session: AsyncSession, consent_id: uuid.UUID) -> Row[Consent, bool]:
    return (
        await session.execute(
            select(Consent, is_active().label("active")).where(Consent.id == consent_id)
        )
    ).one()


async def grant_by_patient(
    session: AsyncSession, principal: Principal, body: PatientConsentCreate
) -> Row[Consent, bool]:
    plan = await plans.own_plan(session, principal)
    plan, _ = await plan_for_writing(session, principal, plan.id)
    return await _grant(
        session, principal, plan.id, body.scopes, ConsentEvidence.digital, body.valid_until
    )


async def record_in_person(
    session: AsyncSession, principal: Principal, plan_id: uuid.UUID, body: RecordedConsentCreate
) -> Row[Consent, bool]:
    plan, _ = await plan_for_writing(session, principal, plan_id)
    return await _grant(
        session, principal, plan.id, body.scopes, ConsentEvidence(body.evidence), body.valid_until
    )


async def list_for_plan(
    session: AsyncSession, principal: Principal, plan_id: uuid.UUID
) -> Sequence[Row[Consent, bool]]:
    plan, _ = await plan_for_reading(session, principal, plan_id)
    return (
        await session.execute(
            select(Consent, is_active().label("active"))
            .where(Consent.plan_id == plan.id)
            .order_by(Consent.granted_at, Consent.id)
        )
    ).all()


async def list_own(session: AsyncSession, principal: Principal) -> Sequence[Row[Consent, bool]]:
    plan = await plans.own_plan(session, principal)
    return await list_for_plan(session, principal, plan.id)


async def active_for_plan(
    session: AsyncSession, principal: Principal, plan_id: uuid.UUID
) -> frozenset[ConsentScope]:
    _plan, view = await plan_for_reading(session, principal, plan_id)
    return view.consent


async def revoke(
    session: AsyncSession, principal: Principal, plan_id: uuid.UUID, consent_id: uuid.UUID
) -> None:
    """Revoking is always possible, also on a closed plan, and doing it twice is harmless."""
    plan, _ = await plan_for_reading(session, principal, plan_id)
    ensure_may_grant_consent(principal, None)
    found = await session.scalar(
        select(Consent.id).where(Consent.id == consent_id, Consent.plan_id == plan.id)
    )
    if found is None:
        raise NotFound("No such consent.")
    touch(resource=("consent", consent_id))
    revoked = await session.execute(
        update(Consent)
        .where(Consent.id == consent_id, Consent.revoked_at.is_(None))
        .values(
            revoked_at=func.now(),
            revoked_by_sub=principal.sub,
            revoked_by_role=principal.role.value,
        )
        .returning(Consent.scopes)
    )
    scopes = revoked.scalar_one_or_none()
    if scopes is not None:  # a second revocation changes nothing, and records nothing
        await feed.record(
            session,
            principal,
            type=EventType.consent_revoked,
            of=GENERAL,
            plan_id=plan.id,
            resource=("consent", consent_id),
            data={"scopes": scopes},
        )


async def revoke_own(session: AsyncSession, principal: Principal, consent_id: uuid.UUID) -> None:
    """Any of the patient's plans, not only the open one: a consent on an earlier, closed plan
    still opens that plan to NAV until the patient revokes it."""
    own_plans = plans.readable_plans(principal).with_only_columns(Plan.id)
    plan_id = await session.scalar(
        select(Consent.plan_id).where(Consent.id == consent_id, Consent.plan_id.in_(own_plans))
    )
    if plan_id is None:
        raise NotFound("No such consent.")
    await revoke(session, principal, plan_id, consent_id)
