"""Errors under ``/ui`` as pages, not problem+json: a browser shows JSON as raw text.

FastAPI's own refusals — an unknown ``/ui`` address, a method the page does not take, a path
id that is not one — happen before any page runs, so ``route.UiRoute`` never sees them; these
handlers wrap the API's (``http.problem``) and answer with a page for ``/ui`` only. ``/`` sends
a browser to the pages.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from carework.ui.pages import ERRORS, error_page, redirect

Handler = Callable[[Request, Exception], Awaitable[Response]]

NOT_FOUND = "Siden finnes ikke. Sjekk adressen, eller gå til forsiden."
#: What each status says when FastAPI refuses before a page runs.
MESSAGES: dict[int, str] = {
    404: NOT_FOUND,
    405: "Denne siden kan ikke brukes slik. Gå tilbake og prøv igjen.",
    413: "Skjemaet er for stort til å sendes. Gjør teksten kortere.",
}


def is_page(request: Request) -> bool:
    path = request.url.path
    return path == "/ui" or path.startswith("/ui/")


def _wrap(app: FastAPI, error: type[Exception], page: Handler) -> None:
    api: Any = app.exception_handlers[error]  # http.problem's: async, answering problem+json

    async def handle(request: Request, exc: Exception) -> Response:
        if is_page(request):
            return await page(request, exc)
        answer: Response = await api(request, exc)
        return answer

    app.add_exception_handler(error, handle)


async def _http_page(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    text = MESSAGES.get(exc.status_code, ERRORS.get("rule-violation", "Noe gikk galt."))
    return error_page(request, exc.status_code, text, headers=exc.headers)


async def _invalid_path_page(request: Request, exc: Exception) -> Response:
    """A path id that is not one (``/ui/plans/abc``): no such page."""
    return error_page(request, 404, NOT_FOUND)


async def _home(request: Request) -> Response:
    return redirect("/ui/")


def install(app: FastAPI) -> None:
    """After ``http.problem.install_problem_handlers``: the API's handlers stay for the API."""
    _wrap(app, StarletteHTTPException, _http_page)
    _wrap(app, RequestValidationError, _invalid_path_page)
    app.add_route("/", _home, methods=["GET", "HEAD"], include_in_schema=False)
