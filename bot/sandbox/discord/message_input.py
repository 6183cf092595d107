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
    """Discord's checks: not empty (50006), content ≤ 2000 characters, ≤ 10 embeds (50035)."""
    if not (
        fields["content"] or fields["embeds"] or attachments or fields["components"] or fields["sticker_ids"]
    ) and not fields.get("poll"):
        raise errors.ApiError(400, 50006, "Cannot send an empty message")
    validate_lengths(fields)


def validate_lengths(fields: dict[str, Any]) -> None:
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
