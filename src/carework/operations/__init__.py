"""Operations: liveness and readiness (``health``) and Prometheus metrics (``metrics``), for
orchestrators and monitoring. None of it needs a token or touches patient data."""

from __future__ import annotations

from fastapi import FastAPI

from carework.operations import health, metrics


def install(app: FastAPI) -> None:
    """``/healthz``, ``/readyz``, ``/metrics``, and request metrics for every route."""
    metrics.install(app)
    app.include_router(health.router)
    app.include_router(metrics.router)
