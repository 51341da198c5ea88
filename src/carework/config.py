"""Settings, read once from the environment (prefix ``CAREWORK_``).

Dev auth (the local dev issuer) is on by default only with the embedded database; with an
external ``DATABASE_URL`` it stays off unless ``CAREWORK_DEV_AUTH=1`` asks for it explicitly.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import platformdirs
from pydantic import AliasChoices, BaseModel, Field, SecretStr, model_validator
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
    # Audit checkpoints live outside the database (see ``audit.checkpoint``); unset: in the
    # data dir. Put them, and the key, on another host in production.
    audit_checkpoint_dir: Path | None = None
    audit_checkpoint_key_file: Path | None = None
    #: Seconds between the checkpoints the service writes; 0 turns them off.
    audit_checkpoint_interval_seconds: float = Field(default=300.0, ge=0)

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
