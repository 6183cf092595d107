"""Building the ``data`` of injected interactions: typed command options with their resolved objects,
component lookups on messages, and modal submissions mirroring the modal the bot sent.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .models import JSON, Attachment
from .state import StandInState

# Application command option types.
SUB_COMMAND = 1
SUB_COMMAND_GROUP = 2
STRING = 3
INTEGER = 4
BOOLEAN = 5
USER = 6
CHANNEL = 7
ROLE = 8
MENTIONABLE = 9
NUMBER = 10
ATTACHMENT = 11

OptionValues = Mapping[str, Any] | Sequence[JSON] | None


@dataclass
class FileOption:
    """An attachment a test passes to a command option (``options={"file": FileOption("a.txt", b"...")}``)."""

    filename: str
    data: bytes
    content_type: str | None = None


@dataclass
class ResolvedBuilder:
    """Collects the ``resolved`` objects that user/channel/role/attachment options refer to."""

    state: StandInState
    guild_id: int | None
    channel_id: int
    data: dict[str, dict[str, JSON]] = field(default_factory=dict)

    def add_user(self, user_id: int) -> None:
        self.data.setdefault("users", {})[str(user_id)] = self.state.user(user_id).payload()
        if self.guild_id is not None and user_id in self.state.guild(self.guild_id).members:
            member = self.state.member_payload(self.guild_id, user_id, with_user=False)
            member["permissions"] = str(self.state.channel_permissions(self.channel_id, user_id))
            self.data.setdefault("members", {})[str(user_id)] = member

    def add_role(self, role_id: int) -> None:
        if self.guild_id is None:
            raise ValueError("role options need a guild")
        role = self.state.guild(self.guild_id).roles[role_id]
        self.data.setdefault("roles", {})[str(role_id)] = role.payload()

    def add_channel(self, channel_id: int, user_id: int) -> None:
        channel = self.state.channel(channel_id)
        payload = self.state.channel_payload(channel)
        payload["permissions"] = str(self.state.channel_permissions(channel_id, user_id))
        self.data.setdefault("channels", {})[str(channel_id)] = payload

    def add_attachment(self, attachment: Attachment) -> None:
        self.data.setdefault("attachments", {})[str(attachment.id)] = attachment.payload()

    def add_message(self, message_payload: JSON) -> None:
        self.data.setdefault("messages", {})[str(message_payload["id"])] = message_payload


def infer_type(value: Any) -> int:
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int):
        return INTEGER
    if isinstance(value, float):
        return NUMBER
    if isinstance(value, FileOption | Attachment):
        return ATTACHMENT
    return STRING


def build_options(
    definitions: list[JSON],
    values: OptionValues,
    *,
    resolved: ResolvedBuilder,
    user_id: int,
    focused: str | None = None,
) -> list[JSON]:
    """Option payloads for ``values``, typed from the synced ``definitions`` where a name matches."""
    if values is None:
        return []
    if not isinstance(values, Mapping):
        return [dict(v) for v in values]
    by_name = {d["name"]: d for d in definitions}
    options: list[JSON] = []
    for name, value in values.items():
        definition = by_name.get(name)
        opt_type = int(definition["type"]) if definition else infer_type(value)
        option: JSON = {"name": name, "type": opt_type}
        if name == focused:
            option["value"] = value if isinstance(value, str) else str(value)
            option["focused"] = True
        else:
            option["value"] = _typed_value(opt_type, value, resolved=resolved, user_id=user_id)
        options.append(option)
    return options


def _typed_value(opt_type: int, value: Any, *, resolved: ResolvedBuilder, user_id: int) -> Any:
    if opt_type == STRING:
        return str(value)
    if opt_type == INTEGER:
        return int(value)
    if opt_type == NUMBER:
        return float(value)
    if opt_type == BOOLEAN:
        return bool(value)
    if opt_type == ATTACHMENT:
        attachment = _as_attachment(value, resolved)
        resolved.add_attachment(attachment)
        return str(attachment.id)
    snowflake = _snowflake(value)
    if opt_type == USER:
        resolved.add_user(snowflake)
    elif opt_type == ROLE:
        resolved.add_role(snowflake)
    elif opt_type == CHANNEL:
        resolved.add_channel(snowflake, user_id)
    elif opt_type == MENTIONABLE:
        if snowflake in resolved.state.users:
            resolved.add_user(snowflake)
        else:
            resolved.add_role(snowflake)
    return str(snowflake)


def _as_attachment(value: Any, resolved: ResolvedBuilder) -> Attachment:
    if isinstance(value, Attachment):
        return value
    if isinstance(value, tuple):
        value = FileOption(*value)
    if not isinstance(value, FileOption):
        raise TypeError("attachment options take FileOption, (filename, bytes[, content_type]) or Attachment")
    return resolved.state.store_attachment(
        resolved.channel_id, value.filename, value.data, content_type=value.content_type, ephemeral=True
    )


def _snowflake(value: Any) -> int:
    if isinstance(value, Mapping):
        return int(value["id"])
    if hasattr(value, "id"):
        return int(value.id)
    return int(value)


def nest_subcommands(
    definition: JSON | None,
    path: Sequence[str],
    values: OptionValues,
    *,
    resolved: ResolvedBuilder,
    user_id: int,
    focused: str | None = None,
) -> list[JSON]:
    """Options for ``/command group sub …``: nested group/subcommand options around the leaf values."""
    definitions: list[JSON] = list(definition.get("options") or []) if definition else []
    if not path:
        return build_options(definitions, values, resolved=resolved, user_id=user_id, focused=focused)
    head, rest = path[0], path[1:]
    sub_def = next((d for d in definitions if d["name"] == head), None)
    default_type = SUB_COMMAND_GROUP if rest else SUB_COMMAND
    sub_type = int(sub_def["type"]) if sub_def is not None else default_type
    inner = nest_subcommands(sub_def, rest, values, resolved=resolved, user_id=user_id, focused=focused)
    return [{"name": head, "type": sub_type, "options": inner}]


def walk_components(components: Sequence[JSON]) -> Iterator[JSON]:
    """Every component in a message or modal, depth first (rows, sections, containers, labels)."""
    for component in components:
        yield component
        children: list[JSON] = list(component.get("components") or [])
        if "component" in component:
            children.append(component["component"])
        if "accessory" in component:
            children.append(component["accessory"])
        yield from walk_components(children)


def find_component(components: Sequence[JSON], custom_id: str) -> JSON | None:
    return next((c for c in walk_components(components) if c.get("custom_id") == custom_id), None)


def modal_submission(modal: JSON, values: Mapping[str, Any]) -> list[JSON]:
    """The ``components`` of a modal submit, shaped like the modal (rows or labels) with the values filled in.

    Text inputs take strings; selects take a list of strings. Unknown ids and missing required
    text inputs raise ``ValueError`` so tests cannot submit what Discord would refuse.
    """
    known = {c["custom_id"] for c in walk_components(modal.get("components") or []) if "custom_id" in c}
    unknown = set(values) - known
    if unknown:
        raise ValueError(f"modal {modal.get('custom_id')!r} has no inputs {sorted(unknown)}")
    submitted: list[JSON] = []
    for top in modal.get("components") or []:
        if top.get("type") == 1:
            inner = [_submitted(c, values) for c in top.get("components") or []]
            submitted.append({"type": 1, "components": [c for c in inner if c is not None]})
        elif top.get("type") == 18:
            inner_one = _submitted(top["component"], values)
            if inner_one is not None:
                entry: JSON = {"type": 18, "component": inner_one}
                if "id" in top:
                    entry["id"] = top["id"]
                submitted.append(entry)
        elif top.get("type") == 10:
            entry = {"type": 10}
            if "id" in top:
                entry["id"] = top["id"]
            submitted.append(entry)
    return submitted


def _submitted(component: JSON, values: Mapping[str, Any]) -> JSON | None:
    custom_id = component.get("custom_id")
    if custom_id is None:
        return None
    ctype = int(component["type"])
    out: JSON = {"type": ctype, "custom_id": custom_id}
    if "id" in component:
        out["id"] = component["id"]
    if ctype == 4:  # text input
        value = values.get(custom_id, component.get("value") or "")
        if component.get("required", True) and not value:
            raise ValueError(f"text input {custom_id!r} is required")
        out["value"] = str(value)
    elif ctype == 19:  # file upload
        out["values"] = [str(v) for v in values.get(custom_id, [])]
    else:  # selects
        raw = values.get(custom_id, [])
        out["values"] = [str(v) for v in ([raw] if isinstance(raw, str) else raw)]
    return out
