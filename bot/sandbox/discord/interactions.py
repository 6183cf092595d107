"""Interactions: injecting slash commands, autocomplete, component clicks and modal submits, and serving
the callback and webhook (followup) routes the bot answers them with.

Every interaction keeps an :class:`InteractionRecord` so tests can read what the bot answered.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from . import errors
from .commands import CommandRegistry
from .core import StandInCore
from .http_util import ParsedBody, body_of, json_response, no_content, snowflake
from .interaction_payloads import (
    OptionValues,
    ResolvedBuilder,
    find_component,
    modal_submission,
    nest_subcommands,
)
from .message_input import new_message_fields, uploads_as_attachments, validate_lengths, validate_new_message
from .models import JSON, Message, MessageFlag
from .rest import API_PREFIX

PING = 1
APPLICATION_COMMAND = 2
MESSAGE_COMPONENT = 3
AUTOCOMPLETE = 4
MODAL_SUBMIT = 5

RESPONSE_PONG = 1
RESPONSE_CHANNEL_MESSAGE = 4
RESPONSE_DEFERRED_CHANNEL_MESSAGE = 5
RESPONSE_DEFERRED_UPDATE_MESSAGE = 6
RESPONSE_UPDATE_MESSAGE = 7
RESPONSE_AUTOCOMPLETE = 8
RESPONSE_MODAL = 9


@dataclass
class InteractionRecord:
    """One injected interaction and everything the bot answered.

    ``original`` is the response message (for type 6/7 answers: the message the component sits on),
    ``followups`` the webhook messages sent after it, ``modal`` the modal the bot opened and
    ``choices`` its autocomplete choices.
    """

    id: int
    token: str
    type: int
    guild_id: int | None
    channel_id: int
    user_id: int
    payload: JSON
    message_id: int | None = None
    created: float = field(default_factory=time.monotonic)
    response_type: int | None = None
    response_data: JSON | None = None
    responded_at: float | None = None
    original: Message | None = None
    followups: list[Message] = field(default_factory=list)
    ephemeral: bool = False
    modal: JSON | None = None
    choices: list[JSON] | None = None

    @property
    def data(self) -> JSON:
        inner = self.payload.get("data")
        return inner if isinstance(inner, dict) else {}

    @property
    def responded(self) -> bool:
        return self.response_type is not None

    @property
    def deferred(self) -> bool:
        return self.response_type in (RESPONSE_DEFERRED_CHANNEL_MESSAGE, RESPONSE_DEFERRED_UPDATE_MESSAGE)

    @property
    def thinking(self) -> bool:
        """Still showing "… is thinking": deferred and neither edited nor followed up."""
        return self.original is not None and bool(self.original.flags & MessageFlag.LOADING)

    @property
    def messages(self) -> list[Message]:
        """The original response (if it is a message) followed by the followups, without repeats."""
        seen: list[Message] = []
        for msg in [self.original, *self.followups]:
            if msg is not None and msg not in seen:
                seen.append(msg)
        return seen


class InteractionHub:
    """Creates interactions and handles the bot's callbacks and followups for them."""

    def __init__(self, core: StandInCore, commands: CommandRegistry, *, response_timeout: float = 3.0) -> None:
        self.core = core
        self.state = core.state
        self.commands = commands
        #: Like Discord: an initial response later than this fails with "Unknown interaction".
        self.response_timeout = response_timeout
        self.records: dict[int, InteractionRecord] = {}
        self._by_token: dict[str, InteractionRecord] = {}

    # ----------------------------------------------------------------- injection

    async def invoke_command(
        self,
        guild_id: int | None,
        channel_id: int,
        user_id: int,
        name: str,
        options: OptionValues = None,
        *,
        command_type: int = 1,
        target_id: int | None = None,
        locale: str = "en-US",
    ) -> int:
        data = self._command_data(guild_id, channel_id, user_id, name, options, command_type, target_id, None)
        record = await self._inject(APPLICATION_COMMAND, guild_id, channel_id, user_id, data, locale=locale)
        return record.id

    async def autocomplete(
        self,
        guild_id: int | None,
        channel_id: int,
        user_id: int,
        name: str,
        options: OptionValues,
        focused: str,
        *,
        locale: str = "en-US",
    ) -> int:
        data = self._command_data(guild_id, channel_id, user_id, name, options, 1, None, focused)
        record = await self._inject(AUTOCOMPLETE, guild_id, channel_id, user_id, data, locale=locale)
        return record.id

    async def click_component(
        self,
        channel_id: int,
        message_id: int,
        user_id: int,
        custom_id: str,
        *,
        values: Sequence[str] | None = None,
        locale: str = "en-US",
    ) -> int:
        """Click a button (or choose select ``values``) that really is on the message."""
        msg = self.state.messages.get(message_id)
        if msg is None or msg.deleted or msg.channel_id != channel_id:
            raise ValueError(f"no message {message_id} in channel {channel_id}")
        component = find_component(msg.components, custom_id)
        if component is None:
            raise ValueError(f"message {message_id} has no component with custom_id {custom_id!r}")
        if component.get("disabled"):
            raise ValueError(f"component {custom_id!r} is disabled")
        data: JSON = {"custom_id": custom_id, "component_type": int(component["type"])}
        if component["type"] != 2:
            data["values"] = list(values or [])
        record = await self._inject(
            MESSAGE_COMPONENT, msg.guild_id, channel_id, user_id, data, message=msg, locale=locale
        )
        return record.id

    async def submit_modal(
        self,
        source_interaction_id: int,
        values: Mapping[str, Any],
        *,
        user_id: int | None = None,
        custom_id: str | None = None,
        locale: str = "en-US",
    ) -> int:
        """Submit the modal the bot opened in answer to ``source_interaction_id``."""
        source = self.records.get(source_interaction_id)
        if source is None:
            raise ValueError(f"unknown interaction {source_interaction_id}")
        if source.modal is None:
            raise ValueError(f"interaction {source_interaction_id} was not answered with a modal")
        modal = source.modal
        if custom_id is not None and custom_id != modal.get("custom_id"):
            raise ValueError(f"the open modal is {modal.get('custom_id')!r}, not {custom_id!r}")
        data: JSON = {"custom_id": modal["custom_id"], "components": modal_submission(modal, values)}
        message = None
        if source.message_id is not None:
            message = self.state.messages.get(source.message_id)
        record = await self._inject(
            MODAL_SUBMIT,
            source.guild_id,
            source.channel_id,
            user_id if user_id is not None else source.user_id,
            data,
            message=message,
            locale=locale,
        )
        return record.id

    def _command_data(
        self,
        guild_id: int | None,
        channel_id: int,
        user_id: int,
        name: str,
        options: OptionValues,
        command_type: int,
        target_id: int | None,
        focused: str | None,
    ) -> JSON:
        path = name.split() if command_type == 1 else [name]  # context menu names may hold spaces
        definition = self.commands.find(path[0], guild_id, command_type)
        resolved = ResolvedBuilder(self.state, guild_id, channel_id)
        data: JSON = {
            "id": definition["id"] if definition else str(self.state.ids.next()),
            "name": path[0],
            "type": command_type,
        }
        if definition is not None and definition.get("guild_id"):
            data["guild_id"] = definition["guild_id"]
        if command_type == 1:
            data["options"] = nest_subcommands(
                definition, path[1:], options, resolved=resolved, user_id=user_id, focused=focused
            )
        elif target_id is not None:
            data["target_id"] = str(target_id)
            if command_type == 2:
                resolved.add_user(target_id)
            else:
                target = self.state.message(channel_id, target_id)
                resolved.add_message(self.state.message_payload(target))
        if resolved.data:
            data["resolved"] = resolved.data
        return data

    async def _inject(
        self,
        kind: int,
        guild_id: int | None,
        channel_id: int,
        user_id: int,
        data: JSON,
        *,
        message: Message | None = None,
        locale: str = "en-US",
    ) -> InteractionRecord:
        interaction_id = self.state.ids.next()
        token = f"aW50ZXJhY3Rpb246{interaction_id}:{secrets.token_urlsafe(24)}"
        payload = self._payload(kind, interaction_id, token, guild_id, channel_id, user_id, data, message, locale)
        record = InteractionRecord(
            id=interaction_id,
            token=token,
            type=kind,
            guild_id=guild_id,
            channel_id=channel_id,
            user_id=user_id,
            payload=payload,
            message_id=message.id if message is not None else None,
        )
        self.records[interaction_id] = record
        self._by_token[token] = record
        await self.core.dispatch("INTERACTION_CREATE", payload)
        return record

    def _payload(
        self,
        kind: int,
        interaction_id: int,
        token: str,
        guild_id: int | None,
        channel_id: int,
        user_id: int,
        data: JSON,
        message: Message | None,
        locale: str,
    ) -> JSON:
        state = self.state
        channel = state.channel(channel_id)
        if guild_id is not None and channel.guild_id != guild_id:
            raise ValueError(f"channel {channel_id} is not in guild {guild_id}")
        user = state.user(user_id)
        channel_payload = state.channel_payload(channel)
        channel_payload["permissions"] = str(state.channel_permissions(channel_id, user_id))
        payload: JSON = {
            "id": str(interaction_id),
            "application_id": str(state.application_id),
            "type": kind,
            "data": data,
            "channel": channel_payload,
            "channel_id": str(channel_id),
            "token": token,
            "version": 1,
            "locale": locale,
            "app_permissions": str(state.channel_permissions(channel_id, state.bot.id)),
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        if guild_id is not None:
            member = state.member_payload(guild_id, user_id)
            member["permissions"] = str(state.channel_permissions(channel_id, user_id))
            payload.update(
                guild_id=str(guild_id),
                guild={"id": str(guild_id), "locale": "en-US", "features": []},
                guild_locale="en-US",
                member=member,
                authorizing_integration_owners={"0": str(guild_id)},
                context=0,
            )
        else:
            payload.update(
                user=user.payload(),
                authorizing_integration_owners={"0": str(user_id)},
                context=1,
            )
        if message is not None:
            payload["message"] = state.message_payload(message)
        return payload

    # ----------------------------------------------------------------- routes

    def register(self, router: web.UrlDispatcher) -> None:
        router.add_post(API_PREFIX + "/interactions/{interaction_id}/{token}/callback", self.callback)
        w = API_PREFIX + "/webhooks/{application_id}/{token}"
        router.add_post(w, self.followup)
        router.add_get(w + "/messages/{message_id}", self.get_webhook_message)
        router.add_patch(w + "/messages/{message_id}", self.edit_webhook_message)
        router.add_delete(w + "/messages/{message_id}", self.delete_webhook_message)

    async def callback(self, request: web.Request) -> web.Response:
        record = self.records.get(snowflake(request, "interaction_id"))
        if record is None or record.token != request.match_info["token"]:
            raise errors.unknown("Interaction")
        if record.responded:
            raise errors.ApiError(400, 40060, "Interaction has already been acknowledged.")
        if time.monotonic() - record.created > self.response_timeout:
            raise errors.unknown("Interaction")
        body = body_of(request)
        response_type = int(body.obj.get("type", 0))
        inner = body.obj.get("data") or {}
        message = await self._respond(record, response_type, ParsedBody(json=inner, files=body.files))
        record.response_type = response_type
        record.response_data = inner
        record.responded_at = time.monotonic()
        self.core.changes.notify()
        resource: JSON = {"type": response_type}
        if message is not None and response_type in (
            RESPONSE_CHANNEL_MESSAGE,
            RESPONSE_DEFERRED_CHANNEL_MESSAGE,
            RESPONSE_UPDATE_MESSAGE,
        ):
            resource["message"] = self.state.message_payload(message)
        return json_response(
            {
                "interaction": {
                    "id": str(record.id),
                    "type": record.type,
                    "activity_instance_id": None,
                    "response_message_id": str(message.id) if message is not None else None,
                    "response_message_loading": response_type == RESPONSE_DEFERRED_CHANNEL_MESSAGE,
                    "response_message_ephemeral": record.ephemeral,
                },
                "resource": resource,
            }
        )

    async def _respond(self, record: InteractionRecord, response_type: int, body: ParsedBody) -> Message | None:
        data = body.obj
        is_component = record.type in (MESSAGE_COMPONENT, MODAL_SUBMIT)
        if response_type == RESPONSE_AUTOCOMPLETE:
            if record.type != AUTOCOMPLETE:
                raise errors.ApiError(400, 50035, "Autocomplete results only answer autocomplete interactions")
            record.choices = list(data.get("choices") or [])
            return None
        if record.type == AUTOCOMPLETE:
            raise errors.ApiError(400, 50035, "Autocomplete interactions take autocomplete results only")
        if response_type == RESPONSE_MODAL:
            if record.type == MODAL_SUBMIT:
                raise errors.ApiError(400, 50035, "A modal cannot answer a modal submit")
            if not data.get("custom_id") or not data.get("title") or not data.get("components"):
                raise errors.invalid_form("modals need custom_id, title and components")
            record.modal = data
            return None
        if response_type in (RESPONSE_DEFERRED_UPDATE_MESSAGE, RESPONSE_UPDATE_MESSAGE):
            if not is_component:
                raise errors.ApiError(400, 50035, "Only component and modal interactions can update a message")
            target = self.state.messages.get(record.message_id) if record.message_id is not None else None
            record.original = target
            if target is not None:
                record.ephemeral = target.ephemeral
            if response_type == RESPONSE_UPDATE_MESSAGE and target is not None:
                validate_lengths(data)
                uploads = uploads_as_attachments(self.state, record.channel_id, body)
                await self.core.edit_message(target, data, new_attachments=uploads)
            return target
        if response_type == RESPONSE_DEFERRED_CHANNEL_MESSAGE:
            record.ephemeral = bool(int(data.get("flags") or 0) & MessageFlag.EPHEMERAL)
            flags = MessageFlag.LOADING | (MessageFlag.EPHEMERAL if record.ephemeral else 0)
            record.original = await self._post(record, {"content": "", "flags": int(flags)}, [])
            return record.original
        if response_type == RESPONSE_CHANNEL_MESSAGE:
            fields = new_message_fields(body)
            record.ephemeral = bool(fields["flags"] & MessageFlag.EPHEMERAL)
            attachments = uploads_as_attachments(self.state, record.channel_id, body, ephemeral=record.ephemeral)
            validate_new_message(fields, attachments)
            record.original = await self._post(record, fields, attachments)
            return record.original
        raise errors.invalid_form(f"unsupported interaction response type {response_type}")

    async def _post(self, record: InteractionRecord, fields: dict[str, Any], attachments: list[Any]) -> Message:
        """A message the application sends for an interaction (response or followup)."""
        flags = int(fields.pop("flags", 0) or 0)
        ephemeral = bool(flags & MessageFlag.EPHEMERAL)
        fields.pop("message_reference", None)
        msg_type = 0  # replies to components and modals
        if record.type == APPLICATION_COMMAND:
            msg_type = 20 if record.data.get("type", 1) == 1 else 23  # CHAT_INPUT_COMMAND / CONTEXT_MENU_COMMAND
        metadata: JSON = {
            "id": str(record.id),
            "type": record.type,
            "user": self.state.user(record.user_id).payload(),
            "authorizing_integration_owners": record.payload.get("authorizing_integration_owners", {}),
        }
        if record.type == APPLICATION_COMMAND:
            metadata["name"] = record.data.get("name")
            metadata["command_type"] = record.data.get("type", 1)
        if record.message_id is not None:
            metadata["interacted_message_id"] = str(record.message_id)
        if record.original is not None:
            metadata["original_response_message_id"] = str(record.original.id)
        return await self.core.post_message(
            record.channel_id,
            self.state.bot.id,
            visible=not ephemeral,
            flags=flags,
            type=msg_type,
            webhook_id=self.state.application_id,
            application_id=self.state.application_id,
            interaction_metadata=metadata,
            interaction_id=record.id,
            attachments=attachments,
            **fields,
        )

    def _webhook_record(self, request: web.Request) -> InteractionRecord:
        if snowflake(request, "application_id") != self.state.application_id:
            raise errors.unknown("Webhook")
        record = self._by_token.get(request.match_info["token"])
        if record is None or not record.responded:
            # Discord only accepts followups once the interaction was acknowledged.
            raise errors.unknown("Webhook")
        return record

    async def followup(self, request: web.Request) -> web.Response:
        record = self._webhook_record(request)
        body = body_of(request)
        fields = new_message_fields(body)
        original = record.original
        thinking = record.response_type == RESPONSE_DEFERRED_CHANNEL_MESSAGE and record.thinking
        if thinking and original is not None and not original.deleted:
            # The first followup after a "thinking" defer replaces the thinking message (once it was deleted, a
            # followup is a message of its own, with its own visibility).
            attachments = uploads_as_attachments(self.state, record.channel_id, body, ephemeral=original.ephemeral)
            validate_new_message(fields, attachments)
            fields.pop("flags", None)
            await self.core.edit_message(original, fields, new_attachments=attachments)
            msg = original
        else:
            ephemeral = bool(fields["flags"] & MessageFlag.EPHEMERAL)
            attachments = uploads_as_attachments(self.state, record.channel_id, body, ephemeral=ephemeral)
            validate_new_message(fields, attachments)
            msg = await self._post(record, fields, attachments)
        record.followups.append(msg)
        self.core.changes.notify()
        if request.query.get("wait") in ("1", "true", "True"):
            return json_response(self.state.message_payload(msg))
        return no_content()

    def _webhook_message(self, record: InteractionRecord, request: web.Request) -> Message:
        key = request.match_info["message_id"]
        if key == "@original":
            msg = record.original
        else:
            wanted = int(key)
            msg = next((m for m in record.messages if m.id == wanted), None)
        if msg is None or msg.deleted:
            raise errors.unknown("Message")
        return msg

    async def get_webhook_message(self, request: web.Request) -> web.Response:
        record = self._webhook_record(request)
        return json_response(self.state.message_payload(self._webhook_message(record, request)))

    async def edit_webhook_message(self, request: web.Request) -> web.Response:
        record = self._webhook_record(request)
        msg = self._webhook_message(record, request)
        body = body_of(request)
        changes = dict(body.obj)
        changes.pop("flags", None)
        validate_lengths(changes)
        uploads = uploads_as_attachments(self.state, msg.channel_id, body, ephemeral=msg.ephemeral)
        await self.core.edit_message(msg, changes, new_attachments=uploads)
        return json_response(self.state.message_payload(msg))

    async def delete_webhook_message(self, request: web.Request) -> web.Response:
        record = self._webhook_record(request)
        msg = self._webhook_message(record, request)
        await self.core.delete_message(msg)
        return no_content()

    # ----------------------------------------------------------------- observation

    def record(self, interaction_id: int) -> InteractionRecord:
        try:
            return self.records[interaction_id]
        except KeyError:
            raise KeyError(f"unknown interaction {interaction_id}") from None
