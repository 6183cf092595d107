"""`culturebot sandbox` refuses slash-command options as Discord's client does, before anything is sent.

The front-end tests run the real bot on the stand-in, typed at the interactive prompt (the plain line reader) or
replayed from a script, and watch what reached the stand-in; the unit tests check the rules themselves.
"""

from __future__ import annotations

import builtins
import sqlite3
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from bot.sandbox import demo
from bot.sandbox.app import SandboxOptions, run_sandbox
from bot.sandbox.discord import ChannelType, DiscordStandIn
from bot.sandbox.discord.option_rules import (
    INTEGER_LIMIT,
    STRING_LIMIT,
    OptionProblem,
    check_options,
    check_value,
    convert,
    misread_name,
)

# ----------------------------------------------------------------------------- through the sandbox


@pytest.fixture
def sent(monkeypatch) -> list[tuple[str, dict[str, Any]]]:
    """Every slash command that reached the stand-in (and so the bot): its name and options."""
    calls: list[tuple[str, dict[str, Any]]] = []
    invoke = DiscordStandIn.invoke_command

    async def spy(self: DiscordStandIn, guild_id: Any, channel_id: Any, user_id: Any, name: str, *args: Any, **kw: Any):
        options = args[0] if args else kw.get("options")
        calls.append((name, dict(options or {})))
        return await invoke(self, guild_id, channel_id, user_id, name, *args, **kw)

    monkeypatch.setattr(DiscordStandIn, "invoke_command", spy)
    return calls


@pytest.fixture
def voice_channel(monkeypatch) -> None:
    """The demo server with a voice channel #lounge too (Discord's channel picker would not offer it for a
    text-channel option)."""
    build = demo.build_demo_world

    def with_lounge(standin: DiscordStandIn) -> demo.DemoWorld:
        world = build(standin)
        standin.add_channel(world.guild_id, "lounge", type=ChannelType.GUILD_VOICE)
        return world

    monkeypatch.setattr(demo, "build_demo_world", with_lounge)


def type_at_prompt(monkeypatch, lines: list[str]) -> None:
    """Feed `lines` to the interactive front end's plain line reader (the one used without prompt_toolkit), then
    Ctrl-D."""
    monkeypatch.setitem(sys.modules, "prompt_toolkit", None)  # the import fails: the plain reader runs
    typed: Iterator[str] = iter(lines)

    def fake_input(prompt: str = "") -> str:
        line = next(typed, None)
        if line is None:
            raise EOFError
        print(f"{prompt}{line}")  # as the terminal shows it
        return line

    monkeypatch.setattr(builtins, "input", fake_input)


def settings_row(db, columns: str) -> tuple[Any, ...]:
    with sqlite3.connect(db) as conn:
        row = conn.execute(f"SELECT {columns} FROM guild_settings WHERE guild_id = ?", (demo.GUILD_ID,)).fetchone()
    return tuple(row)


def step_output(output: str, line: str) -> str:
    """What the sandbox printed after the prompt line `line`, up to the next prompt."""
    after = output.split(f"mod> {line}\n", 1)[1]
    return after.split("mod> ", 1)[0]


async def test_options_discord_would_refuse_are_refused_at_the_prompt_and_the_session_goes_on(
    tmp_path, capsys, monkeypatch, sent, voice_channel
):
    refused = {
        "/research settings retention_days=0": ["retention_days: must be at least 7 (you typed 0)"],
        "/research settings retention_days=4000": ["retention_days: must be at most 3650 (you typed 4000)"],
        "/research settings retention_days=two": ["retention_days: must be a whole number (you typed 'two')"],
        "/research settings rating_scale=likert7": ["rating_scale: choose one of fit3, likert5 (you typed 'likert7')"],
        "/research settings research_contact=ab rating_controls=emoji": [
            "research_contact: must be at least 3 characters (yours has 2)",
            "rating_controls: choose one of reactions, buttons, both (you typed 'emoji')",
        ],
        "/research settings retention_days:30": ["retention_days: type options as name=value: retention_days=30"],
        "/scope compare 1 share=95": ["share: must be at most 90 (you typed 95)"],
        "/scope diff a=1": ["b: is required (add b=<whole number>)"],
        "/answers channel-add #lounge": [
            "channel: choose a text, announcement, forum or media channel (#lounge is a voice channel)"
        ],
        "/scope preview " + "x" * 1501: ["question: must be at most 1,500 characters (yours has 1,501)"],
        "/research settings retention_days=1_000": [
            "retention_days: must be a whole number (you typed '1_000'): type it without separators, 1000"
        ],
        "/research settings retention_days=30 retention_days=60": ["retention_days: is given twice: keep one"],
        "/scope preview How do I greet? question=Another": [
            "question: is given twice (the text typed after the command fills it too): keep one"
        ],
    }
    db = tmp_path / "prompt.sqlite3"
    type_at_prompt(monkeypatch, ["/as mod", *refused, "/research settings retention_days=30 rating_scale=likert5"])

    assert await run_sandbox(SandboxOptions(db=db, model="fake")) == 0

    output = capsys.readouterr().out
    for line, problems in refused.items():
        shown = step_output(output, line)
        command = line.split(" ")[0] + " " + line.split(" ")[1]
        expected = "\n  ".join([*problems, f"(nothing sent: Discord's client does not send {command} like this)"])
        assert shown.startswith(f"✗ {expected}\n"), shown
    # The session went on: the valid command after them reached the bot and was saved.
    assert "Retention of raw text: 30 days" in output
    assert sent == [("research settings", {"retention_days": 30, "rating_scale": "likert5"})]
    assert settings_row(db, "retention_days, rating_scale") == (30, "likert5")
    assert "Something went wrong" not in output


async def test_a_refused_option_fails_a_script_step_before_anything_is_sent(tmp_path, capsys, sent):
    script = tmp_path / "steps.txt"
    script.write_text("/as mod\n/research settings retention_days=0\n/research settings retention_days=30\n")
    db = tmp_path / "script.sqlite3"

    assert await run_sandbox(SandboxOptions(db=db, script=script, model="fake")) == 1

    error = capsys.readouterr().err
    assert f"{script}:2: step failed: /research settings retention_days=0\n" in error
    assert "  retention_days: must be at least 7 (you typed 0)\n" in error
    assert "the bot answered with an error" not in error
    assert sent == [], "neither the refused step nor the one after it reached the bot"
    assert settings_row(db, "retention_days") == (180,)
    assert "failed (reference" not in (tmp_path / "script.sqlite3.log").read_text()


async def test_everyone_can_be_chosen_for_a_role_option_and_the_bot_answers_about_it(tmp_path, capsys, sent):
    script = tmp_path / "steps.txt"
    script.write_text("/as mod\n/digest research-role role=@everyone\n")
    db = tmp_path / "everyone.sqlite3"

    assert await run_sandbox(SandboxOptions(db=db, script=script, model="fake")) == 1  # the bot refuses it

    captured = capsys.readouterr()
    text = " ".join(captured.out.split())
    assert "Choose a role only researchers have: with @everyone, every member could export the research data" in text
    assert "step failed: /digest research-role role=@everyone\n  the bot refused (its reply is above)" in captured.err
    assert sent == [("digest research-role", {"role": demo.GUILD_ID})], "@everyone's role id is the server's id"
    assert settings_row(db, "research_role_id") != (demo.GUILD_ID,)


# ----------------------------------------------------------------------------- the rules


RETENTION = {"name": "retention_days", "type": 4, "min_value": 7, "max_value": 3650}
CONTACT = {"name": "research_contact", "type": 3, "min_length": 3, "max_length": 300}
QUESTION = {"name": "question", "type": 3, "required": True, "min_length": 1, "max_length": 1500}
TONE = {
    "name": "tone",
    "type": 3,
    "choices": [{"name": "Formal", "value": "formal"}, {"name": "Casual", "value": "casual"}],
}
LEVEL = {"name": "level", "type": 4, "choices": [{"name": "low", "value": 1}, {"name": "high", "value": 3}]}
RATIO = {"name": "ratio", "type": 10, "min_value": 0.5, "max_value": 2}
PRIVATE = {"name": "private", "type": 5}
CHANNEL = {"name": "channel", "type": 7, "required": True, "channel_types": [0, 5]}
ROLE = {"name": "role", "type": 8, "required": True}


def problem(call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(OptionProblem) as raised:
        call(*args, **kwargs)
    return str(raised.value)


@pytest.mark.parametrize(
    ("definition", "text", "message"),
    [
        (RETENTION, "0", "retention_days: must be at least 7 (you typed 0)"),
        (RETENTION, "3651", "retention_days: must be at most 3650 (you typed 3651)"),
        (RETENTION, "abc", "retention_days: must be a whole number (you typed 'abc')"),
        (RETENTION, "7.5", "retention_days: must be a whole number (you typed '7.5')"),
        ({"name": "version", "type": 4}, str(INTEGER_LIMIT + 1), f"version: must be at most {INTEGER_LIMIT}"),
        (RATIO, "0.25", "ratio: must be at least 0.5 (you typed 0.25)"),
        (RATIO, "3", "ratio: must be at most 2 (you typed 3)"),
        (RATIO, "nan", "ratio: must be a number (you typed 'nan')"),
        (RATIO, "inf", "ratio: must be a number (you typed 'inf')"),
        (CONTACT, "ab", "research_contact: must be at least 3 characters (yours has 2)"),
        (CONTACT, "a" * 301, "research_contact: must be at most 300 characters (yours has 301)"),
        (CONTACT, "", "research_contact: is empty: type a value, or leave the option out"),
        (QUESTION, "", "question: is empty: type a value"),
        ({"name": "note", "type": 3}, "n" * (STRING_LIMIT + 1), "note: must be at most 6,000 characters"),
        (TONE, "polite", "tone: choose one of Formal, Casual (you typed 'polite')"),
        (LEVEL, "2", "level: choose one of low, high (you typed '2')"),
        (PRIVATE, "maybe", "private: must be true or false (you typed 'maybe')"),
        # Python's int() and float() take these; Discord's number fields do not.
        (
            RETENTION,
            "1_000",
            "retention_days: must be a whole number (you typed '1_000'): type it without separators, 1000",
        ),
        (
            RETENTION,
            "1,000",
            "retention_days: must be a whole number (you typed '1,000'): type it without separators, 1000",
        ),
        (RETENTION, "+30", "retention_days: must be a whole number (you typed '+30')"),
        (RATIO, "1e0", "ratio: must be a number (you typed '1e0')"),
        (RATIO, "1_0.5", "ratio: must be a number (you typed '1_0.5'): type it without separators, 10.5"),
        (RATIO, "1,5", "ratio: must be a number (you typed '1,5')"),  # a decimal comma: no guess offered
        (RATIO, "0x1", "ratio: must be a number (you typed '0x1')"),
    ],
)
def test_typed_values_discord_would_refuse(definition, text, message):
    assert problem(convert, definition, text).startswith(message)


@pytest.mark.parametrize(
    ("definition", "text", "value"),
    [
        (RETENTION, "7", 7),
        (RETENTION, "3650", 3650),
        (RATIO, "1.5", 1.5),
        (RATIO, ".75", 0.75),
        (RATIO, " 1 ", 1.0),
        (CONTACT, "research@example.org", "research@example.org"),
        (TONE, "formal", "formal"),
        (TONE, "Casual", "casual"),
        (TONE, "CASUAL", "casual"),
        (LEVEL, "high", 3),
        (LEVEL, "1", 1),
        (PRIVATE, "yes", True),
        (PRIVATE, "off", False),
        (CHANNEL, "#ask", "#ask"),  # channels, members and roles are looked up by the front end
    ],
)
def test_typed_values_discord_would_send(definition, text, value):
    converted = convert(definition, text)
    assert converted == value
    assert type(converted) is type(value)


def test_check_value_takes_values_as_sent():
    assert problem(check_value, RETENTION, "30") == "retention_days: must be a whole number (you typed '30')"
    assert problem(check_value, RETENTION, True).startswith("retention_days: must be a whole number")
    assert problem(check_value, RETENTION, 6.0).startswith("retention_days: must be a whole number")
    assert problem(check_value, PRIVATE, "true") == "private: must be true or false (you typed 'true')"
    assert problem(check_value, CONTACT, 123) == "research_contact: must be text (got 123)"
    assert problem(check_value, TONE, "Formal") == "tone: choose one of Formal, Casual (you typed 'Formal')"
    assert problem(check_value, {"name": "settings", "type": 1}, "x").startswith("settings: is a subcommand")
    check_value(RETENTION, 7)
    check_value(RATIO, 2)
    check_value(TONE, "casual")


def test_channel_types_are_checked_with_the_channels_type():
    types = {1: 0, 2: 2, 3: 15, 4: 5}
    assert problem(check_value, CHANNEL, 2, typed="#lounge", channel_type=types.get) == (
        "channel: choose a text or announcement channel (#lounge is a voice channel)"
    )
    assert problem(check_value, CHANNEL, 3, typed="ideas", channel_type=types.get) == (
        "channel: choose a text or announcement channel (#ideas is a forum channel)"
    )
    only_voice = CHANNEL | {"channel_types": [2]}
    assert problem(check_value, only_voice, 1, channel_type=types.get) == (
        "channel: choose a voice channel (that channel is a text channel)"
    )
    check_value(CHANNEL, 1, channel_type=types.get)
    check_value(CHANNEL, 4, channel_type=types.get)
    check_value({"name": "anywhere", "type": 7}, 2, channel_type=types.get)  # no channel_types: any channel


def test_check_options_reports_every_problem_in_the_order_of_the_definitions():
    definitions = [QUESTION, RETENTION, TONE, CHANNEL, ROLE]
    problems = check_options(
        definitions,
        {"tone": "loud", "retention_days": 0, "colour": "red", "channel": 2},
        typed={"retention_days": "0", "role": "@nobody"},  # role was typed, but did not resolve
        channel_type={2: 2}.get,
    )
    assert [str(p) for p in problems] == [
        "colour: there is no such option; the options are question, retention_days, tone, channel, role",
        "question: is required (add question=<text>)",
        "retention_days: must be at least 7 (you typed 0)",
        "tone: choose one of Formal, Casual (you typed 'loud')",
        "channel: choose a text or announcement channel (that channel is a voice channel)",
    ]
    assert [(p.option, p.fix) for p in problems][1] == ("question", "is required (add question=<text>)")


def test_check_options_passes_what_discord_would_send():
    definitions = [QUESTION, RETENTION, TONE, PRIVATE, CHANNEL, ROLE]
    values = {"question": "How?", "retention_days": 30, "tone": "formal", "private": False, "channel": 1, "role": 9}
    assert check_options(definitions, values, channel_type={1: 0}.get) == []
    assert check_options([RETENTION, TONE, PRIVATE], {}) == [], "optional options may all be left out"


def test_required_options_of_each_kind_name_what_to_type():
    definitions = [
        {"name": n, "type": t, "required": True}
        for n, t in [("a", 3), ("b", 4), ("c", 5), ("d", 6), ("e", 7), ("f", 8), ("g", 9), ("h", 10), ("i", 11)]
    ]
    assert [str(p) for p in check_options([*definitions, LEVEL | {"required": True}], {})] == [
        "a: is required (add a=<text>)",
        "b: is required (add b=<whole number>)",
        "c: is required (add c=true|false)",
        "d: is required (add d=@member)",
        "e: is required (add e=#channel)",
        "f: is required (add f=@role)",
        "g: is required (add g=@member-or-role)",
        "h: is required (add h=<number>)",
        "i: is required (add i=<file>)",
        "level: is required (add level=low|high)",
    ]


def test_misread_names_get_a_hint():
    definitions = [RETENTION, CONTACT]
    assert str(misread_name("retention_days:0", definitions)) == (
        "retention_days: type options as name=value: retention_days=0"
    )
    assert str(misread_name("retention_dayz=0", definitions)) == (
        "retention_dayz: there is no such option; the options are retention_days, research_contact"
    )
    assert misread_name("retention_days=0", definitions) is None  # a real option: its own check applies
    assert misread_name("colour:red", definitions) is None
    assert misread_name("thirty days", definitions) is None


def test_members_roles_and_channels_are_found_in_any_capitalisation():
    from bot.sandbox.session import Session

    known = {"Ayu": 1, "budi": 2}
    assert Session._lookup("who", known, "ayu", "member") == 1
    assert Session._lookup("who", known, "BUDI", "member") == 2
    with pytest.raises(OptionProblem, match="there is no member 'citra'; there are: Ayu, budi"):
        Session._lookup("who", known, "citra", "member")


async def test_a_refused_command_in_a_script_says_so_once_without_discord_markup(tmp_path, capsys):
    """`/digest now` with nothing asked yet is refused (nothing to send): the step fails saying the bot refused,
    its reply shown once above. It was repeated as "the bot answered with an error (... <t:1796673048:f> ...)"."""
    script = tmp_path / "steps.txt"
    script.write_text("/as mod\n/digest now\n")
    assert await run_sandbox(SandboxOptions(db=tmp_path / "s.sqlite3", script=script, model="fake")) == 1
    output, error = capsys.readouterr()
    assert "Nothing to send" in output
    assert f"{script}:2: step failed: /digest now\n" in error
    assert "the bot refused (its reply is above)" in error
    assert "<t:" not in error and "answered with an error" not in error
