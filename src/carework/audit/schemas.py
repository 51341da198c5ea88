from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

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


class CheckpointCheck(Output):
    """What verification found of the newest checkpoint outside the database."""

    state: Literal["none", "checked", "unusable"] = Field(
        description="`none`: no checkpoint written yet (nothing to compare with); `checked`: its "
        "signature verifies and every chain was compared with it; `unusable`: it cannot be read "
        "or its signature does not verify (then `ok` is false)."
    )
    detail: str
    file: str | None
    created_at: datetime | None
    events: int | None = Field(description="Events in the trail when it was written.")
    chains: int | None


class VerificationReport(Output):
    ok: bool
    events: int
    chains: int
    first_broken: dict[str, Any] | None = Field(
        None,
        description="`chain`, `seq`, `event_id` and `reason`: a changed, missing or reordered "
        "event, a chain behind its checkpoint or gone, or an unusable newest checkpoint "
        "(`chain` null).",
    )
    checkpoint: CheckpointCheck | None = None


class VerificationProgress(Output):
    """A verification run: one at a time re-hashes the whole trail, in the background."""

    id: uuid.UUID
    state: Literal["running", "done", "failed"]
    started_at: datetime
    finished_at: datetime | None
    events_done: int
    events_total: int | None
    error: str | None = Field(description="Why a failed run failed.")


class VerificationRun(VerificationProgress):
    report: VerificationReport | None = Field(description="A finished run's report.")


class VerificationRead(VerificationReport):
    """The newest finished verification, and the run now going if there is one."""

    verified_at: datetime = Field(
        description="When the run that made this report started: the trail as of then."
    )
    run: VerificationProgress = Field(
        description="The run this call started or joined; while it is still `running`, the "
        "report is the previous finished run's."
    )
