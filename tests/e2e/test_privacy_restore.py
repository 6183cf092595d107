"""A database restored from a backup gets back the consent decisions and forget requests made since the backup:
the bot re-applies them from its privacy log before it goes online (bot/storage/privacy_log.py)."""

from __future__ import annotations

import json
import logging
import stat

from bot.feedback.ratings import RatingChange
from bot.storage.sqlite.backup import backup_database
from tests.e2e.test_consent_integrity import choice, member_hash
from tests.e2e.test_feedback import ask, button, click, db, forget, handled_reactions, rows
from tests.e2e.test_scope_commands import run
from tests.e2e.test_shutdown import refused_start
from tests.helpers import cells_containing, eventually

REPLAYED = "re-applied"


def log_lines(world):
    path = db(world).with_name("bot.privacy-requests.jsonl")
    return path, [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


async def agree_by_rating(world, answer, member_id, level="comments"):
    """The member rates with a button and agrees on the notice: their rating is stored."""
    notice = await click(world, answer, member_id, button(answer, "cb:rate:"))
    await click(world, notice.original, member_id, choice(notice.original, level))
    await eventually(
        lambda: rows(world, "SELECT count(*) FROM ratings WHERE rater_hash = ?", (member_hash(member_id),)) == [(1,)],
        what="the member's rating",
    )


async def test_a_restored_backup_gets_back_the_withdrawals_and_forget_requests_made_since(
    world, run_bot, monkeypatch, caplog
):
    caplog.set_level(logging.INFO, logger="bot.feedback.privacy_requests")
    backup = world.tmp_path / "backup.sqlite3"
    async with run_bot():
        answer = await ask(world)
        await agree_by_rating(world, answer, world.member_id)
        await agree_by_rating(world, answer, world.asker_id)
        assert not [r for r in caplog.records if REPLAYED in r.getMessage()], "nothing to re-apply on a first start"
        backup_database(db(world), backup)

        # After the backup: the member withdraws (their rating goes), the asker asks to be forgotten.
        notice = (await run(world, world.member_id, "privacy consent")).original
        await click(world, notice, world.member_id, choice(notice, "declined"))
        await eventually(lambda: rows(world, "SELECT count(*) FROM ratings") == [(1,)], what="the withdrawal")
        await forget(world, world.asker_id)
        [(declined_at,)] = rows(
            world, "SELECT decided_at FROM consents WHERE member_hash = ?", (member_hash(world.member_id),)
        )

    path, lines = log_lines(world)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # The asker's decision went from the log with their data; their forget request stays.
    assert [(line["request"], line["member"], line.get("level")) for line in lines] == [
        ("consent", member_hash(world.member_id), "comments"),
        ("consent", member_hash(world.member_id), "declined"),
        ("forget", member_hash(world.asker_id), None),
    ]
    assert [line["seq"] for line in lines] == [1, 3, 4]
    assert rows(world, "SELECT value FROM bot_state WHERE key = 'privacy_log_applied'") == [("4",)]

    # The operator restores the backup (as README says: the database file only, its -wal and -shm removed).
    for suffix in ("-wal", "-shm"):
        db(world).with_name(db(world).name + suffix).unlink(missing_ok=True)
    db(world).write_bytes(backup.read_bytes())
    assert rows(world, "SELECT count(*) FROM ratings") == [(2,)], "the backup holds what was withdrawn since"
    assert cells_containing(db(world), member_hash(world.asker_id)) != []

    caplog.clear()
    async with run_bot(scope=None):
        assert [r for r in caplog.records if REPLAYED in r.getMessage()], "the re-applied requests are logged"
        member = member_hash(world.member_id)
        assert rows(world, "SELECT level, decided_at FROM consents WHERE member_hash = ?", (member,)) == [
            ("declined", declined_at)
        ], "the withdrawal is back, with its own time"
        assert rows(world, "SELECT count(*) FROM ratings WHERE rater_hash = ?", (member,)) == [(0,)]
        assert cells_containing(db(world), member_hash(world.asker_id)) == [], "the forget request is made again"
        assert cells_containing(db(world), "How do I address my manager?") == []
        # And the bot acts on it: the member who withdrew is not stored nor asked again.
        handled = handled_reactions(monkeypatch)
        await world.standin.add_reaction(world.channel_id, answer.id, world.member_id, "✅")
        await eventually(lambda: handled, what="the reaction handled")
        assert handled == [(answer.id, world.member_id, True, RatingChange.DECLINED)]

    # Started again without a restore: nothing more to re-apply.
    caplog.clear()
    async with run_bot(scope=None):
        assert not [r for r in caplog.records if REPLAYED in r.getMessage()]
    assert rows(
        world, "SELECT count(*) FROM consent_events WHERE member_hash = ?", (member_hash(world.member_id),)
    ) == [(2,)], "each decision once"


async def test_a_damaged_privacy_log_stops_the_start_with_the_line_to_mend(world):
    path = world.tmp_path / "bot.privacy-requests.jsonl"
    good = '{"request":"forget","seq":1,"at":"2026-12-06T22:00:00.000Z","member":"m1"}\n'
    path.write_text(good + "garbage\n" + good.replace('"seq":1', '"seq":2'), encoding="utf-8")
    text = await refused_start(world)
    assert f"culturebot: line 2 of the privacy log {path} is not a privacy request (Expecting value" in text
    assert path.read_text(encoding="utf-8").startswith(good + "garbage\n"), "the log is left as it was"


async def test_a_forget_request_made_while_the_log_could_not_be_written_is_logged_at_shutdown(world, run_bot, caplog):
    caplog.set_level(logging.WARNING, logger="bot.feedback.privacy_requests")
    async with run_bot():
        answer = await ask(world)
        await agree_by_rating(world, answer, world.member_id)
        path, _ = log_lines(world)
        aside = path.with_name("aside.jsonl")
        path.rename(aside)
        path.mkdir()  # the log cannot be written while the member asks to be forgotten
        await forget(world, world.member_id)
        assert rows(world, "SELECT count(*) FROM ratings") == [(0,)], "forgotten all the same"
        assert "a restore would undo it" in caplog.text
        path.rmdir()
        aside.rename(path)  # the operator mends it; the bot is then stopped
    _, lines = log_lines(world)
    assert [(line["request"], line["member"], line["seq"]) for line in lines] == [
        ("forget", member_hash(world.member_id), 2)
    ]
    assert rows(world, "SELECT value FROM bot_state WHERE key = 'privacy_log_applied'") == [("2",)]
    assert "written to the privacy log now" in caplog.text
