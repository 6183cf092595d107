"""The REST application: request recording, auth, injected faults, rate-limit headers, and the
gateway / user / application routes. Channel, guild, command and interaction routes live in their
own modules and are mounted here.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from . import errors
from .core import StandInCore
from .faults import DROP
from .http_util import BODY_KEY, body_of, error_response, json_response, no_content, read_body, snowflake
from .models import JSON
from .observe import RecordedRequest

API_PREFIX = "/api/v10"

#: Routes called without the bot token (interaction callbacks and webhooks authenticate by their token).
_TOKENLESS = ("/interactions/", "/webhooks/")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def make_middleware(core: StandInCore) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(API_PREFIX + "/"):
            return await handler(request)
        path = request.path[len(API_PREFIX) :]
        record = RecordedRequest(
            method=request.method,
            path=path,
            query=dict(request.query),
            json=None,
            headers={k: v for k, v in request.headers.items() if k.lower() not in ("authorization",)},
        )
        try:
            body = await read_body(request)
            record.json = body.json
            record.files = body.files
            request[BODY_KEY] = body
            fault = core.faults.take(request.method, path, body.json)
            if fault is not None and fault.late is None and fault.status == DROP:
                record.fault = True
                record.status = DROP
                core.requests.add(record)
                if request.transport is not None:
                    request.transport.close()  # what the client reads: the server disconnected
                return web.Response()
            if fault is not None and fault.late is None and not fault.after:
                record.fault = True
                response: web.StreamResponse = fault.response()
            else:
                if not path.startswith(_TOKENLESS) and request.headers.get("Authorization") != f"Bot {core.token}":
                    raise errors.unauthorized()
                response = await handler(request)
                if fault is not None and fault.late is not None:
                    await asyncio.sleep(fault.late)
                if fault is not None and fault.after:
                    record.fault = True
                    response = fault.response()
        except errors.ApiError as exc:
            response = error_response(exc)
        except web.HTTPNotFound:
            response = json_response({"message": "404: Not Found", "code": 0}, status=404)
        except web.HTTPMethodNotAllowed:
            response = json_response({"message": "405: Method Not Allowed", "code": 0}, status=405)
        if response.status != 429:
            _add_ratelimit_headers(request, response)
        record.status = response.status
        core.requests.add(record)
        return response

    return middleware


def _add_ratelimit_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Generous, never-exhausted limits so discord.py never pre-emptively waits."""
    route = request.match_info.route
    template = route.resource.canonical if route.resource is not None else request.path
    bucket = hashlib.sha1(f"{request.method} {template}".encode()).hexdigest()[:16]
    response.headers.update(
        {
            "X-RateLimit-Limit": "50",
            "X-RateLimit-Remaining": "49",
            "X-RateLimit-Reset": f"{time.time() + 1:.3f}",
            "X-RateLimit-Reset-After": "1.000",
            "X-RateLimit-Bucket": bucket,
        }
    )


class CoreRoutes:
    """Gateway discovery, the bot user, the application, users and DMs."""

    def __init__(self, core: StandInCore, gateway_url: Callable[[], str]) -> None:
        self.core = core
        self.state = core.state
        self.gateway_url = gateway_url

    def register(self, router: web.UrlDispatcher) -> None:
        p = API_PREFIX
        router.add_get(p + "/gateway", self.get_gateway)
        router.add_get(p + "/gateway/bot", self.get_gateway_bot)
        router.add_get(p + "/users/@me", self.get_me)
        router.add_patch(p + "/users/@me", self.patch_me)
        router.add_get(p + "/users/@me/guilds", self.my_guilds)
        router.add_post(p + "/users/@me/channels", self.open_dm)
        router.add_get(p + "/users/{user_id}", self.get_user)
        router.add_get(p + "/oauth2/applications/@me", self.application)
        router.add_get(p + "/applications/@me", self.application)
        router.add_post(p + "/auth/logout", self.logout)

    async def get_gateway(self, request: web.Request) -> web.Response:
        return json_response({"url": self.gateway_url()})

    async def get_gateway_bot(self, request: web.Request) -> web.Response:
        return json_response(
            {
                "url": self.gateway_url(),
                "shards": 1,
                "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1},
            }
        )

    async def get_me(self, request: web.Request) -> web.Response:
        return json_response(self._me())

    async def patch_me(self, request: web.Request) -> web.Response:
        username = body_of(request).obj.get("username")
        if username:
            self.state.bot.username = str(username)
            await self.core.dispatch("USER_UPDATE", self._me())
        return json_response(self._me())

    def _me(self) -> JSON:
        return self.state.bot.payload() | {"verified": True, "mfa_enabled": False, "locale": "en-US", "email": None}

    async def my_guilds(self, request: web.Request) -> web.Response:
        guilds: list[JSON] = [
            {
                "id": str(g.id),
                "name": g.name,
                "icon": None,
                "banner": None,
                "owner": g.owner_id == self.state.bot.id,
                "permissions": str(self.state.guild_permissions(g.id, self.state.bot.id)),
                "features": [],
            }
            for g in self.state.guilds.values()
        ]
        return json_response(guilds)

    async def open_dm(self, request: web.Request) -> web.Response:
        recipient = body_of(request).obj.get("recipient_id")
        if recipient is None:
            raise errors.invalid_form("recipient_id is required")
        channel = self.state.open_dm(int(recipient))
        return json_response(self.state.channel_payload(channel))

    async def get_user(self, request: web.Request) -> web.Response:
        return json_response(self.state.user(snowflake(request, "user_id")).payload())

    async def application(self, request: web.Request) -> web.Response:
        bot = self.state.bot
        return json_response(
            {
                "id": str(self.state.application_id),
                "name": bot.username,
                "icon": None,
                "description": "culturebot stand-in application",
                "summary": "",
                "type": None,
                "rpc_origins": [],
                "bot_public": True,
                "bot_require_code_grant": False,
                "verify_key": "0" * 64,
                "flags": 0,
                "owner": self.state.app_owner.payload(),
                "team": None,
                "bot": bot.payload(),
                "tags": [],
                "redirect_uris": [],
                "interactions_endpoint_url": None,
                "approximate_guild_count": len(self.state.guilds),
                "integration_types_config": {"0": {}},
            }
        )

    async def logout(self, request: web.Request) -> web.Response:
        return no_content()
