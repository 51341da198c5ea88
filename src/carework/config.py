"""Settings, read once from the environment (prefix ``CAREWORK_``).

Dev auth (the local dev issuer) is on by default only with the embedded database; with an
external ``DATABASE_URL`` it stays off unless ``CAREWORK_DEV_AUTH=1`` asks for it explicitly.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import platformdirs
from limits import parse
from pydantic import AliasChoices, BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_ISSUER = "carework-dev"
DEFAULT_AUDIENCE = "carework"


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
    def dev_key_file(self) -> Path:
        return self.data_dir / "dev-signing-key.pem"

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

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
