"""Turning a bot's message request (JSON or multipart) into stored messages and attachments.

Shared by channel messages, interaction responses and webhook followups, which all accept the same body.
"""

from __future__ import annotations

import re
from typing import Any

from . import errors
from .http_util import ParsedBody
from .models import JSON, Attachment
from .state import StandInState

_FILE_FIELD = re.compile(r"files\[(\d+)\]|file(\d*)")

MAX_CONTENT = 2000
MAX_EMBEDS = 10
# Discord's embed limits, in characters: each text's own, and all embeds of a message together (EMBED_TOTAL counts
# the title, description, field names and values, footer text and author name).
EMBED_TITLE = 256
EMBED_DESCRIPTION = 4096
EMBED_FIELDS = 25
EMBED_FIELD_NAME = 256
EMBED_FIELD_VALUE = 1024
EMBED_FOOTER_TEXT = 2048
EMBED_AUTHOR_NAME = 256
EMBED_TOTAL = 6000


def uploads_as_attachments(
    state: StandInState, channel_id: int, body: ParsedBody, *, ephemeral: bool = False
) -> list[Attachment]:
    """Store the uploaded files, naming/describing them from the ``attachments`` entries of the payload."""
    meta: dict[int, JSON] = {}
    for entry in body.obj.get("attachments") or []:
        try:
            meta[int(entry["id"])] = entry
        except (KeyError, TypeError, ValueError):
            continue
    stored: list[Attachment] = []
    for position, upload in enumerate(body.files):
        match = _FILE_FIELD.fullmatch(upload.field)
        index = position
        if match is not None and match.group(1) is not None:
            index = int(match.group(1))
        info = meta.get(index, {})
        stored.append(
            state.store_attachment(
                channel_id,
                str(info.get("filename") or upload.filename),
                upload.data,
                content_type=upload.content_type if upload.content_type != "application/octet-stream" else None,
                description=info.get("description"),
                ephemeral=ephemeral,
            )
        )
    return stored


def new_message_fields(body: ParsedBody) -> dict[str, Any]:
    """Keyword arguments for ``StandInState.create_message`` from a create-message body."""
    data = body.obj
    embeds = data.get("embeds")
    if embeds is None and data.get("embed"):
        embeds = [data["embed"]]
    return {
        "content": str(data.get("content") or ""),
        "embeds": list(embeds or []),
        "components": list(data.get("components") or []),
        "allowed_mentions": data.get("allowed_mentions"),
        "message_reference": data.get("message_reference"),
        "tts": bool(data.get("tts", False)),
        "nonce": data.get("nonce"),
        "flags": int(data.get("flags") or 0),
        "poll": data.get("poll"),
        "sticker_ids": [int(s) for s in data.get("sticker_ids") or []],
    }


def validate_new_message(fields: dict[str, Any], attachments: list[Attachment]) -> None:
    """Discord's checks: not empty (50006), content ≤ 2000 characters, ≤ 10 embeds each within its limits (50035)."""
    if not (
        fields["content"] or fields["embeds"] or attachments or fields["components"] or fields["sticker_ids"]
    ) and not fields.get("poll"):
        raise errors.ApiError(400, 50006, "Cannot send an empty message")
    validate_lengths(fields)


def validate_lengths(fields: dict[str, Any]) -> None:
    """Discord's length checks of a message body (created, edited, or sent for an interaction): content ≤ 2000
    characters, ≤ 10 embeds, and each embed within Discord's limits (`embed_errors`); 400 Invalid Form Body (50035)
    otherwise, naming each offending value as Discord does."""
    content = fields.get("content")
    if isinstance(content, str) and len(content) > MAX_CONTENT:
        raise errors.invalid_form(
            errors={
                "content": {
                    "_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length."}]
                }
            }
        )
    embeds = fields.get("embeds")
    if isinstance(embeds, list) and len(embeds) > MAX_EMBEDS:
        raise errors.invalid_form(
            errors={
                "embeds": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 10 or fewer in length."}]}
            }
        )
    found: dict[str, Any] = {}
    if isinstance(embeds, list):
        found = embed_errors(embeds, "embeds")
    elif isinstance(fields.get("embed"), dict):  # the older single-embed key
        found = embed_errors([fields["embed"]], "embed")
    if found:
        raise errors.invalid_form(errors=found)


def _too_long(limit: int) -> dict[str, Any]:
    return {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": f"Must be {limit} or fewer in length."}]}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def embed_errors(embeds: list[Any], key: str) -> dict[str, Any]:
    """Discord's error tree for embeds over its limits, {} when all are within them: each too long text under its
    path (``embeds.0.fields.3.value``), and, over all embeds together, more than EMBED_TOTAL characters under the
    key itself ("Embed size exceeds maximum size of 6000")."""
    tree: dict[str, Any] = {}
    total = 0
    for index, embed in enumerate(embeds):
        problems, size = _embed_problems(_object(embed))
        total += size
        if problems:
            tree[str(index)] = problems
    if total > EMBED_TOTAL:
        tree["_errors"] = [
            {"code": "MAX_EMBED_SIZE_EXCEEDED", "message": f"Embed size exceeds maximum size of {EMBED_TOTAL}"}
        ]
    return {key: tree} if tree else {}


def _embed_problems(embed: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """One embed's texts over their limits, by path, and its size as Discord counts it toward EMBED_TOTAL."""
    texts = {
        ("title",): (_text(embed.get("title")), EMBED_TITLE),
        ("description",): (_text(embed.get("description")), EMBED_DESCRIPTION),
        ("footer", "text"): (_text(_object(embed.get("footer")).get("text")), EMBED_FOOTER_TEXT),
        ("author", "name"): (_text(_object(embed.get("author")).get("name")), EMBED_AUTHOR_NAME),
    }
    fields = embed.get("fields")
    fields = fields if isinstance(fields, list) else []
    for position, field in enumerate(fields):
        field = _object(field)
        texts[("fields", str(position), "name")] = (_text(field.get("name")), EMBED_FIELD_NAME)
        texts[("fields", str(position), "value")] = (_text(field.get("value")), EMBED_FIELD_VALUE)
    problems: dict[str, Any] = {}
    if len(fields) > EMBED_FIELDS:
        problems["fields"] = _too_long(EMBED_FIELDS)
    for path, (text, limit) in texts.items():
        if len(text) > limit:
            branch = problems
            for part in path[:-1]:
                branch = branch.setdefault(part, {})
            branch[path[-1]] = _too_long(limit)
    return problems, sum(len(text) for text, _ in texts.values())
