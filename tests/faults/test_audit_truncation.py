"""A trail cut back inside the database is found against the checkpoints kept outside it.

Issue #14: delete a chain's newest events and set its head back, or delete a chain with its
head, and every link that is left still verifies; ``audit verify`` said ok. Each case here does
that as a superuser would, on a database of its own, shows that the links alone cannot tell
(``chain.verify`` without checkpoints says ok), and then that ``carework audit verify`` and
``GET /api/v1/audit/verify`` both report ok: false, naming the chain.

The checkpoints themselves: a forged or edited newest checkpoint, a missing key, and what
deleting the newest checkpoint does (it rolls the anchor back to the one before: a cut that
reaches below that one is still found, one above it no longer is; hence WORM storage), and a
chain rewritten with every hash recomputed, which the checkpoint's hash shows.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from carework.audit import chain, checkpoint
from carework.audit.chain import event_hash
from carework.db.embedded import EmbeddedPostgres
from tests.factories import TokenMaker
from tests.faults.trail import Trail, own_trail

pytestmark = [pytest.mark.faults, pytest.mark.live]

BEHIND = "the chain is behind its checkpoint"
GONE = "the chain is gone"


@pytest.fixture
async def trail(
    embedded_pg: EmbeddedPostgres, data_dir: Path, tokens: TokenMaker, tmp_path: Path
) -> AsyncIterator[Trail]:
    url = embedded_pg.create_database("cw_faults_truncation")
    async with own_trail(url, data_dir, tokens, tmp_path) as t:
        await t.seed()
        await t.refuse_on("shared-3", 5)
        yield t


async def links_alone(trail: Trail) -> chain.Verification:
    """What verification without checkpoints (the old ``audit verify``) makes of the trail."""
    async with trail.app.state.sessionmaker() as session:
        return await chain.verify(session)


async def assert_intact(trail: Trail, written: dict[str, Any]) -> None:
    api, cli = await trail.verify_both()
    assert api["ok"] is True, api
    assert api["checkpoint"]["state"] == cli["checkpoint"]["state"] == "checked", api
    assert api["checkpoint"]["file"] == written["file"]
    assert api["checkpoint"]["chains"] == written["chains"]


async def assert_broken(trail: Trail, where: dict[str, Any]) -> dict[str, Any]:
    api, cli = await trail.verify_both()
    assert api["ok"] is False, api
    assert api["first_broken"] == {"event_id": None, **where}, api
    assert cli["first_broken"] == {"event_id": None, **where}, cli
    return api


@pytest.mark.parametrize("which", ["a plan's chain", "a shared chain"])
async def test_a_chain_cut_back_with_its_head_rewound_is_found(trail: Trail, which: str) -> None:
    cut = trail.plans[1] if which == "a plan's chain" else "shared-3"
    written = await trail.checkpoint()
    anchored = written["heads"][cut]
    assert anchored >= 4
    await assert_intact(trail, written)

    await trail.cut_back(cut, keep=anchored - 2)

    assert (await links_alone(trail)).ok is True  # every link left verifies: issue #14
    await assert_broken(trail, {"chain": cut, "seq": anchored, "reason": BEHIND})


async def test_a_chain_deleted_with_its_head_is_found(trail: Trail) -> None:
    gone = trail.plans[0]
    written = await trail.checkpoint()
    await assert_intact(trail, written)

    await trail.drop_chain(gone)

    assert await trail.head(gone) is None
    assert (await links_alone(trail)).ok is True
    await assert_broken(trail, {"chain": gone, "seq": written["heads"][gone], "reason": GONE})


async def test_a_chain_rewritten_with_every_hash_recomputed_is_found(trail: Trail) -> None:
    """Who can rewrite both tables and recompute every hash forges a chain whose links all
    verify; the checkpoint still holds the hash the real chain had."""
    forged = trail.plans[2]
    written = await trail.checkpoint()
    await assert_intact(trail, written)
    events = await trail.sql("SELECT * FROM audit_event WHERE chain = :c ORDER BY seq", c=forged)
    prev = events[0]["hash"]
    for event in events[1:]:
        if event["seq"] == 2:
            event["actor_name"] = "Someone Else"
        event["prev_hash"] = prev
        event["hash"] = prev = event_hash(prev, event)
        await trail.sql(
            "UPDATE audit_event SET actor_name = :n, prev_hash = :p, hash = :h WHERE id = :id",
            n=event["actor_name"], p=event["prev_hash"], h=event["hash"], id=event["id"],
        )  # fmt: skip
    await trail.sql("UPDATE audit_chain_head SET hash = :h WHERE chain = :c", h=prev, c=forged)

    assert (await links_alone(trail)).ok is True
    at = written["heads"][forged]
    api, _ = await trail.verify_both()  # the command line says the same
    assert api["ok"] is False, api
    assert api["first_broken"] == {
        "chain": forged, "seq": at, "event_id": str(events[at - 1]["id"]),
        "reason": "the chain differs from its checkpoint",
    }  # fmt: skip


async def test_the_trail_may_grow_past_its_checkpoint(trail: Trail) -> None:
    written = await trail.checkpoint()
    for plan in trail.plans:
        await trail.use(plan)
    api, _ = await trail.verify_both()
    assert api["ok"] is True, api
    assert api["events"] > written["events"]


def _forge_with_another_key(trail: Trail, newest: Path, cut: checkpoint.Checkpoint) -> str:
    """A checkpoint of the cut trail, newer than ours, signed with the intruder's own key."""
    forged = checkpoint.Location(trail.checkpoints, newest.parent.parent / "intruder-key.pem")
    return checkpoint.write(cut, forged).name


def _edit_in_place(trail: Trail, newest: Path, cut: checkpoint.Checkpoint) -> str:
    """Our own newest checkpoint, its seq lowered to match the cut."""
    document = json.loads(newest.read_text())
    document["payload"]["chains"][trail.plans[1]][0] -= 2
    newest.write_text(json.dumps(document))
    return newest.name


def _garbage(trail: Trail, newest: Path, cut: checkpoint.Checkpoint) -> str:
    """A newer file that is no checkpoint at all (a truncated copy, say)."""
    later = newest.with_name(newest.name.replace("checkpoint-2", "checkpoint-3", 1))
    later.write_bytes(newest.read_bytes()[:100])
    return later.name


def _remove_the_key(trail: Trail, newest: Path, cut: checkpoint.Checkpoint) -> str:
    trail.key_file.unlink()
    return newest.name


#: Does it, given our newest checkpoint and a snapshot of the cut trail; names the newest file.
Forgery = Callable[[Trail, Path, checkpoint.Checkpoint], str]
FORGERIES: dict[str, tuple[Forgery, str]] = {
    "a newer checkpoint signed with another key": (
        _forge_with_another_key, "the newest checkpoint's signature does not verify"),
    "the newest checkpoint edited in place": (
        _edit_in_place, "the newest checkpoint's signature does not verify"),
    "a newer file that is no checkpoint": (_garbage, "the newest checkpoint cannot be read"),
    "the key removed": (
        _remove_the_key,
        "the checkpoint key is missing or unreadable, so the newest checkpoint cannot be checked"),
}  # fmt: skip


@pytest.mark.parametrize("name", list(FORGERIES))
async def test_a_newest_checkpoint_that_cannot_be_trusted_is_reported(
    trail: Trail, name: str
) -> None:
    forge, reason = FORGERIES[name]
    written = await trail.checkpoint()
    await assert_intact(trail, written)
    await trail.cut_back(trail.plans[1], keep=written["heads"][trail.plans[1]] - 2)

    cut = await checkpoint.snapshot(trail.app.state.sessionmaker)

    named = forge(trail, trail.checkpoints / written["file"], cut)

    api = await assert_broken(trail, {"chain": None, "seq": None, "reason": reason})
    assert api["checkpoint"]["state"] == "unusable", api
    assert api["checkpoint"]["file"] == named


async def test_deleting_the_newest_checkpoint_rolls_the_anchor_back_to_the_one_before(
    trail: Trail,
) -> None:
    plan = trail.plans[2]
    first = await trail.checkpoint()
    await trail.use(plan)
    second = await trail.checkpoint()
    assert second["heads"][plan] > first["heads"][plan]
    await trail.cut_back(plan, keep=first["heads"][plan])
    await assert_broken(trail, {"chain": plan, "seq": second["heads"][plan], "reason": BEHIND})

    (trail.checkpoints / second["file"]).unlink()

    # The one before is the anchor now, and the cut does not reach below it: that loss is not
    # seen. Only storage that refuses deletes (WORM) closes this.
    api, _ = await trail.verify_both()
    assert api["ok"] is True, api
    assert api["checkpoint"]["file"] == first["file"]
    # A cut below the older checkpoint still is.
    await trail.cut_back(plan, keep=first["heads"][plan] - 1)
    await assert_broken(trail, {"chain": plan, "seq": first["heads"][plan], "reason": BEHIND})
