"""The sandbox shows members only the commands Discord's client shows them, and says when the bot opened a form
it cannot fill."""

from __future__ import annotations

from bot.sandbox.app import SandboxOptions, run_sandbox
from tests.sandbox.test_sandbox_option_checks import sent, type_at_prompt  # noqa: F401 (a fixture)


async def test_a_member_is_not_shown_the_moderators_commands(tmp_path, capsys, monkeypatch, sent):  # noqa: F811
    type_at_prompt(monkeypatch, ["/scope history", "/privacy status", "/as mod", "/scope history"])

    assert await run_sandbox(SandboxOptions(db=tmp_path / "s.sqlite3", model="fake")) == 0

    output = capsys.readouterr().out
    assert (
        "✗ Discord does not show /scope to ayu: it needs Manage Server. `/as mod` switches to the moderator." in output
    )
    # Nothing reached the bot for the hidden command; the member's own command and the moderator's did.
    assert [name for name, _ in sent] == ["privacy status", "scope history"]


async def test_a_form_the_sandbox_cannot_fill_is_named_with_what_to_do_instead(tmp_path, capsys, monkeypatch):
    type_at_prompt(monkeypatch, ["/as mod", "/scope edit summary"])

    assert await run_sandbox(SandboxOptions(db=tmp_path / "s.sqlite3", model="fake")) == 0

    output = " ".join(capsys.readouterr().out.split())
    assert "📝 the bot opened the form" in output
    assert "which the sandbox cannot fill (only the comment form, with /comment); /scope download writes" in output


def test_the_sandbox_log_is_held_as_quiet_as_the_bots(tmp_path):
    """As the bot's own log (bot/logs.py `quiet_libraries`): no line per model request, and no library's DEBUG
    lines with members' text, in the sandbox's log file; the levels are put back afterwards."""
    import logging

    from bot.sandbox.app import _log_to_file

    before = {name: logging.getLogger(name).level for name in ("httpx2", "aiosqlite", "discord.gateway")}
    with _log_to_file(tmp_path / "s.log"):
        assert logging.getLogger("httpx2").getEffectiveLevel() >= logging.WARNING
        assert logging.getLogger("aiosqlite").getEffectiveLevel() >= logging.INFO
        assert logging.getLogger("discord.gateway").getEffectiveLevel() >= logging.INFO
    assert {name: logging.getLogger(name).level for name in before} == before
