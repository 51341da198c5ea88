"""Form posts read into the API's own request schemas, so a form and the API accept the same."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any, TypeVar
from urllib.parse import parse_qs

from fastapi import Request
from pydantic import BaseModel, ValidationError

from carework.errors import RuleViolation
from carework.labels import OSLO
from carework.ui.refill import FormRefused, what_to_do
from carework.versions import Versions, version_of

Form = dict[str, list[str]]
M = TypeVar("M", bound=BaseModel)


async def read_form(request: Request) -> Form:
    body = (await request.body()).decode("utf-8", errors="replace")
    form = parse_qs(body, keep_blank_values=True)
    request.state.form = form  # a refused form is shown again with what was typed
    return form


def one(form: Form, name: str) -> str | None:
    """A field's value; empty means not given."""
    value = form.get(name, [""])[-1].strip()
    return value or None


def filled(form: Form, *names: str) -> dict[str, str | None]:
    """The named fields, empty ones as None (``parse`` leaves those out)."""
    return {name: one(form, name) for name in names}


def parse(model: type[M], data: dict[str, Any]) -> M:
    """A create body from a form: the fields filled in."""
    return parse_sent(model, {k: v for k, v in data.items() if v is not None})


def parse_changes(model: type[M], form: Form, names: tuple[str, ...]) -> M:
    """A PATCH body from a form: the fields the form has (an emptied one as None, so a date
    can be cleared and a required field refused), nothing for the fields it does not have."""
    return parse_sent(model, {name: one(form, name) for name in names if name in form})


def parse_sent(model: type[M], data: dict[str, Any]) -> M:
    """Like ``parse``, but None is sent as None (the service sees which fields were set)."""
    try:
        return model.model_validate(data)
    except ValidationError as refused:
        fields: dict[str, str] = {}
        for error in refused.errors(include_input=False):
            name, text = what_to_do(error)
            fields.setdefault(name, text)
        raise FormRefused("The form has invalid fields.", fields) from None


def form_version(form: Form) -> Versions:
    """The version the page showed is the If-Match: a stale page is refused, not overwritten.
    One no item can have (not a number, too long) is refused the same way (412), never a
    500; none at all is a form this service did not send."""
    version = one(form, "version")
    if version is None:
        raise RuleViolation("The form names no version.")
    named = version_of(version)
    return frozenset() if named is None else frozenset({named})


def form_end_of_day(form: Form, name: str) -> datetime | None:
    """A date field read as "up to and including that day" in Norway (Europe/Oslo), whatever
    the server's zone."""
    value = one(form, name)
    if value is None:
        return None
    try:
        return datetime.combine(date.fromisoformat(value), time(23, 59, 59), tzinfo=OSLO)
    except (ValueError, OverflowError, OSError):  # not a date, or none this clock can place
        raise RuleViolation(f"{name} is not a date.") from None


def cursor_of(request: Request) -> str | None:
    """``?cursor=`` as the service's ``next_cursor`` gave it; the service refuses a bad one."""
    cursor = request.query_params.get("cursor") or None
    if cursor is not None and len(cursor) > 200:
        raise RuleViolation("The cursor is not one this service issued.")
    return cursor
