"""Structured logs: one JSON object per line on stderr, whoever writes the line.

carework's structlog loggers and every standard-library logger (uvicorn, SQLAlchemy, Alembic,
carework's own ``logging.getLogger`` calls) end in one ``structlog.stdlib.ProcessorFormatter``, so
each line has the same keys: ``timestamp`` (ISO 8601, UTC), ``level``, ``logger``, ``event``, and
the context bound for the request — ``request_id``, bound by ``RequestIdMiddleware`` with
``structlog.contextvars``. The access line per request is ``carework.access`` (uvicorn's own
access log is off: it would print the query string).

What stays out of the logs — national ids, note texts, bodies, headers, query strings — is kept
out by not handing it to a logger, not by scrubbing afterwards: the access line names the route
template, SQLAlchemy hides parameters and drops result rows, problem details drop pydantic's echo
of the input, and tracebacks are rendered without local variables (structlog's and rich's
defaults would print them). ``tests/test_logging.py`` runs a full scenario and looks.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

__all__ = ["HANDLER_NAME", "configure_logging", "make_formatter", "remember_request_id"]

HANDLER_NAME = "carework"
_REQUEST_ID_ATTR = "carework_request_id"


def remember_request_id(exc: BaseException, request_id: str) -> None:
    """Tag an exception escaping a request with its id.

    The server logs such an exception after the request's context has been left (uvicorn's
    "Exception in ASGI application"); the tag lets that line carry the request id too.
    """
    # An exception type that refuses attributes just goes without.
    with contextlib.suppress(AttributeError):
        setattr(exc, _REQUEST_ID_ATTR, request_id)


def _request_id_of_exception(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    exc_info = event_dict.get("exc_info")
    if "request_id" not in event_dict and isinstance(exc_info, tuple):
        request_id = getattr(exc_info[1], _REQUEST_ID_ATTR, None)
        if request_id is not None:
            event_dict["request_id"] = request_id
    return event_dict


# Not extras, though ExtraAdder takes them for such: uvicorn's ANSI-coloured copy of a message,
# and what another handler's ``logging.Formatter`` leaves on the record it formatted first.
_NOT_EXTRA = ("color_message", "message", "asctime")


def _drop_not_extra(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    for key in _NOT_EXTRA:
        event_dict.pop(key, None)
    return event_dict


#: Eleven digits (optionally ``DDMMYY NNNNN``) standing alone: the shape of a national id.
# Bounded by non-alphanumerics, so digits inside a hex request id or a UUID are left alone.
_NATIONAL_ID = re.compile(r"(?<![0-9A-Za-z])\d{6}\s?\d{5}(?![0-9A-Za-z])")


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return _NATIONAL_ID.sub("[national-id]", value)
    if isinstance(value, dict):
        return {key: _scrub(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(item) for item in value]
    return value


def redact_national_ids(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """The last line of defence: carework never logs a national id on purpose, but a driver's
    error text (``Key (nid)=(...)``) or a library's message could carry one."""
    return {key: _scrub(value) for key, value in event_dict.items()}


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def make_formatter(*, json: bool = True) -> structlog.stdlib.ProcessorFormatter:
    """The formatter every carework handler uses: JSON lines, or aligned text for a terminal."""
    renderer: Processor
    if json:
        # One line per event: the traceback becomes a list of frames, without their locals.
        tracebacks: Processor = structlog.processors.ExceptionRenderer(
            structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
        )
        renderer = structlog.processors.JSONRenderer()
    else:
        tracebacks = structlog.processors.StackInfoRenderer()
        renderer = structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    return structlog.stdlib.ProcessorFormatter(
        # Records from the standard library's loggers get the same keys as structlog's own.
        foreign_pre_chain=[
            *_shared_processors(),
            structlog.stdlib.ExtraAdder(),
            _drop_not_extra,
            _request_id_of_exception,
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            tracebacks,
            redact_national_ids,
            renderer,
        ],
    )


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is when a record arrives (as ``logging.lastResort``).

    A handler that kept the stream it was created with would write to a closed file once a test
    runner that swapped ``sys.stderr`` puts it back.
    """

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _: Any) -> None:
        pass


def configure_logging(level: str = "INFO", *, json: bool = True) -> None:
    """Send structlog and standard-library logging through one formatter to stderr.

    Idempotent: calling it again (the app factory does, in every uvicorn worker process)
    replaces carework's handler instead of adding a second one. Handlers others put on the root
    logger (a test runner's) are left alone.
    """
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared_processors(),
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = _StderrHandler()
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(make_formatter(json=json))
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Python's warnings become log lines too, instead of bare text on stderr.
    logging.captureWarnings(True)
