"""Mentions written in message content, and who actually gets pinged under ``allowed_mentions``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_USER = re.compile(r"<@!?(\d+)>")
_ROLE = re.compile(r"<@&(\d+)>")
_EVERYONE = re.compile(r"@(everyone|here)\b")


@dataclass
class ParsedMentions:
    users: list[int] = field(default_factory=list)
    roles: list[int] = field(default_factory=list)
    everyone: bool = False


def parse_mentions(content: str) -> ParsedMentions:
    """Every user, role and @everyone/@here mention in ``content``, in order, without repeats."""
    return ParsedMentions(
        users=_unique(int(m) for m in _USER.findall(content)),
        roles=_unique(int(m) for m in _ROLE.findall(content)),
        everyone=bool(_EVERYONE.search(content)),
    )


def apply_allowed_mentions(
    parsed: ParsedMentions,
    allowed: dict[str, Any] | None,
    *,
    replied_user_id: int | None = None,
    may_mention_everyone: bool = True,
) -> ParsedMentions:
    """Who gets notified, following Discord's rules for ``allowed_mentions``.

    Without ``allowed_mentions`` everything in the content pings and a reply pings its author.
    With it, only the listed kinds (``parse``) or ids (``users``/``roles``) ping, and a reply pings
    its author only when ``replied_user`` is true.
    """
    if allowed is None:
        users = list(parsed.users)
        if replied_user_id is not None and replied_user_id not in users:
            users.append(replied_user_id)
        return ParsedMentions(users, list(parsed.roles), parsed.everyone and may_mention_everyone)
    parse = set(allowed.get("parse") or [])
    allowed_users = {int(u) for u in allowed.get("users") or []}
    allowed_roles = {int(r) for r in allowed.get("roles") or []}
    users = [u for u in parsed.users if "users" in parse or u in allowed_users]
    roles = [r for r in parsed.roles if "roles" in parse or r in allowed_roles]
    if replied_user_id is not None and allowed.get("replied_user") and replied_user_id not in users:
        users.append(replied_user_id)
    everyone = parsed.everyone and "everyone" in parse and may_mention_everyone
    return ParsedMentions(users, roles, everyone)


def _unique(values: Any) -> list[int]:
    seen: dict[int, None] = {}
    for v in values:
        seen.setdefault(v, None)
    return list(seen)
