"""The HTTP transport under the openai client: one aiohttp session, built for many long streams.

The openai SDK speaks httpx2. Its own aiohttp transport (the SDK's `aiohttp` extra) reads a streamed token
for about a third of what httpx2's does, but it is private to the SDK and gives no hold on the connection.
This one does the same job and adds what a bot streaming hundreds of answers needs: `ReadControl`, in each
response's `extensions["culturebot.read_control"]`, stops and restarts reading the connection. A reader
that only needs the text once a second (the Discord message is edited about that often) pauses reading in
between: the kernel keeps the tokens that arrive meanwhile, and the bot is woken once for all of them
instead of once per token.

aiohttp's errors are raised as httpx2's, as the openai client expects: timeouts as timeouts (it reports them
as such) and every other failure as a transport error, which it retries and reports as a connection error.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator

import aiohttp
import httpx2

READ_CONTROL = "culturebot.read_control"


@contextlib.contextmanager
def _as_httpx2_errors(*, connecting: bool) -> Iterator[None]:
    try:
        yield
    except aiohttp.ClientConnectorError as error:
        raise httpx2.ConnectError(str(error)) from error
    except (TimeoutError, aiohttp.ServerTimeoutError) as error:
        raise (httpx2.ConnectTimeout if connecting else httpx2.ReadTimeout)(str(error) or "timed out") from error
    except (aiohttp.ClientError, OSError) as error:
        raise (httpx2.ConnectError if connecting else httpx2.ReadError)(str(error) or repr(error)) from error


class ReadControl:
    """Pause and resume reading a response's connection (a no-op once the response is done)."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self._paused: asyncio.Transport | None = None

    def pause(self) -> None:
        connection = self._response.connection
        transport = connection.transport if connection is not None else None
        if self._paused is None and isinstance(transport, asyncio.Transport) and not transport.is_closing():
            transport.pause_reading()
            self._paused = transport

    def resume(self) -> None:
        if self._paused is not None:
            if not self._paused.is_closing():
                self._paused.resume_reading()
            self._paused = None


class _ResponseStream(httpx2.AsyncByteStream):
    def __init__(self, response: aiohttp.ClientResponse, control: ReadControl) -> None:
        self._response = response
        self._control = control

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _as_httpx2_errors(connecting=False):
            # Whatever has arrived, as it is: a streamed answer wants its tokens, not full buffers.
            async for data in self._response.content.iter_any():
                yield data

    async def aclose(self) -> None:
        # A connection must not go back to the pool (or be closed) with reading paused.
        self._control.resume()
        self._response.release()


class AiohttpTransport(httpx2.AsyncBaseTransport):
    """An httpx2 transport over one aiohttp session, created on first use in the running event loop."""

    def __init__(self, *, max_connections: int = 1000, keepalive_seconds: float = 30.0) -> None:
        self._max_connections = max_connections
        # Longer than httpx's 5 s: between bursts of questions the connections (and, to a hosted API, their
        # TLS sessions) stay ready instead of being opened again on the next question's path.
        self._keepalive_seconds = keepalive_seconds
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._max_connections, keepalive_timeout=self._keepalive_seconds)
            self._session = aiohttp.ClientSession(connector=connector, auto_decompress=False)
        return self._session

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        timeout = request.extensions.get("timeout", {})
        body = await request.aread()
        with _as_httpx2_errors(connecting=True):
            response = await self._client().request(
                request.method,
                str(request.url),
                headers=list(request.headers.multi_items()),
                data=body or None,
                allow_redirects=False,  # the openai client decides
                compress=None,
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    connect=timeout.get("pool"),
                    sock_connect=timeout.get("connect"),
                    sock_read=timeout.get("read"),
                ),
            )
        control = ReadControl(response)
        extensions: dict[str, object] = {"http_version": b"HTTP/1.1", READ_CONTROL: control}
        if response.reason:
            extensions["reason_phrase"] = response.reason.encode()
        return httpx2.Response(
            status_code=response.status,
            headers=list(response.raw_headers),
            stream=_ResponseStream(response, control),
            request=request,
            extensions=extensions,
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
