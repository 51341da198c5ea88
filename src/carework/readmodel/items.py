"""Goals and activities as JSON, with what they show beyond their columns: the notes the
caller may see, who agreed, who has seen which version, and whose move it is."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    SQLColumnExpression,
    String,
    case,
    cast,
    func,
    literal_column,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by

from carework.access.visibility import SqlView, in_use
from carework.models.activity import Activity
from carework.models.agreement import Agreement
from carework.models.goal import Goal
from carework.models.note import Note
from carework.models.receipt import ItemSeen
from carework.readmodel.json import EMPTY_LIST, columns, json_list, json_object
from carework.readmodel.schemas import ActivityRead, AgreementRead, GoalRead, NoteRead, SeenRead
from carework.vocab import GoalStatus

#: The notes a goal carries in a plan view (and a goal read): the newest, the rest paged.
NOTES_IN_VIEW = 20

PARTIES: ColumnElement[Any] = literal_column("ARRAY['patient', 'dps', 'nav']::varchar[]")


def _agreed_by(item_id: SQLColumnExpression[Any]) -> ColumnElement[Any]:
    agreement = json_object(
        AgreementRead,
        {"party": Agreement.party, "name": Agreement.agreed_by_name,
         "version": Agreement.item_version, "at": Agreement.agreed_at},
    )  # fmt: skip
    found = (
        select(json_list(agreement, Agreement.agreed_at, Agreement.party))
        .where(Agreement.item_id == item_id)
        .correlate_except(Agreement)
        .scalar_subquery()
    )
    return func.coalesce(found, EMPTY_LIST)


def _seen_by(item_id: SQLColumnExpression[Any]) -> ColumnElement[Any]:
    seen = json_object(
        SeenRead, {"party": ItemSeen.party, "version": ItemSeen.version, "at": ItemSeen.seen_at}
    )
    found = (
        select(json_list(seen, ItemSeen.seen_at, ItemSeen.party))
        .where(ItemSeen.item_id == item_id)
        .correlate_except(ItemSeen)
        .scalar_subquery()
    )
    return func.coalesce(found, EMPTY_LIST)


def _not_agreed(item_id: SQLColumnExpression[Any]) -> ColumnElement[Any]:
    """The parties that have not agreed to the item, in the order patient, DPS, NAV.
    (Correlated explicitly: inside ``UPDATE ... RETURNING`` auto-correlation would not reach
    the updated row, and ``array_agg`` keeps no order unless told.)"""
    party = func.unnest(PARTIES).table_valued("party", with_ordinality="n").render_derived()
    agreed = (
        select(Agreement.id)
        .where(Agreement.item_id == item_id, Agreement.party == party.c.party)
        .correlate_except(Agreement)
        .exists()
    )
    missing = (
        select(func.array_agg(aggregate_order_by(party.c.party, party.c.n)))
        .select_from(party)
        .where(~agreed)
        .correlate_except(Agreement)
        .scalar_subquery()
    )
    return func.coalesce(missing, cast(literal_column("'{}'"), ARRAY(String)))


def _waiting_for_goal() -> ColumnElement[Any]:
    """A proposal waits for the owning side; anything else for the parties yet to agree."""
    owner_only = func.array(select(Goal.owner_side).correlate(Goal).scalar_subquery())
    return func.to_json(
        case((Goal.status == GoalStatus.proposed.value, owner_only), else_=_not_agreed(Goal.id))
    )


def _extras(item_id: SQLColumnExpression[Any]) -> dict[str, ColumnElement[Any]]:
    return {"agreed_by": _agreed_by(item_id), "seen_by": _seen_by(item_id)}


def _notes(view: SqlView) -> dict[str, ColumnElement[Any]]:
    """The newest ``NOTES_IN_VIEW`` notes on the goal (``Goal``, correlated) that ``view`` may
    see, oldest first as ever, and how many it may see in all.

    A goal collects notes without end (one had 1,669, and its plan view was 785 KB): the view
    carries the newest few, ``notes_total`` says how many more there are, and
    ``GET .../goals/{goal_id}/notes`` pages them all."""
    seen = (
        Note.goal_id == Goal.id,
        in_use(Note),
        view.sees_note(Note.visibility, Note.author_side, Goal.domain),
    )
    newest = (
        select(*(Note.__table__.c[name] for name in NoteRead.model_fields))
        .where(*seen)
        .order_by(Note.created_at.desc(), Note.id.desc())
        .limit(NOTES_IN_VIEW)
        .correlate_except(Note)
        .subquery("newest_note")
    )
    note = json_object(NoteRead, {name: newest.c[name] for name in NoteRead.model_fields})
    notes = select(json_list(note, newest.c.created_at, newest.c.id)).scalar_subquery()
    total = select(func.count()).select_from(Note).where(*seen).correlate_except(Note)
    return {"notes": func.coalesce(notes, EMPTY_LIST), "notes_total": total.scalar_subquery()}


def goal_object(view: SqlView) -> ColumnElement[Any]:
    """One goal (``Goal``, correlated) as ``GoalRead``, with the newest notes ``view`` may
    see."""
    extras = _extras(Goal.id) | _notes(view) | {"waiting_for": _waiting_for_goal()}
    return json_object(GoalRead, columns(Goal) | extras)


def activity_object() -> ColumnElement[Any]:
    """One activity (``Activity``, correlated) as ``ActivityRead``."""
    extras = _extras(Activity.id) | {
        "start": Activity.start_date,
        "end": Activity.end_date,
        "waiting_for": func.to_json(_not_agreed(Activity.id)),
    }
    return json_object(ActivityRead, columns(Activity) | extras)
