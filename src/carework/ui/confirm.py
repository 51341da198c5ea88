"""Final moves are confirmed on a page of their own before they are made.

Closing a plan or marking a goal achieved cannot be undone, so a form that asks for one first
answers with a page saying what will happen, carrying the same fields back with ``confirm=ja``.
No script: the step works under the pages' CSP and without JavaScript.
"""

from __future__ import annotations

from collections.abc import Collection

from fastapi import Request, Response

from carework.auth.principal import Principal
from carework.ui.forms import Form, one
from carework.ui.pages import page

CONFIRMED = "ja"


def needs_confirming(form: Form, final: Collection[str]) -> bool:
    """A move to a final status that the person has not yet confirmed (a form that shows the
    current status in ``current_status`` asks only when the status changes)."""
    status = one(form, "status")
    return (
        status in final
        and status != one(form, "current_status")
        and one(form, "confirm") != CONFIRMED
    )


def confirm_page(
    request: Request, principal: Principal, form: Form, *, what: str, back: str
) -> Response:
    """The confirmation step: ``what`` says what the move does, in words; the fields posted
    go back unchanged to the same address."""
    fields = [(name, v) for name, values in form.items() if name != "confirm" for v in values]
    return page(
        request, "confirm.html", principal,
        action=request.url.path, fields=fields, what=what, status=one(form, "status"), back=back,
    )  # fmt: skip
