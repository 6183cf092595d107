"""The start-up check of the model name and base URL, against servers that list and route models as real ones do
(Ollama, llama.cpp's server, proxies without a model list), over real sockets with the real openai client."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from openai.types.chat import ChatCompletionMessageParam

from bot.llm.client import ModelClient, ModelError, StreamStats
from bot.sandbox.fake_openai import FakeOpenAI, ServerError
from tests.e2e.test_shutdown import refused_start

CLIENT_LOG = "bot.llm.client"
QUESTION: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]


@dataclass
class Served:
    """An OpenAI-compatible server under `prefix` that lists `models` (None: GET /models is a 404) and, like Ollama
    and vLLM, answers only a listed model's name (`any_name`: any name, like llama.cpp's server); `refusal` is
    (status, body) for every chat request."""

    models: list[str] | None
    prefix: str = "/v1"
    any_name: bool = False
    refusal: tuple[int, object] | None = None
    requests: list[str] = field(default_factory=list)
    base_url: str = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(f"{request.method} {request.path}")
        if request.path == f"{self.prefix}/models" and request.method == "GET" and self.models is not None:
            listed = [{"id": name, "object": "model", "created": 0, "owned_by": "library"} for name in self.models]
            return web.json_response({"object": "list", "data": listed})
        if request.path == f"{self.prefix}/chat/completions" and request.method == "POST":
            body = await request.json()
            if self.refusal is not None:
                status, error = self.refusal
                return (
                    web.json_response(error, status=status)
                    if isinstance(error, dict)
                    else web.Response(status=status, text=str(error))
                )
            name = body["model"]
            served = self.models or []
            if not self.any_name and name not in served and f"{name}:latest" not in served:
                error = {"message": f'model "{name}" not found, try pulling it first', "type": "api_error"}
                return web.json_response({"error": error}, status=404)
            return await self._answer(request, name, stream=bool(body.get("stream")))
        return web.Response(status=404, text="404 page not found")

    @staticmethod
    async def _answer(request: web.Request, name: str, *, stream: bool) -> web.StreamResponse:
        if not stream:
            message = {"role": "assistant", "content": "OK"}
            choice = {"index": 0, "message": message, "finish_reason": "length"}
            return web.json_response({"id": "x", "object": "chat.completion", "model": name, "choices": [choice]})
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        chunk = {"choices": [{"index": 0, "delta": {"content": "Hello."}, "finish_reason": "stop"}]}
        await response.write(f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n".encode())
        return response


@contextlib.asynccontextmanager
async def serving(served: Served) -> AsyncIterator[Served]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", served.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    served.base_url = f"http://{host}:{port}{served.prefix}"
    try:
        yield served
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def model_client(base_url: str, model: str, api_key: str | None = None) -> AsyncIterator[ModelClient]:
    client = ModelClient(
        base_url=base_url, api_key=api_key, model=model, timeout=5, max_retries=0, max_tokens=10, temperature=0
    )
    try:
        yield client
    finally:
        await client.close()


def logged(caplog: pytest.LogCaptureFixture, level: int = logging.WARNING) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == CLIENT_LOG and r.levelno == level]


@pytest.fixture(autouse=True)
def _client_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=CLIENT_LOG)


async def test_a_name_the_endpoint_does_not_serve_stops_the_start_with_the_names_it_serves(world):
    """.env.example's gpt-4o-mini against an Ollama: one line saying what to set, instead of a warning and then
    a failure on every question."""
    async with serving(Served(["mymodel:latest", "qwen2.5:7b"])) as ollama:
        text = await refused_start(
            world, CULTUREBOT_MODEL_BASE_URL=ollama.base_url, CULTUREBOT_MODEL_NAME="gpt-4o-mini"
        )
    assert (
        f"culturebot: CULTUREBOT_MODEL_NAME=gpt-4o-mini is not served by {ollama.base_url}; it serves: "
        "mymodel:latest, qwen2.5:7b. Set CULTUREBOT_MODEL_NAME to one of them.\n"
    ) in text
    # The start-up log says which endpoint and model are in use (and whether a key is, never the key).
    assert f"model endpoint {ollama.base_url}, model gpt-4o-mini, no API key" in text
    assert "shut down cleanly" not in text


async def test_a_name_listed_with_its_latest_tag_is_served(caplog):
    async with serving(Served(["mymodel:latest"])) as ollama, model_client(ollama.base_url, "mymodel") as client:
        assert await client.endpoint_problem() is None
        assert not logged(caplog)
        assert ollama.requests == ["GET /v1/models"], "a listed name needs no request to the model"
        assert [part async for part in client.stream(QUESTION, StreamStats())]


async def test_a_server_that_answers_names_it_does_not_list_only_gets_a_warning(caplog):
    """llama.cpp's server answers any name with its one model; OpenRouter's variants (`:nitro`) are not listed."""
    async with FakeOpenAI(model="the-loaded-model") as fake, model_client(fake.base_url, "gpt-4o-mini") as client:
        assert await client.endpoint_problem() is None
    [warning] = logged(caplog)
    assert "does not list CULTUREBOT_MODEL_NAME=gpt-4o-mini but answered a request for it" in warning
    assert "(it lists the-loaded-model)" in warning
    assert fake.chat_requests[0].json["max_tokens"] == 1, "one token is enough to know"


async def test_a_refusal_that_is_not_about_the_name_only_gets_a_warning(caplog):
    unsupported = {"error": {"message": "Unsupported parameter: 'max_tokens'", "type": "invalid_request_error"}}
    async with (
        serving(Served(["o-model"], refusal=(400, unsupported))) as served,
        model_client(served.base_url, "o-model-alias") as client,
    ):
        assert await client.endpoint_problem() is None
    [warning] = logged(caplog)
    assert "does not list CULTUREBOT_MODEL_NAME=o-model-alias (it lists o-model), and a request for it failed" in (
        warning
    )
    assert "Unsupported parameter" in warning


async def test_a_refusal_naming_the_model_in_plain_text_stops_the_start():
    async with (
        serving(Served(["served-model"], refusal=(400, "Invalid model name passed in model=wrong-name"))) as proxy,
        model_client(proxy.base_url, "wrong-name") as client,
    ):
        problem = await client.endpoint_problem()
    assert problem == (
        f"CULTUREBOT_MODEL_NAME=wrong-name is not served by {proxy.base_url}; it serves: served-model. "
        "Set CULTUREBOT_MODEL_NAME to one of them."
    )


async def test_a_long_model_list_shows_the_ten_closest_names_first():
    names = [f"vendor/model-{i:02d}" for i in range(30)] + ["meta-llama/llama-3.1-70b-instruct"]
    async with serving(Served(names)) as router, model_client(router.base_url, "meta-llama/llama-3.1-70b") as client:
        problem = await client.endpoint_problem()
    assert problem is not None
    served = problem.split("it serves: ", 1)[1]
    assert served.startswith("meta-llama/llama-3.1-70b-instruct, ")
    assert "(10 of 31, the closest to it first). Set CULTUREBOT_MODEL_NAME to one of them." in served
    assert len(served.split(" (10 of")[0].split(", ")) == 10


async def test_a_wrong_path_is_logged_with_the_likely_fix(caplog):
    """http://localhost:11434/api is Ollama's own API: neither /api/models nor /api/v1/models exist."""
    async with serving(Served(["mymodel:latest"])) as ollama:
        root = ollama.base_url.removesuffix("/v1")
        async with model_client(f"{root}/api", "mymodel") as client:
            assert await client.endpoint_problem() is None
    [warning] = logged(caplog)
    assert f"lists no models at {root}/api/models or {root}/api/v1/models (HTTP 404)" in warning
    assert f"until CULTUREBOT_MODEL_BASE_URL={root}/v1" in warning


async def test_an_endpoint_without_a_model_list_is_logged_not_refused(caplog):
    """Some proxies serve chat completions only: their 404 for /models says nothing about the name."""
    async with serving(Served(None, any_name=True)) as proxy, model_client(proxy.base_url, "any") as client:
        assert await client.endpoint_problem() is None
        assert [part async for part in client.stream(QUESTION, StreamStats())]
    [warning] = logged(caplog)
    assert f"lists no models at {proxy.base_url}/models (HTTP 404), so CULTUREBOT_MODEL_NAME=any cannot be checked" in (
        warning
    )
    assert "usually ending in /v1" in warning


async def test_an_empty_model_list_is_logged_not_refused(caplog):
    async with serving(Served([])) as ollama, model_client(ollama.base_url, "llama3.1") as client:
        assert await client.endpoint_problem() is None
    [warning] = logged(caplog)
    assert "lists no models, so CULTUREBOT_MODEL_NAME=llama3.1 cannot be checked" in warning


async def test_the_start_up_line_names_the_endpoint_and_model_but_never_the_key(caplog):
    async with FakeOpenAI(model="fake-model") as fake, model_client(fake.base_url, "fake-model", "sk-secret") as client:
        assert await client.endpoint_problem() is None
    [line] = logged(caplog, logging.INFO)
    assert line == f"model endpoint {fake.base_url}, model fake-model, with an API key"
    assert "secret" not in caplog.text


async def test_a_refused_question_is_logged_as_an_error_once_per_problem(caplog):
    """A name not served (the start-up check passed or was not run): every question fails the same way."""
    async with serving(Served(["mymodel:latest"])) as ollama, model_client(ollama.base_url, "gpt-4o-mini") as client:
        for _ in range(3):
            with pytest.raises(ModelError, match="HTTP 404"):
                async for _ in client.stream(QUESTION, StreamStats()):
                    pass
    [error] = logged(caplog, logging.ERROR)
    assert 'refused a question with HTTP 404 (Error code: 404 - model "gpt-4o-mini" not found' in error
    assert f"set CULTUREBOT_MODEL_NAME to a model {ollama.base_url} serves (it is gpt-4o-mini)" in error
    async with FakeOpenAI(model="fake-model") as fake, model_client(fake.base_url, "fake-model") as client:
        fake.fail_next(ServerError(status=401, message="Incorrect API key provided."), count=2)
        fake.fail_next(ServerError(status=500), count=1)
        for _ in range(3):
            with pytest.raises(ModelError):
                async for _ in client.stream(QUESTION, StreamStats()):
                    pass
    errors = logged(caplog, logging.ERROR)
    assert len(errors) == 2, "a second problem is logged once too; a 500 is not a settings problem"
    assert "HTTP 401" in errors[1] and "check CULTUREBOT_MODEL_API_KEY" in errors[1]
