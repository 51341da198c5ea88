"""Consent use cases: the patient grants and revokes, a clinician records a consent given in
person; NAV only learns which scopes are active (``access.consent`` decides that in SQL)."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, Select, func, update
from sqlalchemy.ext.asyncio import AsyncSession

from carework.access.consent import is_active
from carework.access.policy import ensure_may_grant_consent, ensure_may_read_consent_records
from carework.access.scope import params, scoped
from carework.access.sensitivity import GENERAL
from carework.audit.record import touch
from carework.auth.principal import Principal
from carework.consent.schemas import PatientConsentCreate, RecordedConsentCreate
from carework.errors import NotFound, RuleViolation
from carework.feed import outbox as feed
from carework.models.consent import Consent
from carework.plans import repository as plans
from carework.plans.service import plan_for_reading, plan_for_writing
from carework.vocab import ConsentEvidence, ConsentScope, EventType, Role


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
        session, principal, type=EventType.consent_granted, plan_id=plan_id,
        resource=("consent", consent.id), of=GENERAL, data={"scopes": consent.scopes},
    )  # fmt: skip
    row = (
        await session.execute(_records(principal.role, one=True), _ids(principal, consent))
    ).one()
    return row


def _ids(principal: Principal, consent: Consent) -> dict[str, Any]:
    return params(principal, plan_id=consent.plan_id, consent_id=consent.id)


@functools.cache
def _records(role: Role, *, one: bool) -> Select[Consent, bool]:
    """A plan's consent records with whether each is active now, as the caller may read them."""
    reads = scoped(role)
    columns = (Consent, is_active().label("active"))
    stmt = reads.consent_record(*columns) if one else reads.consent_records(*columns)
    return stmt.order_by(Consent.granted_at, Consent.id)


async def grant_by_patient(
    session: AsyncSession, principal: Principal, body: PatientConsentCreate
) -> Row[Consent, bool]:
    plan_id = await plans.own_plan_id(session, principal)
    plan, _ = await plan_for_writing(session, principal, plan_id)
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
    """Every consent of the plan, active or not: for the clinic and the patient, not NAV."""
    ensure_may_read_consent_records(principal)
    plan, _ = await plan_for_reading(session, principal, plan_id)
    stmt = _records(principal.role, one=False)
    return (await session.execute(stmt, params(principal, plan_id=plan.id))).all()


async def list_own(session: AsyncSession, principal: Principal) -> Sequence[Row[Consent, bool]]:
    plan_id = await plans.own_plan_id(session, principal)
    return await list_for_plan(session, principal, plan_id)


async def active_for_plan(
    session: AsyncSession, principal: Principal, plan_id: uuid.UUID
) -> frozenset[ConsentScope]:
    _plan, view = await plan_for_reading(session, principal, plan_id)
    return view.consent


async def revoke(
    session: AsyncSession, principal: Principal, plan_id: uuid.UUID, consent_id: uuid.UUID
) -> None:
    """Revoking is always possible, also on a closed plan, and doing it twice is harmless."""
    ensure_may_grant_consent(principal, None)
    found = await plans.find(session, principal, plan_id, Consent, consent_id, lock=True)
    revoked = await session.execute(
        update(Consent)
        .where(Consent.id == found.item.id, Consent.revoked_at.is_(None))
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
            session, principal, type=EventType.consent_revoked, plan_id=plan_id,
            resource=("consent", consent_id), of=GENERAL, data={"scopes": scopes},
        )  # fmt: skip


@functools.cache
def _patients_consent(role: Role) -> Select[Any]:
    return scoped(role).patients_consent_records(Consent.plan_id)


async def revoke_own(session: AsyncSession, principal: Principal, consent_id: uuid.UUID) -> None:
    """Any of the patient's plans, not only the open one: a consent on an earlier, closed plan
    still opens that plan to NAV until the patient revokes it."""
    plan_id = await session.scalar(
        _patients_consent(principal.role), params(principal, consent_id=consent_id)
    )
    if plan_id is None:
        raise NotFound("No such consent.")
    await revoke(session, principal, plan_id, consent_id)
