"""The route class of every patient-data router: one request, one unit of work, one audit event.

It wraps FastAPI's handler (dependencies, endpoint, serialisation) so that, in this order:

1. an audit record is opened and domain code can ``touch`` it;
2. the handler runs in a session (``request.state.session``) — services only flush;
3. on success the audit event, and for an idempotent POST the response, are written in the
   same transaction, which commits before the response leaves: a 2xx means it is stored, and
   if the audit write fails the request fails;
4. on any error the work is rolled back, and the refusal or failure is audited in a
   transaction of its own (no unaudited access, not even a denied one);
5. when the database cannot serve (``db.faults``: down, hung, or no free connection in time)
   the answer is ``Unavailable``, a 503 with Retry-After. If the request itself met the fault,
   its work was rolled back (a commit cut off is in doubt) and no event is attempted: it
   would only wait on the same database again. If only the refusal's event could not be
   written, the request is not answered either: a 503, not the 401 or 404 it would have been.

``AudienceRouter`` is the router each audience (``/api/v1/dps``, ``/nav``, ...) is built on;
``RouteTable`` holds the routes several audiences serve alike.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.routing import Match
from starlette.types import Scope

from carework.audit.record import AuditRecord, current
from carework.db.faults import unavailable
from carework.db.session import unit_of_work
from carework.errors import CareworkError
from carework.http import audit
from carework.http.params import IDEMPOTENT
from carework.http.principal import bearer_token, serving, verify_once
from carework.http.responses import PATCH_ERRORS, READ_ERRORS, UNAVAILABLE, WRITE_ERRORS
from carework.idempotency import service as idempotency
from carework.idempotency.sealing import ResponseSeal
from carework.vocab import Role

Handler = Callable[[Request], Coroutine[Any, Any, Response]]

log = logging.getLogger("carework.http.route")


class UnitOfWorkRoute(APIRoute):
    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()
        action = audit.action_of(self.operation_id or self.path)

        async def run(request: Request) -> Response:
            sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
            record = audit.open_record(request, action)
            current.set(record)
            try:
                async with unit_of_work(sessionmaker) as session:
                    request.state.session = session
                    key = request.headers.get("idempotency-key")
                    if key is not None and request.method == "POST":
                        response = await _idempotent(request, session, handler, key, record)
                    else:
                        response = await handler(request)
                    await audit.close_allowed(session, request, record, response.status_code)
                return response
            except BaseException as exc:
                cause, fault = exc, unavailable(exc)
                if fault is None:
                    try:
                        await audit.close_refused(sessionmaker, request, record, exc)
                    except BaseException as failed:
                        # An attempt that cannot be audited is not answered, whatever its token.
                        cause, fault = failed, unavailable(failed)
                        if fault is None:
                            raise
                if fault is not None:
                    # One line, no traceback: an outage makes one for every request.
                    log.warning("503, database unavailable: %s", _summary(cause))
                    raise fault from cause
                raise
            finally:
                current.set(None)

        return run


def _summary(error: BaseException) -> str:
    """The error's class and first line (SQL text at most: parameters are hidden)."""
    text = str(error).partition("\n")[0][:200]
    return f"{type(error).__name__}: {text}"


async def _idempotent(
    request: Request, session: AsyncSession, handler: Handler, key: str, record: AuditRecord
) -> Response:
    token = bearer_token(request.scope)
    try:
        principal = await verify_once(request.scope, token) if token else None
    except CareworkError:
        principal = None
    if principal is None:  # the handler refuses it, as it would without a key
        return await handler(request)
    seal: ResponseSeal = request.app.state.idempotency_seal
    owner, key = idempotency.owner_of(principal), idempotency.check_key(key)
    print_ = seal.fingerprint(request.method, request.url.path, await request.body())
    stored = await idempotency.claim(session, seal, owner, key, print_)
    if stored is not None:
        # A replayed answer still shows patient data: it is audited like the first one.
        request.state.principal = principal
        record.action, record.plan_id = f"{record.action}.replayed", stored.plan_id
        headers = {**stored.headers, "Idempotent-Replayed": "true"}
        return Response(stored.body, status_code=stored.status, headers=headers)
    response = await handler(request)
    if response.status_code < 300:
        headers = {
            name: value
            for name, value in response.headers.items()
            if name in idempotency.REPLAYED_HEADERS
        }
        await idempotency.store(
            session, seal, owner, key, response.status_code, headers, bytes(response.body),
            record.plan_id,
        )  # fmt: skip
    return response


class AudienceRouter(APIRouter):
    """The router of one audience (``/api/v1/nav``): every route runs as a unit of work, and
    the roles the audience serves are checked for all of them, before anything else, so no
    route can be added without it.

    A request outside the prefix is not tried against each of its routes. FastAPI tries every
    route of every included router in turn, twice per request (to match, then to handle);
    before this a NAV plan read was held against all of DPS's routes first, 0.2 ms of the NAV
    view's cost (``bench/``)."""

    def __init__(self, *, prefix: str, tag: str, roles: tuple[Role, ...]) -> None:
        super().__init__(
            prefix=prefix, tags=[tag], route_class=UnitOfWorkRoute,
            dependencies=[serving(*roles)], responses=UNAVAILABLE,
        )  # fmt: skip
        self.roles = roles

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        path: str = scope["path"]
        root: str = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        if path != self.prefix and not path.startswith(f"{self.prefix}/"):
            return Match.NONE, {}
        return super().matches(scope)


F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class _Route:
    method: str
    path: str
    endpoint: Callable[..., Any]
    options: dict[str, Any]


class RouteTable:
    """Routes several audiences serve alike (DPS and NAV share the plan routes), each handler
    written once at module level. Every audience mounts the table on its own router, under its
    own operation ids (``dps_read_plan``, ``nav_read_plan``) and, where the views differ, its
    own response model (``response_model={"dps": DpsPlanRead, "nav": NavPlanRead}``)."""

    def __init__(self, *, shared: bool = True) -> None:
        #: Shared routes take the audience in their operation ids; one audience's routes
        #: (``shared=False``) are named by their handlers alone (``patient_read_plan``).
        self.shared = shared
        self._routes: list[_Route] = []

    def route(self, method: str, path: str, **options: Any) -> Callable[[F], F]:
        def register(endpoint: F) -> F:
            self._routes.append(_Route(method, path, endpoint, options))
            return endpoint

        return register

    def read(self, path: str, model: Any, summary: str, **options: Any) -> Callable[[F], F]:
        """A GET of patient data: 401, 403, 404 and 422 as problems."""
        return self.route(
            "GET", path, response_model=model, responses=READ_ERRORS, summary=summary, **options
        )

    def create(self, path: str, model: Any, summary: str, **options: Any) -> Callable[[F], F]:
        """A POST that creates (201), retry-safe with Idempotency-Key."""
        return self.route(
            "POST", path, status_code=201, response_model=model, dependencies=IDEMPOTENT,
            responses=WRITE_ERRORS, summary=summary, **options,
        )  # fmt: skip

    def change(self, path: str, model: Any, summary: str, **options: Any) -> Callable[[F], F]:
        """A PATCH: If-Match (428, 412), and what a write may meet."""
        return self.route(
            "PATCH", path, response_model=model, responses=PATCH_ERRORS, summary=summary, **options
        )

    def get(self, path: str, **options: Any) -> Callable[[F], F]:
        return self.route("GET", path, **options)

    def post(self, path: str, **options: Any) -> Callable[[F], F]:
        return self.route("POST", path, **options)

    def put(self, path: str, **options: Any) -> Callable[[F], F]:
        return self.route("PUT", path, **options)

    def delete(self, path: str, **options: Any) -> Callable[[F], F]:
        return self.route("DELETE", path, **options)

    def mount(self, router: APIRouter, audience: str) -> None:
        for route in self._routes:
            options = dict(route.options)
            model = options.get("response_model")
            if isinstance(model, Mapping):
                options["response_model"] = model[audience]
            router.add_api_route(
                route.path,
                route.endpoint,
                methods=[route.method],
                operation_id=(
                    f"{audience}_{route.endpoint.__name__}"
                    if self.shared
                    else route.endpoint.__name__
                ),
                **options,
            )
