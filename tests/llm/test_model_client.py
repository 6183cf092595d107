"""The model client against the OpenAI-compatible fake, over a real socket with the real openai client."""

import itertools
import time

import pytest

from bot.llm.client import ModelClient, ModelError, StreamStats
from bot.sandbox.fake_openai import (
    CutStream,
    EmptyStream,
    EndsQuietly,
    FakeOpenAI,
    Hang,
    HoldsAfterDone,
    KeepAliveOnly,
    MalformedChunk,
    RateLimited,
    Reply,
    ServerError,
)

MESSAGES = [{"role": "system", "content": "guidance"}, {"role": "user", "content": "question"}]


@pytest.fixture
async def fake():
    async with FakeOpenAI(model="fake-model") as fake:
        yield fake


@pytest.fixture
async def make_client(fake):
    """Clients for the fake, closed after the test (their HTTP sessions hold connections)."""
    made = []

    def make(*, retries=2, timeout=5.0, max_tokens=100):
        client = ModelClient(
            base_url=fake.base_url,
            api_key="test-key",
            model="fake-model",
            timeout=timeout,
            max_retries=retries,
            max_tokens=max_tokens,
            temperature=0.2,
        )
        made.append(client)
        return client

    yield make
    for client in made:
        await client.close()


async def collect(client, stats=None):
    stats = stats or StreamStats()
    parts = [part async for part in client.stream(MESSAGES, stats)]
    return parts, stats


async def test_streams_text_and_records_usage(fake, make_client):
    fake.script(Reply("One two three four five.", tokens_per_second=200))
    client = make_client()
    parts, stats = await collect(client)
    assert "".join(parts) == "One two three four five."
    assert len(parts) > 1, "text must arrive in pieces, not all at the end"
    assert stats.tokens_in and stats.tokens_out
    assert stats.ttft_ms is not None and stats.total_ms is not None and stats.total_ms >= stats.ttft_ms
    request = fake.last_request
    assert request.json["stream"] is True
    assert request.json["max_tokens"] == 100
    assert request.api_key == "test-key"
    assert request.messages == MESSAGES


async def test_reasoning_field_and_think_tags_never_come_out(fake, make_client):
    fake.script(Reply("<think>inner monologue</think>Visible answer.", reasoning="private chain of thought"))
    parts, _ = await collect(make_client())
    assert "".join(parts) == "Visible answer."


async def test_reasoning_cut_off_by_the_length_limit_never_comes_out(fake, make_client):
    client = make_client()
    client.expect_reasoning = True  # an R1-style model: its template opens <think> in the prompt
    fake.script(Reply("First I should consider the hierarchy, then", finish_reason="length"))
    parts, stats = await collect(client)
    assert parts == [] and stats.reasoning_cut_off
    # A held answer that ends normally is an answer after all; one with its tag shows only the answer.
    fake.script(Reply("Use Pak.", finish_reason="stop"), Reply("Thinking.</think>Use Bu.", finish_reason="length"))
    parts, stats = await collect(client)
    assert "".join(parts) == "Use Pak." and not stats.reasoning_cut_off
    client.expect_reasoning = True  # (a whole answer without a tag unlearnt it)
    parts, stats = await collect(client)
    assert "".join(parts) == "Use Bu." and not stats.reasoning_cut_off


async def test_reasoning_longer_than_the_answer_limit_is_held_back_whole(fake, make_client):
    """An R1-style model allowed many tokens reasons for more than 6,000 characters before its closing tag: none
    of it may come out (the bot cuts what it shows at its answer limit, before a later restart could replace it)."""
    client = make_client(max_tokens=4000)
    client.expect_reasoning = True
    reasoning = " ".join(f"step{i} of weighing the hierarchy." for i in range(400))  # about 13,000 characters
    assert len(reasoning) > 6000
    fake.script(Reply(reasoning + "</think>Use Pak with his first name.", tokens_per_second=5000))
    parts, _ = await collect(client)
    assert "".join(parts) == "Use Pak with his first name."


async def test_rate_limit_and_server_error_are_retried(fake, make_client):
    fake.fail_next(RateLimited(retry_after=0.05))
    fake.fail_next(ServerError(status=503))
    fake.script("Recovered.")
    started = time.monotonic()
    parts, _ = await collect(make_client(retries=3))
    assert "".join(parts) == "Recovered."
    assert len(fake.chat_requests) == 3
    assert time.monotonic() - started >= 0.05


async def test_retries_are_bounded(fake, make_client):
    fake.fail_next(ServerError(status=500), count=10)
    with pytest.raises(ModelError, match="HTTP 500"):
        await collect(make_client(retries=2))
    assert len(fake.chat_requests) == 3  # the first try and two retries


@pytest.mark.parametrize(
    ("fault", "refusal"),
    [
        (ServerError(status=402, message="Insufficient credits"), "quota"),
        (ServerError(status=429, message="You exceeded your current quota", code="insufficient_quota"), "quota"),
        # Passing rate limits that name a quota in their words only (Azure's, Gemini's): not out of quota.
        (
            ServerError(status=429, message="Requests exceeded token rate limit, see https://aka.ms/oai/quotaincrease"),
            None,
        ),
        (ServerError(status=429, message="Resource has been exhausted (e.g. check quota)."), None),
        (ServerError(status=403, message="Your input was flagged by moderation"), "filtered"),
        (ServerError(status=403, message="Project does not have access to model"), None),
    ],
)
async def test_refusals_are_told_apart_by_status_and_code(fake, make_client, fault, refusal):
    fake.fail_next(fault, count=3)
    with pytest.raises(ModelError) as raised:
        await collect(make_client(retries=0))
    assert raised.value.refusal == refusal


async def test_timeout_becomes_model_error(fake, make_client):
    fake.fail_next(Hang(seconds=5))
    with pytest.raises(ModelError, match="timed out"):
        await collect(make_client(retries=0, timeout=0.3))


@pytest.mark.parametrize("fault", [CutStream(after_chunks=3), MalformedChunk(after_chunks=3)])
async def test_broken_stream_keeps_what_arrived(fake, make_client, fault):
    fake.script(Reply("alpha beta gamma delta epsilon zeta", fault=fault))
    received = []
    stats = StreamStats()
    with pytest.raises(ModelError):
        async for part in make_client(retries=0).stream(MESSAGES, stats):
            received.append(part)
    assert "".join(received).startswith("alpha")
    assert stats.total_ms is not None


async def test_a_paced_stream_brings_what_arrived_meanwhile_in_one_piece(fake, make_client):
    text = " ".join(f"word{i}" for i in range(40))
    fake.script(Reply(text, ttft=0.05, tokens_per_second=100))  # 0.4 s of tokens
    fake.script(Reply(text, ttft=0.05, tokens_per_second=100))
    client = make_client()
    unpaced, _ = await collect(client)
    paced_at = []
    stats = StreamStats()
    async for part in client.stream(MESSAGES, stats, pace=lambda: 0.15):
        paced_at.append((time.monotonic(), part))
    assert "".join(part for _, part in paced_at) == "".join(unpaced) == text
    assert len(unpaced) >= 20  # a piece per token or so when read as it comes
    assert len(paced_at) <= 6  # the first at once, then what arrived in each 0.15 s at one go
    assert len(paced_at[0][1].split()) <= 2  # the first text is not held back
    assert all(b - a >= 0.14 for (a, _), (b, _) in itertools.pairwise(paced_at))


async def test_a_paced_stream_ends_without_waiting_once_the_model_has_finished(fake, make_client):
    fake.script(Reply("one two three four five six", ttft=0.05, tokens_per_second=100))  # done by ~0.1 s
    started = time.monotonic()
    pieces = [part async for part in make_client().stream(MESSAGES, StreamStats(), pace=lambda: 0.5)]
    # The second piece holds the rest and the finish, so no second half-second wait follows it.
    assert "".join(pieces) == "one two three four five six"
    assert time.monotonic() - started < 0.9


async def test_an_unreachable_endpoint_is_a_model_error(make_client, unused_tcp_port):
    client = ModelClient(
        base_url=f"http://127.0.0.1:{unused_tcp_port}/v1",
        api_key=None,
        model="fake-model",
        timeout=2.0,
        max_retries=1,
        max_tokens=10,
        temperature=0.2,
    )
    try:
        with pytest.raises(ModelError, match="unreachable"):
            await collect(client)
    finally:
        await client.close()


async def test_a_read_timeout_mid_stream_keeps_what_arrived(fake, make_client):
    fake.script(Reply("first second third", tokens_per_second=1))  # a token a second: reads time out
    received = []
    with pytest.raises(ModelError, match=r"timed out|broken"):
        async for part in make_client(retries=0, timeout=0.4).stream(MESSAGES, StreamStats()):
            received.append(part)
    assert "".join(received) == "first"


async def test_an_r1_model_behind_a_reasoning_parser_streams_its_answer_and_keeps_it_at_the_length_limit(
    fake, make_client
):
    # OpenRouter, DeepSeek's API and vLLM's reasoning parser send the reasoning in a field of its own: the
    # content is then all answer, though the model's name says its reasoning would open in the prompt.
    client = make_client()
    client.expect_reasoning = True
    answer = " ".join(f"word{i}" for i in range(60))
    for field_name in ("reasoning_content", "reasoning"):
        fake.script(
            Reply(
                answer,
                reasoning="weighing the hierarchy " * 20,
                reasoning_field=field_name,
                finish_reason="length",
                tokens_per_second=400,
            )
        )
        parts, stats = await collect(client)
        assert "".join(parts) == answer, field_name
        assert len(parts) > 1, "streamed as it came, not held back to the end"
        assert not stats.reasoning_cut_off


async def test_an_answer_held_back_to_the_end_gets_its_time_to_first_text(fake, make_client):
    client = make_client()
    client.expect_reasoning = True
    fake.script(Reply("Use Pak.", ttft=0.2))  # no tag: held as possible reasoning until the end
    parts, stats = await collect(client)
    assert "".join(parts) == "Use Pak."
    assert stats.ttft_ms is not None and stats.ttft_ms >= 200


async def test_estimated_tokens_count_the_reasoning_too(fake, make_client):
    # An endpoint without usage: the estimate covers what the model wrote, reasoning included.
    for reply in (
        Reply("Use Pak.", reasoning="r" * 6000, fault=EndsQuietly()),
        Reply("<think>" + "r" * 6000 + "</think>Use Pak.", fault=EndsQuietly()),
    ):
        fake.script(reply)
        parts, stats = await collect(make_client())
        assert "".join(parts) == "Use Pak."
        assert stats.tokens_estimated and stats.tokens_out is not None and stats.tokens_out >= 1500


async def test_a_model_stuck_behind_keep_alive_comments_fails_after_the_timeout(fake, make_client):
    fake.script(Reply("Too late.", fault=KeepAliveOnly(seconds=30, every=0.2)))
    started = time.monotonic()
    with pytest.raises(ModelError, match=r"sent no data for 1 s, only keep-alives"):
        await collect(make_client(retries=0, timeout=1.0))
    assert time.monotonic() - started < 5
    # Keep-alives while the model starts, then its answer within the timeout: nothing wrong.
    fake.script(Reply("Worth the wait.", fault=KeepAliveOnly(seconds=0.6, every=0.2)))
    parts, _ = await collect(make_client(retries=0, timeout=1.0))
    assert "".join(parts) == "Worth the wait."


async def test_a_response_kept_open_after_done_ends_the_stream_at_done(fake, make_client):
    fake.script(Reply("Complete answer.", fault=HoldsAfterDone(seconds=30)))
    started = time.monotonic()
    parts, stats = await collect(make_client(retries=0, timeout=10.0))
    assert "".join(parts) == "Complete answer."
    assert stats.done and stats.finish_reason == "stop"
    assert time.monotonic() - started < 5, "not waiting for the server to end the response"
    # The next question still works (the connection was closed, not left half-read).
    fake.script("Next.")
    parts, _ = await collect(make_client())
    assert parts == ["Next."]


async def test_the_start_up_check_names_a_base_url_without_v1_and_a_refused_key(fake, make_client):
    client = make_client()
    assert await client.endpoint_problem() is None
    root = fake.base_url.removesuffix("/v1")
    without_v1 = ModelClient(
        base_url=root, api_key=None, model="fake-model", timeout=5, max_retries=0, max_tokens=10, temperature=0
    )
    try:
        assert await without_v1.endpoint_problem() == (
            f"the model endpoint answers at {root}/v1, not at {root}: set CULTUREBOT_MODEL_BASE_URL={root}/v1"
        )
    finally:
        await without_v1.close()
    async with FakeOpenAI(model="fake-model", api_key="right-key") as guarded:
        wrong = ModelClient(
            base_url=guarded.base_url, api_key="wrong", model="fake-model", timeout=5, max_retries=0,
            max_tokens=10, temperature=0,
        )  # fmt: skip
        try:
            problem = await wrong.endpoint_problem()
        finally:
            await wrong.close()
    assert (
        problem == f"the model endpoint {guarded.base_url}/ refused CULTUREBOT_MODEL_API_KEY (HTTP 401): check the key"
    )


async def test_an_empty_response_fails_and_charges_no_tokens(fake, make_client):
    fake.script(Reply("never sent", fault=EmptyStream()))
    stats = StreamStats()
    with pytest.raises(ModelError, match=r"empty response \(is the prompt longer than its context\?\)"):
        await collect(make_client(retries=0), stats)
    assert (stats.tokens_in, stats.tokens_out) == (0, 0)


async def test_a_key_that_may_chat_but_not_list_models_passes_the_start_up_check(make_client):
    async with FakeOpenAI(model="fake-model", list_models=False) as restricted:
        client = ModelClient(
            base_url=restricted.base_url, api_key="restricted", model="fake-model", timeout=5, max_retries=0,
            max_tokens=10, temperature=0,
        )  # fmt: skip
        try:
            assert await client.endpoint_problem() is None
            restricted.script("Still answers.")
            assert (await collect(client))[0] == ["Still answers."]
        finally:
            await client.close()
