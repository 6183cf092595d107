"""StreamingReply's rendering rules, with a recording stand-in for the Discord messages it sends and edits."""

from __future__ import annotations

from bot.answers.streaming import CURSOR, StreamingReply
from tests.answers.recording import Channel


async def test_a_mass_mention_split_across_tokens_is_still_defused():
    channel = Channel()
    reply = StreamingReply(channel.send, edit_interval=0.0)
    for delta in ["Ask ", "@", "every", "one", " or @", "he", "re", " then"]:
        await reply.push(delta)
    await reply.finish()
    [message] = channel.messages
    assert all("@everyone" not in shown and "@here" not in shown for shown in message.shown)
    assert message.shown[-1] == "Ask @\u200beveryone or @\u200bhere then"
    assert reply.text == "Ask @everyone or @here then"  # the record keeps what the model wrote


async def test_parts_stay_within_the_limit_when_defusing_lengthens_them():
    channel = Channel()
    reply = StreamingReply(channel.send, edit_interval=0.0, limit=60, max_chars=10_000)
    for _ in range(12):
        await reply.push("@here ")
    await reply.finish()
    assert len(channel.messages) >= 2
    for message in channel.messages:
        assert all(len(shown) <= 60 for shown in message.shown)
        assert "@here" not in message.shown[-1] and not message.shown[-1].endswith(CURSOR)
    assert " ".join(m.shown[-1] for m in channel.messages).split() == ["@\u200bhere"] * 12


async def test_the_last_text_waits_for_the_final_edit_instead_of_an_edit_of_its_own():
    channel = Channel()
    reply = StreamingReply(channel.send, edit_interval=0.0)
    await reply.push("Hello ")
    await reply.push("there.", more=False)
    [message] = channel.messages
    assert message.shown == ["Hello " + CURSOR]  # the streamed part only
    await reply.finish()
    assert message.shown[-1] == "Hello there."
    assert len(message.shown) == 2


async def test_an_answer_that_is_all_last_text_is_sent_once_by_finish():
    channel = Channel()
    reply = StreamingReply(channel.send, edit_interval=1.0)
    await reply.push("Complete at once.", more=False)
    assert channel.messages == []
    await reply.finish()
    [message] = channel.messages
    assert message.shown == ["Complete at once."]


async def test_an_answer_cut_at_the_length_limit_ends_at_a_word():
    channel = Channel()
    reply = StreamingReply(channel.send, edit_interval=0.0, max_chars=20)
    await reply.push("alpha beta gamma delta epsilon")
    await reply.finish()
    assert reply.truncated and reply.text == "alpha beta gamma", "not 'alpha beta gamma del'"
    assert channel.messages[-1].shown[-1].startswith("alpha beta gamma\n")


async def test_an_answer_that_ends_within_the_cursors_room_of_the_limit_stays_one_message():
    """The cursor's two characters are kept free only while the part is being written: an answer of 1,999 or
    2,000 characters is one message, not 1,989 + 10."""
    for length in (1999, 2000):
        channel = Channel()
        reply = StreamingReply(channel.send, edit_interval=0.0, max_chars=10_000)
        words = ("word " * 400)[: length - 1] + "."
        for start in range(0, length, 50):
            await reply.push(words[start : start + 50])
        await reply.finish()
        assert channel.final() == [words], length
        assert all(len(shown) <= 2000 for message in channel.messages for shown in message.shown)


async def test_a_part_longer_than_the_limit_is_split_with_all_of_the_limit_for_the_finished_part():
    channel = Channel()
    reply = StreamingReply(channel.send, edit_interval=0.0, limit=100)
    for _ in range(50):
        await reply.push("ab cd ")
    await reply.finish()
    for message in channel.messages:
        assert all(len(shown) <= 100 for shown in message.shown)
        assert not message.shown[-1].endswith(CURSOR)
    assert " ".join(channel.final()).split() == ["ab", "cd"] * 50
