"""``SqlView`` (what the one-statement plan read applies in PostgreSQL) and ``View`` (what the
services apply in Python) give the same answer for every side, consent and item there is.

Every combination is evaluated in PostgreSQL in one query over VALUES rows, so a rule changed
in one of the two and not the other fails here.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import String, column, select, values
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncEngine

from carework.access.visibility import SqlView, View
from carework.db.session import make_engine
from carework.vocab import ConsentScope, GoalDomain, Side, Visibility

SIDES = (Side.dps, Side.nav, Side.patient)
CONSENTS = [
    frozenset(c)
    for n in range(3)
    for c in itertools.combinations((ConsentScope.treatment_goals, ConsentScope.treatment_notes), n)
]
DOMAINS = [d.value for d in GoalDomain]


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url, pool_size=1)
    yield engine
    await engine.dispose()


def _consent_rows() -> list[tuple[int, list[str]]]:
    return [(i, sorted(s.value for s in c)) for i, c in enumerate(CONSENTS)]


@pytest.mark.parametrize("side", SIDES, ids=lambda s: s.value)
async def test_goals_notes_and_activities_agree(engine: AsyncEngine, side: Side) -> None:
    goal_cases = list(itertools.product(range(len(CONSENTS)), DOMAINS))
    note_cases = list(
        itertools.product(
            range(len(CONSENTS)), [v.value for v in Visibility], [s.value for s in SIDES], DOMAINS
        )
    )
    activity_cases = list(
        itertools.product(range(len(CONSENTS)), [Side.dps.value, Side.nav.value], [None, *DOMAINS])
    )
    rows = [("goal", c, None, None, d, None) for c, d in goal_cases]
    rows += [("note", c, v, a, d, None) for c, v, a, d in note_cases]
    rows += [("activity", c, None, None, d, r) for c, r, d in activity_cases]

    consent = values(column("cid"), column("scopes", ARRAY(String)), name="consents").data(
        _consent_rows()
    )
    numbered = values(
        column("n"),
        column("kind", String),
        column("cid"),
        column("visibility", String),
        column("author_side", String),
        column("domain", String),
        column("responsible_side", String),
        name="cases",
    ).data([(i, k, c, v or "", a or "", d, r or "") for i, (k, c, v, a, d, r) in enumerate(rows)])
    view = SqlView(side=side, consent=consent.c.scopes)
    stmt = (
        select(
            numbered.c.n,
            view.sees_goal(numbered.c.domain),
            view.sees_note(numbered.c.visibility, numbered.c.author_side, numbered.c.domain),
            view.sees_activity(numbered.c.responsible_side, numbered.c.domain),
        )
        .select_from(numbered.join(consent, consent.c.cid == numbered.c.cid))
        .order_by(numbered.c.n)
    )
    async with engine.connect() as conn:
        answers = (await conn.execute(stmt)).all()
    assert len(answers) == len(rows)

    disagreements = []
    for (kind, cid, visibility, author, domain, responsible), (_, goal, note, activity) in zip(
        rows, answers, strict=True
    ):
        python = View(side=side, consent=CONSENTS[cid])
        if kind == "goal":
            expected, got = python.sees_goal(domain), goal
        elif kind == "note":
            expected, got = python.sees_note(visibility, author, domain), note
        else:
            expected, got = python.sees_activity(responsible, domain), activity
        if bool(got) is not expected:
            disagreements.append((kind, sorted(CONSENTS[cid]), visibility, author, domain,
                                  responsible, expected, got))  # fmt: skip
    assert not disagreements
    # The rules must actually bite for NAV: some items hidden, some shown.
    if side is Side.nav:
        shown = {bool(a[1]) for a in answers}
        assert shown == {True, False}
