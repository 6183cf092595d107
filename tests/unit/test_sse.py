"""Reading a chat-completions stream: server-sent events and the chunks they carry."""

from collections.abc import AsyncIterator

import pytest

from bot.llm.client import ModelError, StreamStats, read_chunk
from bot.llm.sse import ServerSentEvent, server_sent_events


async def lines_of(text: str) -> AsyncIterator[str]:
    for line in text.split("\n"):
        yield line


async def events(text: str) -> list[ServerSentEvent]:
    return [event async for event in server_sent_events(lines_of(text))]


async def test_data_lines_make_events_ended_by_a_blank_line():
    found = await events('data: {"a": 1}\n\ndata:{"b": 2}\n\ndata: [DONE]\n\n')
    assert found == [ServerSentEvent('{"a": 1}'), ServerSentEvent('{"b": 2}'), ServerSentEvent("[DONE]")]


async def test_several_data_lines_join_with_newlines_and_event_names_are_kept():
    found = await events("event: error\ndata: first\ndata:  second\n\n")
    assert found == [ServerSentEvent("first\n second", "error")]


async def test_comments_ids_and_empty_events_are_skipped():
    found = await events(": keep-alive\n\nid: 7\nretry: 100\n\ndata: x\n\n")
    assert found == [ServerSentEvent("x")]


async def test_an_event_cut_before_its_blank_line_is_dropped():
    assert await events("data: whole\n\ndata: half") == [ServerSentEvent("whole")]


def test_a_chunk_gives_its_first_choice_and_notes_usage_and_finish():
    stats = StreamStats()
    choice = read_chunk(
        '{"choices": [{"delta": {"content": "Hi"}, "finish_reason": "stop"}], '
        '"usage": {"prompt_tokens": 12, "completion_tokens": 3}}',
        None,
        stats,
    )
    assert choice is not None and choice["delta"]["content"] == "Hi"
    assert (stats.finish_reason, stats.tokens_in, stats.tokens_out) == ("stop", 12, 3)


def test_a_usage_only_chunk_has_no_choice():
    stats = StreamStats()
    assert read_chunk('{"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 9}}', None, stats) is None
    assert stats.tokens_out == 9


@pytest.mark.parametrize(
    ("data", "event"),
    [('{"error": {"message": "overloaded"}}', None), ('{"message": "overloaded"}', "error")],
)
def test_an_error_sent_in_the_stream_fails_it(data, event):
    with pytest.raises(ModelError, match="overloaded"):
        read_chunk(data, event, StreamStats())


@pytest.mark.parametrize(
    ("data", "says"), [('{"choices": [{"delta": ', "Expecting value"), ("[1, 2]", "not a JSON object")]
)
def test_a_chunk_that_is_not_a_json_object_is_a_value_error(data, says):
    with pytest.raises(ValueError, match=says):
        read_chunk(data, None, StreamStats())
