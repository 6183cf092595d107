"""Application commands: the registry the bot syncs with ``tree.sync()``, and its REST routes."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from . import errors
from .http_util import body_of, json_response, no_content, snowflake
from .models import JSON
from .rest import API_PREFIX
from .snowflake import SnowflakeFactory


@dataclass
class CommandRegistry:
    """Global commands (key ``None``) and per-guild commands, as Discord stores them."""

    application_id: int
    ids: SnowflakeFactory
    scopes: dict[int | None, list[JSON]] = field(default_factory=dict)
    sync_count: int = 0

    def commands(self, guild_id: int | None = None) -> list[JSON]:
        return copy.deepcopy(self.scopes.get(guild_id, []))

    def find(self, name: str, guild_id: int | None = None, type: int = 1) -> JSON | None:
        """A command by name: the guild's own first, then the global one."""
        scopes: list[int | None] = [guild_id, None] if guild_id is not None else [None]
        for scope in scopes:
            for cmd in self.scopes.get(scope, []):
                if cmd["name"] == name and cmd.get("type", 1) == type:
                    return cmd
        return None

    def bulk_overwrite(self, guild_id: int | None, payload: list[JSON]) -> list[JSON]:
        """Replace a scope's commands; same name and type keep their id, changes bump the version."""
        old = {(c["name"], c.get("type", 1)): c for c in self.scopes.get(guild_id, [])}
        new = [self._stored(guild_id, data, old.get((data["name"], data.get("type", 1)))) for data in payload]
        self.scopes[guild_id] = new
        self.sync_count += 1
        return copy.deepcopy(new)

    def upsert(self, guild_id: int | None, data: JSON) -> JSON:
        scope = self.scopes.setdefault(guild_id, [])
        for index, cmd in enumerate(scope):
            if cmd["name"] == data["name"] and cmd.get("type", 1) == data.get("type", 1):
                scope[index] = self._stored(guild_id, data, cmd)
                return copy.deepcopy(scope[index])
        stored = self._stored(guild_id, data, None)
        scope.append(stored)
        return copy.deepcopy(stored)

    def edit(self, guild_id: int | None, command_id: int, changes: JSON) -> JSON:
        scope = self.scopes.get(guild_id, [])
        for index, cmd in enumerate(scope):
            if int(cmd["id"]) == command_id:
                scope[index] = self._stored(guild_id, cmd | changes, cmd)
                return copy.deepcopy(scope[index])
        raise errors.unknown("Application Command")

    def delete(self, guild_id: int | None, command_id: int) -> None:
        scope = self.scopes.get(guild_id, [])
        for cmd in scope:
            if int(cmd["id"]) == command_id:
                scope.remove(cmd)
                return
        raise errors.unknown("Application Command")

    def get(self, guild_id: int | None, command_id: int) -> JSON:
        for cmd in self.scopes.get(guild_id, []):
            if int(cmd["id"]) == command_id:
                return copy.deepcopy(cmd)
        raise errors.unknown("Application Command")

    def _stored(self, guild_id: int | None, data: JSON, previous: JSON | None) -> JSON:
        if not data.get("name"):
            raise errors.invalid_form("command name is required")
        cmd_type = int(data.get("type", 1))
        if cmd_type == 1 and not data.get("description"):
            raise errors.invalid_form("slash commands need a description")
        body = {k: v for k, v in data.items() if k not in ("id", "version", "application_id", "guild_id")}
        stored: JSON = {
            "type": cmd_type,
            "name_localizations": None,
            "description": "",
            "description_localizations": None,
            "options": [],
            "default_member_permissions": None,
            "dm_permission": True,
            "nsfw": False,
            "integration_types": [0],
            "contexts": None,
        }
        stored.update(body)
        stored["id"] = previous["id"] if previous else str(self.ids.next())
        stored["application_id"] = str(self.application_id)
        if guild_id is not None:
            stored["guild_id"] = str(guild_id)
        unchanged = previous is not None and _comparable(previous) == _comparable(stored)
        stored["version"] = previous["version"] if previous is not None and unchanged else str(self.ids.next())
        return stored


def _comparable(cmd: JSON) -> JSON:
    return {k: v for k, v in cmd.items() if k not in ("id", "version")}


class CommandRoutes:
    def __init__(self, registry: CommandRegistry, bot_in_guild: Callable[[int], bool] = lambda guild_id: True) -> None:
        self.registry = registry
        self._bot_in_guild = bot_in_guild  # Discord refuses a server's commands to a bot not in it (50001)

    def register(self, router: web.UrlDispatcher) -> None:
        base = API_PREFIX + "/applications/{application_id}"
        router.add_get(base + "/guilds/{guild_id}/commands/permissions", self.permissions)
        for prefix in (base + "/commands", base + "/guilds/{guild_id}/commands"):
            router.add_get(prefix, self.list)
            router.add_put(prefix, self.bulk)
            router.add_post(prefix, self.create)
            router.add_get(prefix + "/{command_id}", self.get)
            router.add_patch(prefix + "/{command_id}", self.patch)
            router.add_delete(prefix + "/{command_id}", self.delete)

    def _scope(self, request: web.Request) -> int | None:
        if snowflake(request, "application_id") != self.registry.application_id:
            raise errors.ApiError(403, 20012, "You are not authorized to perform this action on this application")
        if "guild_id" not in request.match_info:
            return None
        guild_id = snowflake(request, "guild_id")
        if not self._bot_in_guild(guild_id):
            raise errors.missing_access()
        return guild_id

    async def list(self, request: web.Request) -> web.Response:
        return json_response(self.registry.commands(self._scope(request)))

    async def bulk(self, request: web.Request) -> web.Response:
        payload = body_of(request).json
        if not isinstance(payload, list):
            raise errors.invalid_form("expected a list of commands")
        return json_response(self.registry.bulk_overwrite(self._scope(request), payload))

    async def create(self, request: web.Request) -> web.Response:
        return json_response(self.registry.upsert(self._scope(request), body_of(request).obj), status=201)

    async def get(self, request: web.Request) -> web.Response:
        return json_response(self.registry.get(self._scope(request), snowflake(request, "command_id")))

    async def patch(self, request: web.Request) -> web.Response:
        scope = self._scope(request)
        return json_response(self.registry.edit(scope, snowflake(request, "command_id"), body_of(request).obj))

    async def delete(self, request: web.Request) -> web.Response:
        self.registry.delete(self._scope(request), snowflake(request, "command_id"))
        return no_content()

    async def permissions(self, request: web.Request) -> web.Response:
        self._scope(request)
        return json_response([])
