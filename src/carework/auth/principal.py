"""Who is calling, as the verified token says; built once per request."""

from __future__ import annotations

from dataclasses import dataclass

from carework.vocab import Role


@dataclass(frozen=True, slots=True)
class Principal:
    sub: str
    name: str
    role: Role
    org: str | None
    pid: str | None  # the patient's own national id; never logged

    def __repr__(self) -> str:  # keep pid out of any accidental log line
        return f"Principal(sub={self.sub!r}, role={self.role.value!r}, org={self.org!r})"
