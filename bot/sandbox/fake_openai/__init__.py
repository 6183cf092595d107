"""A scripted, in-process fake of an OpenAI-compatible chat-completions server, for tests and benchmarks.

It speaks real HTTP on a real socket, so the bot's actual `openai.AsyncOpenAI` client is exercised::

    async with FakeOpenAI(model="fake-model") as fake:
        fake.script("First answer.", Reply("Second.", reasoning="Hmm.", ttft=0.2, tokens_per_second=50))
        fake.fail_next(RateLimited(retry_after=0.1))
        client = AsyncOpenAI(base_url=fake.base_url, api_key="anything")
        ...
        assert "culture" in fake.last_request.system_prompt

Surface: `POST /v1/chat/completions` (streamed as SSE or not, `stream_options.include_usage`,
`reasoning_content` deltas, `response_format` ignored: the scripted text is returned as-is) and
`GET /v1/models`.  Faults (`RateLimited`, `ServerError`, `Hang`, `CutStream`, `MalformedChunk`) simulate
what goes wrong with real endpoints; each class documents what the real client raises.

`python -m bot.sandbox.fake_openai --port N` runs it as a separate process (see `__main__`).
"""

from ._model import (
    CutStream,
    EmptyStream,
    EndsQuietly,
    Fault,
    Hang,
    HoldsAfterDone,
    KeepAliveOnly,
    MalformedChunk,
    RateLimited,
    RecordedRequest,
    Reply,
    Responder,
    ServerError,
    Usage,
    count_tokens,
    split_tokens,
)
from ._server import DEFAULT_REPLY_TEXT, FakeOpenAI

__all__ = [
    "DEFAULT_REPLY_TEXT",
    "CutStream",
    "EmptyStream",
    "EndsQuietly",
    "FakeOpenAI",
    "Fault",
    "Hang",
    "HoldsAfterDone",
    "KeepAliveOnly",
    "MalformedChunk",
    "RateLimited",
    "RecordedRequest",
    "Reply",
    "Responder",
    "ServerError",
    "Usage",
    "count_tokens",
    "split_tokens",
]
