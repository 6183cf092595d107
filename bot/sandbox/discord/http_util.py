"""HTTP helpers shared by the REST modules: Discord-style JSON responses and request bodies."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, web

from . import errors
from .models import JSON
from .observe import UploadedFile


def json_response(data: Any, status: int = 200) -> web.Response:
    """JSON with ``Content-Type: application/json`` exactly: discord.py only decodes that (no charset)."""
    response = web.Response(status=status, text=json.dumps(data), content_type="application/json")
    # aiohttp adds "; charset=utf-8" for text bodies; discord.py compares the header verbatim.
    response.headers["Content-Type"] = "application/json"
    return response


def no_content() -> web.Response:
    return web.Response(status=204)


def error_response(error: errors.ApiError) -> web.Response:
    return json_response(error.body(), status=error.status)


@dataclass
class ParsedBody:
    """A request body: the JSON (``payload_json`` for multipart) and any uploaded files."""

    json: Any = None
    files: list[UploadedFile] = field(default_factory=list)

    @property
    def obj(self) -> JSON:
        """The JSON body as an object (empty when there was none)."""
        return self.json if isinstance(self.json, dict) else {}


async def read_body(request: web.Request) -> ParsedBody:
    if not request.can_read_body:
        return ParsedBody()
    if request.content_type.startswith("multipart/"):
        return await _read_multipart(request)
    raw = await request.read()
    if not raw:
        return ParsedBody()
    try:
        return ParsedBody(json=json.loads(raw))
    except ValueError:
        raise errors.ApiError(400, 50109, "The request body contains invalid JSON.") from None


async def _read_multipart(request: web.Request) -> ParsedBody:
    body = ParsedBody()
    reader = await request.multipart()
    while True:
        part = await reader.next()
        if part is None:
            break
        if not isinstance(part, BodyPartReader):
            continue
        data = await part.read(decode=False)
        name = part.name or ""
        if name == "payload_json":
            body.json = json.loads(bytes(data))
        elif part.filename is not None:
            body.files.append(
                UploadedFile(
                    field=name,
                    filename=part.filename,
                    content_type=part.headers.get("Content-Type"),
                    data=bytes(data),
                )
            )
        else:
            # Plain form fields (rare): merge into the JSON object.
            if not isinstance(body.json, dict):
                body.json = {}
            body.json[name] = bytes(data).decode()
    return body


def snowflake(request: web.Request, name: str) -> int:
    try:
        return int(request.match_info[name])
    except (KeyError, ValueError):
        raise errors.invalid_form(f"{name} is not a snowflake") from None


#: Where the middleware leaves the parsed body (a typed ``RequestKey`` where aiohttp has them).
_REQUEST_KEY = getattr(web, "RequestKey", None)
BODY_KEY: Any = _REQUEST_KEY("standin_body", ParsedBody) if _REQUEST_KEY is not None else "standin_body"


def body_of(request: web.Request) -> ParsedBody:
    body = request.get(BODY_KEY)
    return body if isinstance(body, ParsedBody) else ParsedBody()
