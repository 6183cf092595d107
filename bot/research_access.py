"""Who may direct the research data: choose the research role (who may export it) and the digest channel (where each
digest's data files go).

While no research role is set, moderators (Manage Server) set both up. Once one is set, changing either takes that
role, or Administrator: otherwise any moderator could name a role they hold, or a channel they read, and receive the
data the research role was chosen to keep to researchers. Administrators can give themselves any role anyway, so
refusing them would protect nothing.
"""

from __future__ import annotations

from collections.abc import Collection

import discord

from bot.mod_log import post_to_log
from bot.storage import GuildSettings, Storage

RESEARCH_ROLE_DELETED = (
    "noted that the research role <@&{role}> was deleted: nobody can export the research data (`/research-export`), "
    "and only an administrator can choose another role (`/digest research-role`) or change the digest channel"
)


def holds_research_role(settings: GuildSettings, role_ids: Collection[int]) -> bool:
    """Whether a member with these roles has the server's research role (nobody has, while none is set)."""
    return settings.research_role_id is not None and settings.research_role_id in role_ids


def may_direct_research_data(settings: GuildSettings, role_ids: Collection[int], *, administrator: bool) -> bool:
    """Whether the member may change the research role or the digest channel (see the module docstring)."""
    return settings.research_role_id is None or administrator or holds_research_role(settings, role_ids)


def research_data_refusal(settings: GuildSettings, what: str, *, role_exists: bool = True) -> str:
    """Why a moderator may not change `what` ("the research role", "the digest channel"), and who may: once the
    research role was deleted, nobody holds it, so only administrators."""
    if not role_exists:
        return (
            f"The research role set for this server was deleted, so only an administrator can change {what} now: it "
            "decides who receives the research data (every rating and comment, under pseudonyms). Ask an "
            "administrator to choose the research team's role with `/digest research-role`."
        )
    return (
        f"Only members with the research role <@&{settings.research_role_id}>, or administrators, can change {what}: "
        "it decides who receives the research data (every rating and comment, under pseudonyms). Ask one of them."
    )


async def research_role_deleted(client: discord.Client, storage: Storage, role: discord.Role) -> None:
    """Tell the moderation log when the research role is deleted; the setting stays, and `/setup` flags it, until an
    administrator chooses another."""
    settings = await storage.guild_settings(role.guild.id)
    if settings.research_role_id == role.id and client.user is not None:
        await post_to_log(client, settings.log_channel_id, client.user.id, RESEARCH_ROLE_DELETED.format(role=role.id))
