from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, Field, field_validator

from carework.bodies import Input, Output
from carework.models.consent import Consent
from carework.vocab import ConsentEvidence, ConsentScope


class _Grant(Input):
    scopes: list[ConsentScope] = Field(min_length=1, max_length=2)
    valid_until: AwareDatetime | None = Field(
        None, description="When the consent ends by itself (with a time zone). None: until revoked."
    )

    @field_validator("scopes")
    @classmethod
    def _distinct(cls, scopes: list[ConsentScope]) -> list[ConsentScope]:
        if len(set(scopes)) != len(scopes):
            raise ValueError("scopes must not repeat")
        return scopes


class PatientConsentCreate(_Grant):
    """The patient's own grant, through their login."""


class RecordedConsentCreate(_Grant):
    """A consent the patient gave a clinician in person."""

    evidence: Literal["verbal", "written"]


class ConsentRead(Output):
    @classmethod
    def of(cls, consent: Consent, active: bool) -> ConsentRead:
        columns = {c.key: getattr(consent, c.key) for c in Consent.__table__.columns}
        return cls.model_validate({**columns, "active": active})

    id: uuid.UUID
    plan_id: uuid.UUID
    scopes: list[ConsentScope]
    evidence: ConsentEvidence
    granted_by_name: str
    granted_by_role: str
    granted_at: datetime
    valid_until: datetime | None
    revoked_at: datetime | None
    active: bool


class ConsentList(Output):
    items: list[ConsentRead]


class ActiveConsent(Output):
    """What NAV may know: which scopes are active now, not who granted them or how."""

    plan_id: uuid.UUID
    scopes: list[ConsentScope]
