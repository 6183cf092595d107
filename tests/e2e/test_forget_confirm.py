"""The /privacy forget confirmation through the stand-in: its buttons are persistent (their ids carry who asked and
when), so they answer after a restart; only the member who asked, and only for ten minutes."""

from __future__ import annotations

import asyncio
import re
import sys

from tests.e2e.test_consent_integrity import member_hash
from tests.e2e.test_feedback import ask, button_labeled, click, db, rows
from tests.e2e.test_privacy_restore import agree_by_rating
from tests.e2e.test_scope_commands import run
from tests.helpers import cells_containing, eventually

QUESTION = "How do I address my manager?"
PROMPT = "This deletes your ratings, reasons, comments, consent records and questions in every server."


async def asked_to_forget(world, run_bot, member_id):
    """The member asked, rated and agreed, then ran /privacy forget; the bot stops before they answer. Returns the
    confirmation message."""
    async with run_bot():
        answer = await ask(world, QUESTION)
        await agree_by_rating(world, answer, member_id)
        confirm = await run(world, member_id, "privacy forget")
        assert confirm.ephemeral and confirm.original.content.startswith(PROMPT)
    return world.standin.message(confirm.original.id)


def nothing_deleted(world, member_id):
    assert rows(world, "SELECT count(*) FROM answers WHERE question = ?", (QUESTION,)) == [(1,)]
    assert rows(world, "SELECT count(*) FROM ratings WHERE rater_hash = ?", (member_hash(member_id),)) == [(1,)]


async def answered(world, message_id):
    """The confirmation once its buttons are gone: what the member sees instead."""

    def settled():
        message = world.standin.message(message_id)
        return message.content if not message.components else None

    return await eventually(settled, what="the confirmation to be answered")


async def test_delete_everything_after_a_restart_deletes_and_confirms(world, run_bot):
    confirm = await asked_to_forget(world, run_bot, world.asker_id)
    assert confirm.components, "the buttons are still on screen after the bot stopped"
    delete, cancel = button_labeled(confirm, "Delete everything"), button_labeled(confirm, "Cancel")

    async with run_bot():
        await click(world, confirm, world.asker_id, delete)
        summary = await answered(world, confirm.id)
    assert summary.startswith("Deleted: "), summary
    assert "1 rating" in summary
    assert cells_containing(db(world), member_hash(world.asker_id)) == []
    assert cells_containing(db(world), QUESTION) == []
    # What the buttons needed to answer after the restart was in their ids.
    assert re.fullmatch(rf"cb:forget:{world.asker_id}:[0-9]+:yes", delete)
    assert re.fullmatch(rf"cb:forget:{world.asker_id}:[0-9]+:no", cancel)


async def test_another_member_clicking_is_told_and_nothing_is_deleted(world, run_bot):
    confirm = await asked_to_forget(world, run_bot, world.asker_id)
    async with run_bot():
        refusals = [
            await click(world, confirm, world.member_id, button_labeled(confirm, label))
            for label in ("Delete everything", "Cancel")
        ]
        from bot.feedback.forget_confirm import FORGET_NOT_YOURS

        for refused in refusals:
            assert refused.ephemeral
            assert refused.response_data["content"] == FORGET_NOT_YOURS
        await asyncio.sleep(0.3)
        nothing_deleted(world, world.asker_id)
        still = world.standin.message(confirm.id)
        assert still.content.startswith(PROMPT) and still.components, "the asker's confirmation is left as it was"

        # The member who asked still can.
        await click(world, still, world.asker_id, button_labeled(still, "Delete everything"))
        assert (await answered(world, confirm.id)).startswith("Deleted: ")
    assert cells_containing(db(world), member_hash(world.asker_id)) == []


async def test_a_click_after_ten_minutes_is_refused_and_deletes_nothing(world, run_bot, monkeypatch):
    from bot.feedback import forget_confirm

    confirm = await asked_to_forget(world, run_bot, world.asker_id)
    real = forget_confirm.clock
    async with run_bot():
        monkeypatch.setattr(forget_confirm, "clock", lambda: real() + forget_confirm.FORGET_LISTENS + 2)
        await click(world, confirm, world.asker_id, button_labeled(confirm, "Delete everything"))
        assert await answered(world, confirm.id) == forget_confirm.FORGET_EXPIRED
        await asyncio.sleep(0.3)
    nothing_deleted(world, world.asker_id)
    assert cells_containing(db(world), member_hash(world.asker_id)) != []


async def test_cancel_after_a_restart_deletes_nothing(world, run_bot):
    confirm = await asked_to_forget(world, run_bot, world.asker_id)
    async with run_bot():
        await click(world, confirm, world.asker_id, button_labeled(confirm, "Cancel"))
        assert await answered(world, confirm.id) == "Nothing was deleted."
        await asyncio.sleep(0.3)
    nothing_deleted(world, world.asker_id)


async def test_a_second_click_while_deleting_does_not_delete_again(world, run_bot, monkeypatch):
    async with run_bot():
        answer = await ask(world, QUESTION)
        await agree_by_rating(world, answer, world.asker_id)
        privacy = sys.modules["cogs.privacy"]  # the module the bot loaded its cog from
        original = privacy.forget_member
        release = asyncio.Event()
        calls = []

        async def slow_forget(*args, **kwargs):
            calls.append(args)
            await release.wait()
            return await original(*args, **kwargs)

        monkeypatch.setattr(privacy, "forget_member", slow_forget)
        confirm = (await run(world, world.asker_id, "privacy forget")).original
        delete = button_labeled(confirm, "Delete everything")
        await click(world, confirm, world.asker_id, delete)
        await eventually(lambda: calls, what="the deletion to start")
        again = await click(world, confirm, world.asker_id, delete)
        assert again.response_type == 6, "acknowledged, nothing changed"
        cancel = await click(world, confirm, world.asker_id, button_labeled(confirm, "Cancel"))
        assert cancel.response_type == 6, "too late to cancel: the deletion runs"
        release.set()
        assert (await answered(world, confirm.id)).startswith("Deleted: ")
        await asyncio.sleep(0.3)
        assert len(calls) == 1
        assert world.standin.message(confirm.id).content.startswith("Deleted: ")


def test_the_ids_carry_who_asked_and_when_and_refuse_late_or_foreign_clicks(monkeypatch):
    from bot.feedback import forget_confirm
    from bot.feedback.forget_confirm import ForgetClick, ForgetId, confirmation_ids

    monkeypatch.setattr(forget_confirm, "clock", lambda: 1_780_000_000.7)
    longest = 2**64 - 1  # the largest snowflake
    yes, no = confirmation_ids(longest)
    assert (yes.build(), no.build()) == (f"cb:forget:{longest}:1780000000:yes", f"cb:forget:{longest}:1780000000:no")
    assert len(yes.build()) <= 100
    assert ForgetId.parse(yes.build()) == yes and ForgetId.parse(no.build()) == no
    assert ForgetId.parse("cb:forget:1:2:maybe") is None
    assert ForgetId.parse("cb:forget:1:2:yes:3") is None

    assert yes.clicked_by(longest) is ForgetClick.CONFIRM
    assert no.clicked_by(longest) is ForgetClick.CANCEL
    assert yes.clicked_by(longest - 1) is ForgetClick.NOT_YOURS
    for now, outcome in (
        (1_780_000_000 + forget_confirm.FORGET_LISTENS, ForgetClick.CONFIRM),
        (1_780_000_000 + forget_confirm.FORGET_LISTENS + 1, ForgetClick.EXPIRED),
        (1_780_000_000 - forget_confirm.FUTURE_SLACK - 1, ForgetClick.EXPIRED),  # a clock set back since
    ):
        monkeypatch.setattr(forget_confirm, "clock", lambda now=now: now)
        assert yes.clicked_by(longest) is outcome
        assert no.clicked_by(longest) is (ForgetClick.CANCEL if outcome is ForgetClick.CONFIRM else outcome)
