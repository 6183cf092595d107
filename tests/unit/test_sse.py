"""Reading a chat-completions stream: server-sent events and the chunks they carry."""

import json

import pytest

from bot.llm.client import ModelError, StreamStats, content_only, read_chunk
from bot.llm.sse import ServerSentEvent, SseDecoder


def events(*pieces: bytes) -> list[ServerSentEvent]:
    decoder = SseDecoder()
    return [event for piece in pieces for event in decoder.feed(piece)]


def byte_by_byte(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def test_data_lines_make_events_ended_by_a_blank_line():
    found = events(b'data: {"a": 1}\n\ndata:{"b": 2}\n\ndata: [DONE]\n\n')
    assert found == [ServerSentEvent('{"a": 1}'), ServerSentEvent('{"b": 2}'), ServerSentEvent("[DONE]")]


def test_several_data_lines_join_with_newlines_and_event_names_are_kept():
    found = events(b"event: error\ndata: first\ndata:  second\n\n")
    assert found == [ServerSentEvent("first\n second", "error")]


def test_comments_ids_and_empty_events_are_skipped():
    found = events(b": keep-alive\n\nid: 7\nretry: 100\n\ndata: x\n\n")
    assert found == [ServerSentEvent("x")]


def test_an_event_cut_before_its_blank_line_is_not_given_out():
    assert events(b"data: whole\n\ndata: half") == [ServerSentEvent("whole")]


def test_a_piece_gives_only_the_events_it_completes():
    decoder = SseDecoder()
    assert decoder.feed(b"data: one\n\ndata: tw") == [ServerSentEvent("one")]
    assert decoder.feed(b"o\n") == []
    assert decoder.feed(b"\n") == [ServerSentEvent("two")]


@pytest.mark.parametrize("ending", [b"\n", b"\r\n", b"\r"])
def test_every_line_ending_works_however_the_bytes_are_cut(ending):
    stream = ending.join([b"event: note", b"data: a", b"data: b", b"", b"data: c", b"", b""])
    expected = [ServerSentEvent("a\nb", "note"), ServerSentEvent("c")]
    assert events(stream) == expected
    assert events(*byte_by_byte(stream)) == expected


def test_a_character_cut_between_pieces_arrives_whole():
    stream = 'data: {"content": "chào ngày mới 🌅"}\n\n'.encode()
    assert events(*byte_by_byte(stream)) == [ServerSentEvent('{"content": "chào ngày mới 🌅"}')]


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


def slow_content(data: str) -> tuple[object, StreamStats]:
    stats = StreamStats()
    choice = read_chunk(data, None, stats)
    delta = choice.get("delta") if choice else None
    return (delta.get("content") if isinstance(delta, dict) else None), stats


def chunk(delta: object, *, finish: object = None, usage: object = None, compact: bool = True, **extra: object) -> str:
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        "usage": usage,
        **extra,
    }
    return json.dumps(body, separators=(",", ":") if compact else None, ensure_ascii=compact)


TRICKY = [
    "plain",
    ' with "quotes" and a \\ backslash',
    'text that says "finish_reason": "stop", "usage": {"x": 1}, "error": "no"',
    "Tết Nguyên Đán 🎉 and \n new lines\t",
    "",
    "ends with a backslash \\",
    'a quote and brace "} inside, then more',
    '"delta":{"content":"nested"} as text',
    '\\"',
]


@pytest.mark.parametrize("compact", [True, False])
@pytest.mark.parametrize("text", TRICKY)
def test_the_content_fast_path_reads_a_plain_chunk_as_the_json_parser_does(text, compact):
    data = chunk({"content": text}, compact=compact)
    content, stats = slow_content(data)
    assert content_only(data) == content == text
    assert (stats.finish_reason, stats.tokens_in, stats.tokens_out) == (None, None, None)


@pytest.mark.parametrize(
    "data",
    [
        chunk({"content": "last"}, finish="stop"),
        chunk({"content": "x"}, usage={"prompt_tokens": 3, "completion_tokens": 4}),
        chunk({"role": "assistant", "content": "x"}),
        chunk({"content": "x", "refusal": None}),
        chunk({"content": 'x"}', "refusal": None}),
        chunk({"content": "x", "reasoning_content": "thinking"}),
        chunk({"content": None, "reasoning_content": "thinking"}),
        chunk({"content": "x"}, error={"message": "overloaded"}),
        json.dumps({"choices": [{"delta": {"content": "a"}, "finish_reason": None}] * 2}),
        json.dumps({"choices": [{"delta": {"content": "a"}}]}),  # no finish_reason at all
    ],
)
def test_anything_else_is_left_to_the_json_parser(data):
    assert content_only(data) is None
