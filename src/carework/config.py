"""Settings, read once from the environment (prefix ``CAREWORK_``).

Dev auth (the local dev issuer) is on by default only with the embedded database; with an
external ``DATABASE_URL`` it stays off unless ``CAREWORK_DEV_AUTH=1`` asks for it explicitly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import platformdirs
from limits import parse
from pydantic import AliasChoices, BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_ISSUER = "carework-dev"
DEFAULT_AUDIENCE = "carework"

_KEYWORD_SOURCES = frozenset({"'none'", "'self'"})
#: An origin (http or https; a host, or ``*.`` and a domain), with an optional port, and no path.
_FRAME_ORIGIN = re.compile(r"https?://(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:\d{1,5})?")
# How long a request may wait on the database, by default (``CAREWORK_DB_*``; also
# ``db.session.make_engine``'s defaults). Past a limit the answer is 503 with Retry-After.
DB_POOL_SIZE = 10
DB_MAX_OVERFLOW = 10
#: For a pooled connection when all are in use (SQLAlchemy's own default is 30 s).
DB_POOL_TIMEOUT_SECONDS = 5.0
#: To open a connection (asyncpg's own default is 60 s).
DB_CONNECT_TIMEOUT_SECONDS = 5.0
#: For one statement, lock waits included (asyncpg's own default: forever). A request's
#: statements take milliseconds (read p99 about 30 ms under ``bench/``'s load); the longest
#: carework runs, one 10,000-event page of ``audit verify``, under 0.5 s (1.2 M events in
#: 53-61 s, hashing included). 10 s leaves those 20 times and more, and is the longest a hung
#: database (packets lost, no reset) holds a request.
DB_COMMAND_TIMEOUT_SECONDS = 10.0


class TrustedIssuer(BaseModel):
    """A production identity provider whose tokens carework accepts."""

    issuer: str
    audience: str = DEFAULT_AUDIENCE
    jwks_url: str | None = None
    public_key_file: Path | None = None

    @model_validator(mode="after")
    def _one_key_source(self) -> TrustedIssuer:
        if (self.jwks_url is None) == (self.public_key_file is None):
            raise ValueError("give exactly one of jwks_url and public_key_file")
        return self


@dataclass(frozen=True, slots=True)
class PlanLimits:
    """How many open goals and activities one plan may hold: far above any real plan (the
    largest seen in use had a few dozen), low enough that no plan grows without end. A plan
    of 640 goals answered its view in 785 KB."""

    open_goals: int = 100
    open_activities: int = 300


DEFAULT_PLAN_LIMITS = PlanLimits()


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("carework"))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CAREWORK_", extra="ignore")

    database_url: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "CAREWORK_DATABASE_URL"),
    )
    data_dir: Path = Field(default_factory=default_data_dir)
    dev_auth: bool | None = None
    # Set by `carework serve` for its workers: the URL names the embedded server it owns.
    database_is_embedded: bool = False
    issuers: list[TrustedIssuer] = Field(default_factory=list)
    # A single production issuer may also be given in flat variables.
    jwt_issuer: str | None = None
    jwt_audience: str = DEFAULT_AUDIENCE
    jwt_jwks_url: str | None = None
    jwt_public_key_file: Path | None = None
    max_body_bytes: int = 1024 * 1024
    log_level: str = "INFO"
    # Stored idempotent answers: sealed with the key in this file (every replica the same),
    # and purged once expired by a job in every server process (0 turns it off).
    idempotency_key_file: Path | None = None
    idempotency_purge_interval_seconds: float = 600
    #: Seconds between purges of page sign-outs whose tokens have expired (0 turns it off).
    ui_signout_purge_interval_seconds: float = 600
    max_open_goals: int = Field(default=DEFAULT_PLAN_LIMITS.open_goals, ge=1)
    max_open_activities: int = Field(default=DEFAULT_PLAN_LIMITS.open_activities, ge=1)
    #: Who may show ``/ui`` in a frame: CSP ``frame-ancestors`` sources, space-separated
    #: (``'none'``, ``'self'``, or origins such as ``https://ehr.example.no``, ``https://*.example.no``).
    frame_ancestors: str = "'none'"

    @field_validator("frame_ancestors")
    @classmethod
    def _frame_sources(cls, value: str) -> str:
        """Each word one CSP source: nothing that could end the directive or start another."""
        sources = value.split()
        if not sources:
            raise ValueError("give 'none', 'self' or one or more origins")
        for source in sources:
            if source not in _KEYWORD_SOURCES and not _FRAME_ORIGIN.fullmatch(source):
                raise ValueError(f"not a frame-ancestors source: {source!r}")
        if "'none'" in sources and len(sources) > 1:
            raise ValueError("'none' stands alone")
        return " ".join(sources)

    db_pool_size: int = Field(default=DB_POOL_SIZE, ge=1)
    db_max_overflow: int = Field(default=DB_MAX_OVERFLOW, ge=0)
    db_pool_timeout_seconds: float = Field(default=DB_POOL_TIMEOUT_SECONDS, gt=0)
    db_connect_timeout_seconds: float = Field(default=DB_CONNECT_TIMEOUT_SECONDS, gt=0)
    db_command_timeout_seconds: float = Field(default=DB_COMMAND_TIMEOUT_SECONDS, gt=0)
    # On SIGTERM, how long each server process lets requests in flight finish before it
    # cancels them (uvicorn's timeout_graceful_shutdown). Keep it below the orchestrator's
    # grace period (Kubernetes: terminationGracePeriodSeconds, default 30).
    shutdown_timeout_seconds: int = Field(default=20, ge=0)
    # Audit checkpoints live outside the database (see ``audit.checkpoint``); unset: in the
    # data dir. Put them, and the key, on another host in production.
    audit_checkpoint_dir: Path | None = None
    audit_checkpoint_key_file: Path | None = None
    #: Seconds between the checkpoints the service writes; 0 turns them off.
    audit_checkpoint_interval_seconds: float = Field(default=300.0, ge=0)
    # Rate limits (``http.rate_limit``), in the ``limits`` notation ("1200/minute", "50/second").
    # Per caller (role and ``sub`` of a valid token): a busy clinician's pages make a few
    # requests a second at most; an EHR integration is one ``sub`` and may burst (a sliding
    # window allows the whole amount at once, then the rate). Raise it per deployment.
    rate_limit: str = "1200/minute"
    #: Per client address (IPv6 by /64) for requests without a valid token.
    anon_rate_limit: str = "120/minute"
    #: A ``limits`` storage URI (``redis://host:6379``) for one count across processes and
    #: replicas; unset, each server process counts on its own.
    rate_limit_storage: str | None = None
    #: Repeated anonymous refusals (401) and 429s are written to the trail as one event per
    #: client and window, with their count (``audit.refusals``); 0 writes each on its own.
    refusal_window_seconds: float = Field(default=60.0, ge=0)
    #: A connection must complete its request's headers within this many seconds of opening
    #: (or of its previous response), else it is closed (``http.server``).
    header_timeout_seconds: float = Field(default=10.0, gt=0)
    #: A request's body must arrive within this many seconds of its headers, else 408.
    body_timeout_seconds: float = Field(default=30.0, gt=0)
    #: An idle keep-alive connection is closed after this many seconds (uvicorn's own timer).
    keep_alive_seconds: int = Field(default=5, gt=0)

    @field_validator("rate_limit", "anon_rate_limit")
    @classmethod
    def _a_rate(cls, value: str) -> str:
        parse(value)  # "1200/minute"; raises ValueError on anything else
        return value

    @property
    def embedded(self) -> bool:
        return self.database_url is None or self.database_is_embedded

    @property
    def dev_auth_enabled(self) -> bool:
        return self.embedded if self.dev_auth is None else self.dev_auth

    @property
    def plan_limits(self) -> PlanLimits:
        return PlanLimits(self.max_open_goals, self.max_open_activities)

    @property
    def idempotency_key_path(self) -> Path:
        return self.idempotency_key_file or self.data_dir / "idempotency-key"

    @property
    def dev_key_file(self) -> Path:
        return self.data_dir / "dev-signing-key.pem"

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    @property
    def checkpoint_dir(self) -> Path:
        return self.audit_checkpoint_dir or self.data_dir / "audit-checkpoints"

    @property
    def checkpoint_key_file(self) -> Path:
        return self.audit_checkpoint_key_file or self.data_dir / "audit-checkpoint-key.pem"

    def trusted_issuers(self) -> list[TrustedIssuer]:
        issuers = list(self.issuers)
        if self.jwt_issuer:
            issuers.append(
                TrustedIssuer(
                    issuer=self.jwt_issuer,
                    audience=self.jwt_audience,
                    jwks_url=self.jwt_jwks_url,
                    public_key_file=self.jwt_public_key_file,
                )
            )
        return issuers


@lru_cache
def get_settings() -> Settings:
    return Settings()
