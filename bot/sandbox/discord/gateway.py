"""The websocket gateway: HELLO, IDENTIFY → READY + GUILD_CREATE, heartbeats, dispatch with sequence
numbers, RESUME with replay of missed events, and test-triggered disconnects.

Frames are plain JSON text; discord.py asks for ``compress=zlib-stream`` but reads text frames as-is.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web

from . import intents as intent_bits
from .models import JSON
from .observe import Changes
from .state import StandInState

log = logging.getLogger(__name__)

OP_DISPATCH = 0
OP_HEARTBEAT = 1
OP_IDENTIFY = 2
OP_PRESENCE_UPDATE = 3
OP_VOICE_STATE_UPDATE = 4
OP_RESUME = 6
OP_RECONNECT = 7
OP_REQUEST_GUILD_MEMBERS = 8
OP_INVALID_SESSION = 9
OP_HELLO = 10
OP_HEARTBEAT_ACK = 11

CLOSE_AUTHENTICATION_FAILED = 4004
CLOSE_ALREADY_AUTHENTICATED = 4005
CLOSE_NOT_AUTHENTICATED = 4003
CLOSE_DECODE_ERROR = 4002


@dataclass
class DispatchedEvent:
    """One dispatch as a session received (or will receive on resume) it."""

    session_id: str
    seq: int
    event: str
    data: JSON


@dataclass
class GatewaySession:
    """A gateway session: survives disconnects until invalidated, buffering events for RESUME."""

    session_id: str
    intents: int
    shard: tuple[int, int] = (0, 1)
    seq: int = 0
    ws: web.WebSocketResponse | None = None
    invalidated: bool = False
    buffer: deque[JSON] = field(default_factory=lambda: deque(maxlen=10_000))
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    presence: JSON | None = None

    def wants_guild(self, guild_id: int | str | None) -> bool:
        if guild_id is None:
            return True
        shard_id, shard_count = self.shard
        return (int(guild_id) >> 22) % max(shard_count, 1) == shard_id


class Gateway:
    """Serves the gateway websocket and fans dispatches out to live sessions."""

    def __init__(
        self,
        *,
        state: StandInState,
        token: str,
        changes: Changes,
        url: Callable[[], str],
        heartbeat_interval_ms: int = 5000,
    ) -> None:
        self.state = state
        self.token = token
        self.changes = changes
        self._url = url
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.sessions: dict[str, GatewaySession] = {}
        self.sockets: set[web.WebSocketResponse] = set()
        self.identify_count = 0
        self.resume_count = 0
        self.heartbeat_count = 0
        self.identify_payloads: list[JSON] = []
        self.dispatched: list[DispatchedEvent] = []
        self.identified = asyncio.Event()

    # ----------------------------------------------------------------- websocket handler

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        self.sockets.add(ws)
        session: GatewaySession | None = None
        try:
            await ws.send_str(
                json.dumps(
                    {"op": OP_HELLO, "d": {"heartbeat_interval": self.heartbeat_interval_ms}, "s": None, "t": None}
                )
            )
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    if msg.type is WSMsgType.BINARY:
                        await ws.close(code=CLOSE_DECODE_ERROR, message=b"Error while decoding payload.")
                    continue
                try:
                    frame = json.loads(msg.data)
                except ValueError:
                    await ws.close(code=CLOSE_DECODE_ERROR, message=b"Error while decoding payload.")
                    break
                session = await self._on_frame(ws, session, frame)
        finally:
            self.sockets.discard(ws)
            if session is not None and session.ws is ws:
                session.ws = None
            self.changes.notify()
        return ws

    async def _on_frame(
        self, ws: web.WebSocketResponse, session: GatewaySession | None, frame: JSON
    ) -> GatewaySession | None:
        op = frame.get("op")
        data = frame.get("d")
        if op == OP_HEARTBEAT:
            self.heartbeat_count += 1
            await ws.send_str(json.dumps({"op": OP_HEARTBEAT_ACK, "d": None, "s": None, "t": None}))
            return session
        if op == OP_IDENTIFY:
            if session is not None:
                await ws.close(code=CLOSE_ALREADY_AUTHENTICATED, message=b"Already authenticated.")
                return session
            return await self._identify(ws, data or {})
        if op == OP_RESUME:
            return await self._resume(ws, data or {})
        if session is None:
            await ws.close(code=CLOSE_NOT_AUTHENTICATED, message=b"Not authenticated.")
            return None
        if op == OP_PRESENCE_UPDATE:
            session.presence = data
        elif op == OP_REQUEST_GUILD_MEMBERS:
            await self._send_member_chunk(session, data or {})
        return session

    async def _identify(self, ws: web.WebSocketResponse, data: JSON) -> GatewaySession | None:
        self.identify_payloads.append(data)
        if _strip_bot(str(data.get("token", ""))) != self.token:
            await ws.close(code=CLOSE_AUTHENTICATION_FAILED, message=b"Authentication failed.")
            return None
        shard = data.get("shard") or [0, 1]
        session = GatewaySession(
            session_id=secrets.token_hex(16),
            intents=int(data.get("intents", intent_bits.ALL_INTENTS)),
            shard=(int(shard[0]), int(shard[1])),
            presence=data.get("presence"),
        )
        for old in self.sessions.values():
            if old.shard == session.shard:
                old.invalidated = True
        async with session.lock:
            self.sessions[session.session_id] = session
            session.ws = ws
            # The servers the bot is in (a server that removed it is not announced again).
            guilds = [
                g for g in self.state.guilds.values() if session.wants_guild(g.id) and self.state.bot.id in g.members
            ]
            ready = {
                "v": 10,
                "user": self.state.bot.payload() | {"verified": True, "mfa_enabled": False},
                "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
                "session_id": session.session_id,
                "session_type": "normal",
                "resume_gateway_url": self._url(),
                "shard": list(session.shard),
                "application": {"id": str(self.state.application_id), "flags": 0},
                "private_channels": [],
                "presences": [],
                "relationships": [],
                "user_settings": {},
                "guild_join_requests": [],
                "geo_ordered_rtc_regions": [],
                "_trace": ["culturebot-standin"],
            }
            await self._send_dispatch(session, "READY", ready)
            for guild in guilds:
                await self._send_dispatch(session, "GUILD_CREATE", self.state.guild_create_payload(guild.id))
        self.identify_count += 1
        self.identified.set()
        self.changes.notify()
        return session

    async def _resume(self, ws: web.WebSocketResponse, data: JSON) -> GatewaySession | None:
        session = self.sessions.get(str(data.get("session_id")))
        if _strip_bot(str(data.get("token", ""))) != self.token:
            await ws.close(code=CLOSE_AUTHENTICATION_FAILED, message=b"Authentication failed.")
            return None
        if session is None or session.invalidated:
            await ws.send_str(json.dumps({"op": OP_INVALID_SESSION, "d": False, "s": None, "t": None}))
            return None
        last_seq = int(data.get("seq") or 0)
        async with session.lock:
            previous = session.ws
            session.ws = ws
            if previous is not None and previous is not ws and not previous.closed:
                with contextlib.suppress(Exception):
                    await previous.close(code=4000)
            for frame in list(session.buffer):
                if frame["s"] > last_seq:
                    await ws.send_str(json.dumps(frame))
            await self._send_dispatch(session, "RESUMED", {"_trace": ["culturebot-standin"]})
        self.resume_count += 1
        self.changes.notify()
        return session

    async def _send_member_chunk(self, session: GatewaySession, data: JSON) -> None:
        guild_id = int(data.get("guild_id", 0))
        guild = self.state.guilds.get(guild_id)
        if guild is None:
            return
        wanted = {int(u) for u in data.get("user_ids") or []}
        query = str(data.get("query") or "").lower()
        limit = int(data.get("limit") or 0)
        members = []
        for user_id in guild.members:
            user = self.state.users[user_id]
            if wanted and user_id not in wanted:
                continue
            if query and not user.username.lower().startswith(query):
                continue
            members.append(self.state.member_payload(guild_id, user_id))
        if limit:
            members = members[:limit]
        chunk: JSON = {
            "guild_id": str(guild_id),
            "members": members,
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce") is not None:
            chunk["nonce"] = data["nonce"]
        async with session.lock:
            await self._send_dispatch(session, "GUILD_MEMBERS_CHUNK", chunk)

    # ----------------------------------------------------------------- dispatch

    async def dispatch(self, event: str, data: JSON) -> None:
        """Send an event to every live session that wants it; disconnected sessions buffer it."""
        needed = intent_bits.required_intent(event, data)
        for session in list(self.sessions.values()):
            if session.invalidated:
                continue
            if needed and not session.intents & needed:
                continue
            if not session.wants_guild(data.get("guild_id")):
                continue
            payload = intent_bits.redact_message_content(
                event, data, intents=session.intents, bot_user_id=self.state.bot.id
            )
            async with session.lock:
                await self._send_dispatch(session, event, payload)
        self.changes.notify()

    async def _send_dispatch(self, session: GatewaySession, event: str, data: JSON) -> None:
        """Number and buffer a dispatch, then send it if the session is connected (caller holds the lock)."""
        session.seq += 1
        frame = {"op": OP_DISPATCH, "t": event, "s": session.seq, "d": data}
        session.buffer.append(frame)
        self.dispatched.append(DispatchedEvent(session.session_id, session.seq, event, data))
        ws = session.ws
        if ws is None or ws.closed:
            return
        try:
            await ws.send_str(json.dumps(frame))
        except (ConnectionError, RuntimeError) as exc:
            log.debug("gateway send failed, event %s kept for resume: %s", event, exc)

    # ----------------------------------------------------------------- faults and lifecycle

    async def close_connections(self, code: int = 4000) -> int:
        """Close every gateway socket with ``code``; sessions stay resumable. Returns how many were closed."""
        closed = 0
        for session in self.sessions.values():
            async with session.lock:
                session.ws = None
        for ws in list(self.sockets):
            if not ws.closed:
                closed += 1
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(ws.close(code=code, message=b"closed by the stand-in"), timeout=5)
        self.changes.notify()
        return closed

    async def send_reconnect(self) -> None:
        """Op 7: ask the client to reconnect and resume."""
        for ws in list(self.sockets):
            if not ws.closed:
                await ws.send_str(json.dumps({"op": OP_RECONNECT, "d": None, "s": None, "t": None}))

    async def invalidate_sessions(self, *, resumable: bool = False) -> None:
        """Op 9: tell clients their session is gone, so they IDENTIFY again (or RESUME if ``resumable``)."""
        for session in list(self.sessions.values()):
            if not resumable:
                session.invalidated = True
            ws = session.ws
            if ws is not None and not ws.closed:
                await ws.send_str(json.dumps({"op": OP_INVALID_SESSION, "d": resumable, "s": None, "t": None}))

    async def shutdown(self) -> None:
        for ws in list(self.sockets):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(code=1001, message=b"stand-in stopping"), timeout=2)

    def events(self, name: str | None = None) -> list[DispatchedEvent]:
        return [e for e in self.dispatched if name is None or e.event == name]


def _strip_bot(token: str) -> str:
    return token.removeprefix("Bot ").strip()
