"""Who may direct the research data: choose the research role (who may export it) and the digest channel (where each
digest's data files go).

While no research role is set, moderators (Manage Server) set both up. Once one is set, changing either takes that
role, or Administrator: otherwise any moderator could name a role they hold, or a channel they read, and receive the
data the research role was chosen to keep to researchers. Administrators can give themselves any role anyway, so
refusing them would protect nothing.
"""

from __future__ import annotations

from collections.abc import Collection

from bot.storage import GuildSettings


def holds_research_role(settings: GuildSettings, role_ids: Collection[int]) -> bool:
    """Whether a member with these roles has the server's research role (nobody has, while none is set)."""
    return settings.research_role_id is not None and settings.research_role_id in role_ids


def may_direct_research_data(settings: GuildSettings, role_ids: Collection[int], *, administrator: bool) -> bool:
    """Whether the member may change the research role or the digest channel (see the module docstring)."""
    return settings.research_role_id is None or administrator or holds_research_role(settings, role_ids)


def research_data_refusal(settings: GuildSettings, what: str) -> str:
    """Why a moderator may not change `what` ("the research role", "the digest channel"), and who may."""
    return (
        f"Only members with the research role <@&{settings.research_role_id}>, or administrators, can change {what}: "
        "it decides who receives the research data (every rating and comment, under pseudonyms). Ask one of them."
    )
