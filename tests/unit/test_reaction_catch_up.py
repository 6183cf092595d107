"""Reconciling stored reaction ratings with the reactions read back from Discord (bot/feedback/catch_up.py)."""

from __future__ import annotations

import asyncio

from bot.feedback.catch_up import ReactionGate, plan_reconcile
from bot.storage import RatingSource

REACTION, BUTTON = RatingSource.REACTION, RatingSource.BUTTON


def hashed(user_id: int) -> str:
    return f"m{user_id}"


def test_new_changed_unchanged_and_removed_reactions():
    stored = {"m1": (3, REACTION), "m2": (1, REACTION), "m3": (2, REACTION)}
    present = {1: {3}, 2: {2}, 4: {1}}  # 1 unchanged, 2 changed, 3 took theirs back, 4 is new
    plan = plan_reconcile(stored, present, hashed)
    assert plan.store == [(2, 2), (4, 1)]
    assert plan.delete == [("m3", 2)]
    assert plan.ambiguous == 0


def test_button_ratings_are_left_alone():
    stored = {"m1": (1, BUTTON), "m2": (3, BUTTON)}
    plan = plan_reconcile(stored, {1: {3}}, hashed)  # m2 has no reaction: a button rating needs none
    assert (plan.store, plan.delete, plan.ambiguous) == ([], [], 0)


def test_several_rating_reactions_keep_the_stored_one_or_store_none():
    stored = {"m1": (2, REACTION)}
    plan = plan_reconcile(stored, {1: {2, 3}, 2: {1, 3}}, hashed)
    assert plan.store == [] and plan.delete == []
    assert plan.ambiguous == 1, "member 2 reacted twice with no stored rating: which came last is unknown"


def test_a_reaction_rating_taken_back_goes_when_several_other_rating_reactions_remain():
    # As live: removing the emoji of the stored rating with two others left deletes it (which is meant is unknown).
    stored = {"m1": (3, REACTION), "m2": (3, BUTTON)}
    plan = plan_reconcile(stored, {1: {1, 2}, 2: {1, 2}}, hashed)
    assert plan.store == []
    assert plan.delete == [("m1", 3)], "the button rating stays"
    assert plan.ambiguous == 1, "member 2 has a button rating: nothing to choose"


def test_nothing_stored_nothing_present():
    assert plan_reconcile({}, {}, hashed).store == []


async def test_live_reactions_wait_for_the_answer_being_reconciled_only():
    gate = ReactionGate()
    order: list[str] = []
    async with gate.holding([10, 11]):
        waiting = asyncio.ensure_future(gate.wait(11))
        await gate.wait(12)  # another answer's message: no wait
        order.append("other answer")
        await asyncio.sleep(0.01)
        assert not waiting.done()
        order.append("reconciled")
    await waiting
    order.append("live event")
    assert order == ["other answer", "reconciled", "live event"]
    await asyncio.wait_for(gate.wait(11), 1)  # released for good


async def test_a_reconciliation_waits_for_the_live_events_already_past_the_gate():
    gate = ReactionGate()
    order: list[str] = []
    handled = asyncio.Event()

    async def live_event() -> None:
        async with gate.passing(11):
            order.append("event passed")
            await handled.wait()  # still writing its rating
            order.append("event stored")

    event = asyncio.ensure_future(live_event())
    await asyncio.sleep(0)
    assert order == ["event passed"]

    async def reconcile() -> None:
        async with gate.holding([10, 11]):
            order.append("reconciled")

    reconciling = asyncio.ensure_future(reconcile())
    async with gate.passing(12):  # another answer's message: neither waits for the other
        order.append("other answer")
    await asyncio.sleep(0.01)
    assert not reconciling.done(), "the reconciliation read the ratings while an event was still storing one"
    later = asyncio.ensure_future(gate.wait(10))  # an event that came after the reconciliation began waits for it
    handled.set()
    await asyncio.wait_for(asyncio.gather(event, reconciling, later), 1)
    assert order == ["event passed", "other answer", "event stored", "reconciled"]
    async with gate.holding([11]):  # nothing left being handled: no wait
        pass
