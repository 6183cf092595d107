"""Guild REST routes: the guild, its channels, roles, members, member roles and active threads."""

from __future__ import annotations

from aiohttp import web

from . import errors
from .core import StandInCore
from .http_util import json_response, no_content, snowflake
from .permissions import Permission
from .rest import API_PREFIX


class GuildRoutes:
    def __init__(self, core: StandInCore) -> None:
        self.core = core
        self.state = core.state

    def register(self, router: web.UrlDispatcher) -> None:
        g = API_PREFIX + "/guilds/{guild_id}"
        router.add_get(g, self.get_guild)
        router.add_get(g + "/channels", self.channels)
        router.add_get(g + "/roles", self.roles)
        router.add_get(g + "/members", self.members)
        router.add_get(g + "/members/{user_id}", self.member)
        router.add_put(g + "/members/{user_id}/roles/{role_id}", self.add_member_role)
        router.add_delete(g + "/members/{user_id}/roles/{role_id}", self.remove_member_role)
        router.add_get(g + "/threads/active", self.active_threads)

    def _guild_id(self, request: web.Request) -> int:
        guild_id = snowflake(request, "guild_id")
        guild = self.state.guild(guild_id)
        if self.state.bot.id not in guild.members:
            raise errors.missing_access()
        return guild_id

    async def get_guild(self, request: web.Request) -> web.Response:
        guild = self.state.guild(self._guild_id(request))
        data = guild.base_payload()
        if request.query.get("with_counts") in ("true", "1", "True"):
            data["approximate_member_count"] = len(guild.members)
            data["approximate_presence_count"] = 0
        return json_response(data)

    async def channels(self, request: web.Request) -> web.Response:
        guild = self.state.guild(self._guild_id(request))
        return json_response([self.state.channel_payload(self.state.channels[c]) for c in guild.channel_ids])

    async def roles(self, request: web.Request) -> web.Response:
        guild = self.state.guild(self._guild_id(request))
        return json_response([r.payload() for r in guild.roles.values()])

    async def members(self, request: web.Request) -> web.Response:
        guild_id = self._guild_id(request)
        guild = self.state.guild(guild_id)
        after = int(request.query.get("after", 0))
        limit = int(request.query.get("limit", 1))
        ids = sorted(u for u in guild.members if u > after)[:limit]
        return json_response([self.state.member_payload(guild_id, u) for u in ids])

    async def member(self, request: web.Request) -> web.Response:
        guild_id = self._guild_id(request)
        return json_response(self.state.member_payload(guild_id, snowflake(request, "user_id")))

    async def add_member_role(self, request: web.Request) -> web.Response:
        return await self._change_role(request, add=True)

    async def remove_member_role(self, request: web.Request) -> web.Response:
        return await self._change_role(request, add=False)

    async def _change_role(self, request: web.Request, *, add: bool) -> web.Response:
        guild_id = self._guild_id(request)
        guild = self.state.guild(guild_id)
        if not self.state.guild_permissions(guild_id, self.state.bot.id) & Permission.MANAGE_ROLES:
            raise errors.missing_permissions()
        role_id = snowflake(request, "role_id")
        if role_id not in guild.roles:
            raise errors.unknown("Role")
        member = self.state.member(guild_id, snowflake(request, "user_id"))
        if add and role_id not in member.roles:
            member.roles.append(role_id)
        elif not add and role_id in member.roles:
            member.roles.remove(role_id)
        payload = self.state.member_payload(guild_id, member.user_id) | {"guild_id": str(guild_id)}
        await self.core.dispatch("GUILD_MEMBER_UPDATE", payload)
        return no_content()

    async def active_threads(self, request: web.Request) -> web.Response:
        guild_id = self._guild_id(request)
        threads = [t for t in self.state.threads_of(guild_id) if not t.archived]
        return json_response({"threads": [self.state.channel_payload(t) for t in threads], "members": []})
