"""Rendering: the templates, the messages a page shows after a form post, redirects."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request, Response
from fastapi.responses import RedirectResponse
from fastapi.templating import Jinja2Templates

from carework import labels
from carework.auth.principal import Principal
from carework.ui.refill import NOTHING, Refill

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters["label"] = labels.label
templates.env.filters["action"] = labels.action
templates.env.filters["nodate"] = labels.nodate
templates.env.filters["event"] = labels.event

#: What a refused form post says, by the error's slug (only known slugs are shown).
ERRORS: dict[str, str] = {
    "precondition-failed": (
        "Noen andre har endret dette siden du åpnet siden. Du ser nå den nyeste versjonen "
        "- se over og gjør endringen på nytt om den fortsatt trengs."
    ),
    "conflict": "Endringen lar seg ikke gjøre slik planen eller målet står nå.",
    "rule-violation": "Noen av feltene er ikke fylt ut riktig. Sjekk skjemaet og prøv igjen.",
    "plan-full": (
        "Planen har så mange åpne mål eller aktiviteter som den kan ha. Avslutt, avbryt eller "
        "fjern noen før du legger til flere."
    ),
    "forbidden": "Du har ikke tilgang til å gjøre dette.",
    "not-found": "Fant ikke det du lette etter, eller du har ikke tilgang til det.",
    "unauthorized": "Innloggingen ble ikke godtatt. Prøv igjen.",
    "expired": "Økten er utløpt — logg inn igjen.",
    "signed-out": "Du er logget ut. Logg inn igjen for å fortsette.",
}
#: The page shown while the database cannot serve (503).
UNAVAILABLE = "Tjenesten er midlertidig utilgjengelig. Vent litt og prøv igjen."
SAVED: dict[str, str] = {
    "plan": "Planen er opprettet.",
    "goal": "Målet er lagret.",
    "status": "Statusen er oppdatert.",
    "note": "Notatet er lagret.",
    "activity": "Aktiviteten er lagret.",
    "activity_updated": "Aktiviteten er oppdatert.",
    "plan_status": "Planens status er oppdatert.",
    "proposal": "Forslaget er sendt til behandlingsteamet.",
    "consent": "Samtykket er gitt.",
    "recorded": "Samtykket er registrert.",
    "revoked": "Samtykket er trukket tilbake.",
}


def redirect(path: str, **query: str) -> RedirectResponse:
    url = f"{path}?{urlencode(query)}" if query else path
    return RedirectResponse(url, status_code=303)


def page(request: Request, name: str, principal: Principal | None, **context: Any) -> Response:
    query = request.query_params
    message = None
    if query.get("feil") in ERRORS:
        message = {"kind": "error", "text": ERRORS[query["feil"]]}
    elif query.get("ok") in SAVED:
        message = {"kind": "ok", "text": SAVED[query["ok"]]}
    refill: Refill = getattr(request.state, "refill", NOTHING)
    return templates.TemplateResponse(
        request, name, {"principal": principal, "message": message, "refill": refill, **context}
    )


def error_page(
    request: Request, status: int, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    return templates.TemplateResponse(
        request,
        "error.html",
        {"principal": getattr(request.state, "principal", None), "text": message},
        status_code=status,
        headers=headers,
    )


def paged(here: str, cursor: str | None, next_cursor: str | None) -> dict[str, str | None]:
    """The pager's links: the next page, and back to the first once past it."""
    return {
        "next_page": f"{here}?{urlencode({'cursor': next_cursor})}" if next_cursor else None,
        "first_page": here if cursor else None,
    }
