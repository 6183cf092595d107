"""`/scope preview` without a declared scope shows what members get: the refusal while unscoped answers are off
(no model request, no tokens spent), a general answer with its note once they are allowed."""

from __future__ import annotations

import contextlib
import sqlite3

from bot.scopes.manage import NO_SCOPE_MESSAGE
from tests.e2e.test_scope_commands import reply_text, run


def rows(world, sql):
    with contextlib.closing(sqlite3.connect(world.tmp_path / "bot.sqlite3")) as conn:
        return conn.execute(sql).fetchall()


async def test_a_preview_without_a_scope_shows_the_refusal_members_get(world, run_bot, moderator):
    world.model.script("A general answer.")
    async with run_bot(cooldown=0):
        await run(world, moderator, "scope clear")
        record = await run(world, moderator, "scope preview", {"question": "How do I greet my boss?"})
        assert record.ephemeral
        text = await reply_text(world, record)
        assert text == (
            "No preview: there is no declared scope and unscoped answers are off, so members asking now get this "
            f"refusal:\n> {NO_SCOPE_MESSAGE}\nTo answer without a scope (with a visible note that the answer is "
            "general), set `/scope settings allow_unscoped:True`; to preview an earlier version, give `version` "
            "(`/scope history` lists them)."
        )
        assert world.model.chat_requests == [], "no answer is written that members would not get"
        assert rows(world, "SELECT count(*) FROM preview_tokens") == [(0,)]

        # A member asking gets that very refusal.
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("How do I greet my boss?"))
        refusal = await world.standin.wait_for_message(world.channel_id)
        assert refusal.content == NO_SCOPE_MESSAGE

        # Once unscoped answers are allowed, the preview is the general answer members would get, with its note.
        await run(world, moderator, "scope settings", {"allow_unscoped": True})
        record = await run(world, moderator, "scope preview", {"question": "How do I greet my boss?"})
        assert (await reply_text(world, record)).startswith("Preview under no scope")
        answer = await world.standin.wait_for_followup(record.id, count=2)
        await world.standin.wait_for(
            lambda: "no declared cultural scope" in world.standin.message(answer.id).content, what="the note"
        )
        assert len(world.model.chat_requests) == 1
