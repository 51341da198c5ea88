"""JSON built by PostgreSQL with a response schema's keys, so schema, OpenAPI document and
query cannot drift apart."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel
from sqlalchemy import ColumnElement, SQLColumnExpression, func, inspect, literal_column
from sqlalchemy.dialects.postgresql import aggregate_order_by

EMPTY_LIST: ColumnElement[Any] = literal_column("'[]'::json")


def columns(model: type[Any]) -> dict[str, ColumnElement[Any]]:
    """A table's columns by attribute name."""
    return {attr.key: attr.expression for attr in inspect(model).column_attrs}


def json_object(schema: type[BaseModel], sources: Mapping[str, Any]) -> ColumnElement[Any]:
    """``json_build_object`` with the schema's keys, in its order, each from ``sources``."""
    args: list[ColumnElement[Any]] = []
    for name in schema.model_fields:
        args += [literal_column(f"'{name}'"), sources[name]]
    return func.json_build_object(*args)


def json_list(item: ColumnElement[Any], *order_by: SQLColumnExpression[Any]) -> ColumnElement[Any]:
    return func.json_agg(aggregate_order_by(item, *order_by))


def list_schema(schema: type[BaseModel], field: str) -> type[BaseModel]:
    """``list[TeamMemberRead]`` → ``TeamMemberRead``."""
    annotation = schema.model_fields[field].annotation
    (item,) = getattr(annotation, "__args__", (None,))
    if not (isinstance(item, type) and issubclass(item, BaseModel)):
        raise TypeError(f"{schema.__name__}.{field} is not a list of models")
    return item
