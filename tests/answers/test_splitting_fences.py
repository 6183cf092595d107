"""Code fences at a split: every split ends, parts fit, indented blocks and notes after a block render right."""

from __future__ import annotations

import random

import pytest

from bot.answers.splitting import DISCORD_MESSAGE_LIMIT, MAX_REOPENED_INFO, open_fence_at, take_message
from bot.answers.streaming import TRUNCATED_NOTE, StreamingReply
from tests.answers.recording import Channel

NOTE = "\n\n*(answer incomplete: the model stopped responding)*"


def split_all(text: str, limit: int = DISCORD_MESSAGE_LIMIT) -> list[str]:
    """Like `split_message`, but fails instead of looping forever, and checks each cut makes progress."""
    parts: list[str] = []
    rest = text
    for _ in range(len(text) + 1):
        if not rest:
            return parts
        head, new_rest = take_message(rest, limit)
        assert len(head) <= limit, f"a part of {len(head)} characters"
        assert len(new_rest) < len(rest), "the rest must get shorter, or splitting never ends"
        if head:
            parts.append(head)
        rest = new_rest
    pytest.fail("splitting did not end")


# 1. A long opening line or fence cannot make a split loop or overflow.


def test_an_opening_line_longer_than_the_cut_still_shrinks_the_rest():
    text = "```" + "a" * 2500
    head, rest = take_message(text, 1998)
    assert len(head) <= 1998
    assert len(rest) < len(text)
    assert len(split_all(text)) <= 3


def test_a_long_info_string_is_not_repeated_in_the_next_part():
    text = "```" + "x" * 700 + "\n" + "b" * 2000
    head, rest = take_message(text, 1998)
    assert rest != text
    assert rest == "```\n" + "b" * 2000  # the block goes on, without the 700-character info string
    assert open_fence_at(head) is None


def test_a_short_info_string_is_kept():
    info = "x" * MAX_REOPENED_INFO
    code = "\n".join(f"line {i}" for i in range(400))
    _, rest = take_message(f"```{info}\n{code}\n```")
    assert rest.startswith(f"```{info}\nline ")


@pytest.mark.parametrize("fence_length", [3, 4, 9, 10, 12, 40, 300, 1995, 2500])
@pytest.mark.parametrize("char", ["`", "~"])
def test_long_fences_never_make_a_part_too_long(fence_length, char):
    code = "\n".join(f"print({i})  # line" for i in range(300))
    text = "Intro.\n" + char * fence_length + "python\n" + code + "\n" + char * fence_length + "\nDone."
    parts = split_all(text)
    assert all(len(part) <= DISCORD_MESSAGE_LIMIT for part in parts)
    if fence_length <= 40:
        assert all(open_fence_at(part) is None for part in parts)
        joined = "\n".join(parts)
        assert all(f"print({i})" in joined for i in range(300))


@pytest.mark.parametrize("limit", [20, 60, 200, 1998, 2000])
@pytest.mark.parametrize("info_length", [0, 5, 30, 31, 100, 700, 1990, 2500])
def test_every_split_ends_and_fits(limit, info_length):
    rng = random.Random(limit * 10_000 + info_length)
    for _ in range(25):
        fence = rng.choice("`~") * rng.randint(3, 15)
        indent = " " * rng.randint(0, 3)
        body = rng.choice(["b" * rng.randint(0, 3000), "code\n" * rng.randint(0, 500), "w " * rng.randint(0, 1500)])
        before = "x " * rng.randint(0, limit)
        text = before + indent + fence + "i" * info_length + rng.choice(["\n", " extra\n", ""]) + body
        split_all(text, limit)


def test_random_mixes_of_fences_and_text_end_and_fit():
    rng = random.Random(2000)
    pieces = [
        lambda: " " * rng.randint(0, 3) + rng.choice("`~") * rng.randint(3, 40) + "x" * rng.randint(0, 800) + "\n",
        lambda: "   code line\n" * rng.randint(0, 300),
        lambda: "word " * rng.randint(0, 600),
        lambda: "y" * rng.randint(0, 3000) + "\n",
    ]
    for _ in range(300):
        text = "".join(rng.choice(pieces)() for _ in range(rng.randint(1, 6)))
        split_all(text, rng.choice([50, 200, 1998, 2000]))


async def test_streaming_a_long_opening_line_ends():
    channel = Channel()
    reply = StreamingReply(channel.send, edit_interval=0.0, max_chars=20_000)
    text = "```" + "x" * 700 + "\n" + "b" * 2000
    for start in range(0, len(text), 100):
        await reply.push(text[start : start + 100])
    await reply.finish()
    assert 2 <= len(channel.messages) <= 4
    assert all(len(shown) <= DISCORD_MESSAGE_LIMIT for message in channel.messages for shown in message.shown)
    assert "".join(channel.final()).count("b") == 2000


async def test_streaming_an_endless_info_string_ends():
    channel = Channel()
    reply = StreamingReply(channel.send, edit_interval=0.0, max_chars=20_000)
    await reply.push("```" + "a" * 2500)
    await reply.finish()
    assert len(channel.messages) <= 3
    assert all(len(shown) <= DISCORD_MESSAGE_LIMIT for message in channel.messages for shown in message.shown)


# 2. A note after an answer that stopped inside a code block.


async def test_a_note_after_an_unfinished_block_is_outside_it():
    channel = Channel()
    reply = StreamingReply(channel.send, edit_interval=0.0)
    await reply.push("Try this:\n```python\nx = 1\n")
    await reply.finish(NOTE)
    [shown] = channel.final()
    assert shown == "Try this:\n```python\nx = 1\n```" + NOTE
    assert open_fence_at(shown) is None


async def test_the_truncation_note_is_outside_the_block():
    channel = Channel()
    reply = StreamingReply(channel.send, edit_interval=0.0, max_chars=40)
    await reply.push("Try this:\n   ~~~~\n   " + "y = 2\n   " * 10)
    assert reply.truncated
    await reply.finish()
    [shown] = channel.final()
    body, note = shown.split(TRUNCATED_NOTE)
    assert note == ""
    assert body.endswith("\n   ~~~~")  # closed with its own fence, as indented as its opening
    assert open_fence_at(body) is None


async def test_a_closed_block_gets_no_extra_fence():
    channel = Channel()
    reply = StreamingReply(channel.send, edit_interval=0.0)
    await reply.push("```\nx = 1\n```\nThat is all")
    await reply.finish(NOTE)
    assert channel.final() == ["```\nx = 1\n```\nThat is all" + NOTE]


async def test_the_closing_fence_counts_toward_the_limit():
    channel = Channel()
    reply = StreamingReply(channel.send, edit_interval=0.0, limit=100)
    text = "```\n" + "z" * 88  # 92 characters: room for the 7-character note, not also for "\n```"
    await reply.push(text)
    await reply.finish("\n\n*(n)*")
    assert all(len(shown) <= 100 for message in channel.messages for shown in message.shown)
    assert channel.final() == [text + "\n```", "*(n)*"]  # the block closed, the note in a part of its own


async def test_a_block_with_no_room_left_to_close_it_is_cut_and_closed_before_the_note():
    channel = Channel()
    reply = StreamingReply(channel.send, edit_interval=0.0, limit=100)
    text = "Run this:\n\n```\n" + "\n".join(f"step_{i:02d}()" for i in range(8))  # 97 characters
    await reply.push(text)
    await reply.finish("\n\n*(n)*")
    final = channel.final()
    assert all(len(shown) <= 100 for message in channel.messages for shown in message.shown)
    assert all(open_fence_at(part) is None for part in final), final
    assert final[-1] == "*(n)*"
    code = [line for part in final for line in part.splitlines() if line.startswith("step_")]
    assert code == [f"step_{i:02d}()" for i in range(8)]


# 3. Indented code blocks, as in a numbered list.


def indented_list(lines: int = 200) -> str:
    code = "\n".join(f"   x = {i}  # step" for i in range(lines))
    return "1. Run this:\n   ```python\n" + code + "\n   ```\n2. Done."


def test_an_indented_block_is_closed_and_reopened_with_its_indentation():
    parts = split_all(indented_list())
    assert len(parts) == 2
    assert parts[0].endswith("\n   ```")
    assert parts[1].startswith("   ```python\n   x = ")
    assert all(open_fence_at(part) is None for part in parts)
    code_lines = [line for part in parts for line in part.splitlines() if "x = " in line]
    assert code_lines == [f"   x = {i}  # step" for i in range(200)]


def test_an_indented_fence_is_recognised_however_deep():
    assert open_fence_at("1. Run:\n   ```sh\n   ls\n") is not None
    assert open_fence_at("1. Run:\n   ```sh\n   ls\n   ```\n") is None
    # Discord has no indented code blocks: four spaces or a tab (a nested list item) still open a block.
    assert open_fence_at("Code:\n    ```sh\n    ls\n") == ("    ", "```", "sh", 6, 15)
    assert open_fence_at("- a\n\t```sh\n\tls\n\t```\n") is None


def test_a_block_in_a_nested_list_is_closed_and_reopened_with_its_indentation():
    code = "\n".join(f"      y = {i}" for i in range(300))
    text = "1. Outer\n   - Inner:\n      ```python\n" + code + "\n      ```\n2. Done."
    parts = split_all(text)
    assert len(parts) == 3
    assert all(open_fence_at(part) is None for part in parts)
    assert parts[0].endswith("\n      ```") and parts[1].endswith("\n      ```")
    assert parts[1].startswith("      ```python\n      y = ") and parts[2].startswith("      ```python\n      y = ")
    code_lines = [line for part in parts for line in part.splitlines() if "y = " in line]
    assert code_lines == [f"      y = {i}" for i in range(300)]


async def test_streaming_an_indented_block_keeps_its_indentation():
    channel = Channel()
    reply = StreamingReply(channel.send, edit_interval=0.0)
    text = indented_list()
    for start in range(0, len(text), 37):
        await reply.push(text[start : start + 37])
    await reply.finish()
    final = channel.final()
    assert len(final) == 2
    assert final[1].startswith("   ```python\n   x = ")
    assert all(open_fence_at(part) is None for part in final)
