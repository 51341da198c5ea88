from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field

from carework.bodies import Output


class AccessLogEntry(Output):
    at: datetime = Field(validation_alias="occurred_at")
    actor_name: str | None
    role: str | None = Field(validation_alias="actor_role")
    org: str | None = Field(validation_alias="actor_org")
    action: str


class AccessLog(Output):
    items: list[AccessLogEntry]
    next_cursor: str | None


class AuditEventRead(Output):
    id: uuid.UUID
    occurred_at: datetime
    actor_sub: str | None
    actor_name: str | None
    actor_role: str | None
    actor_org: str | None
    action: str
    outcome: str
    status: int
    plan_id: uuid.UUID | None
    resource_type: str | None
    resource_id: str | None
    request_id: str
    client_ip: str | None
    #: A summary of repeated refusals from one client in a window counts them here; null is
    #: one request.
    occurrences: int | None = None
    chain: str
    seq: int
    prev_hash: str
    hash: str


class AuditEventPage(Output):
    items: list[AuditEventRead]
    next_cursor: str | None


class VerificationRead(Output):
    ok: bool
    events: int
    chains: int
    first_broken: dict[str, Any] | None = None
