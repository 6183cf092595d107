"""Turning errors in commands, buttons and forms into short messages, with the detail kept for the log.

`describe_error` is pure (tests call it directly); `report_error` is the one place that tells the
member and logs; the error-handling cog and every modal or view route their failures through it.
"""

from __future__ import annotations

import io
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import aiohttp
import discord
from discord import app_commands

from bot.answers.splitting import grapheme_cut
from bot.wording import counted

log = logging.getLogger(__name__)

# Discord's UI names for permissions whose API names differ.
PERMISSION_LABELS = {"manage_guild": "Manage Server", "view_channel": "View Channels"}
MAX_LISTED_PROBLEMS = 12
MESSAGE_LIMIT = 2000  # characters in a Discord message
# Discord not reached at all (no HTTP answer): the request may or may not have arrived.
UNREACHABLE = (aiohttp.ClientError, OSError, TimeoutError)
# What may fail a Discord request: Discord's refusal (after discord.py's retries), or Discord not reached at all
# (a dropped connection, which discord.py does not retry).
DISCORD_FAILURES = (discord.HTTPException, *UNREACHABLE)


def discord_failure(failure: BaseException) -> str:
    """A Discord failure as recorded: the status and Discord's text, or what kept Discord from being reached."""
    if isinstance(failure, discord.HTTPException):
        return f"{failure.status} {failure.text}"
    return f"Discord not reached ({type(failure).__name__}: {failure})"


def guild_id_of(interaction: discord.Interaction) -> int:
    """The server a command was used in; refused (with the error handler's message) in direct messages."""
    if interaction.guild_id is None:
        raise app_commands.NoPrivateMessage()
    return interaction.guild_id


def shortened(text: str, limit: int) -> str:
    """The text, cut to `limit` characters with an ellipsis when longer (a Discord message's limit), between
    user-perceived characters."""
    return text if len(text) <= limit else text[: grapheme_cut(text, limit - 1)] + "…"


def problem_list(problems: Sequence[object], *, heading: str | None = None, fix: str = "") -> str:
    """A scope's validation problems as one message: whole bullets while they fit, then how many more.

    `heading` replaces the default first line; `fix`, the way out, ends the message and always fits whole.
    """
    lines = [heading or f"Nothing was changed: the scope has {counted(len(problems), 'problem')} to fix."]
    tail = f"\n{fix}" if fix else ""
    budget = MESSAGE_LIMIT - len(tail)
    size = len(lines[0])
    for shown, problem in enumerate(problems):
        rest = len(problems) - shown
        more = f"…and {rest} more." if fix else f"…and {rest} more: fix these and upload again to see the rest."
        bullet = shortened(f"• {problem}", 500)
        room = budget - size - 1 - (len(more) + 1 if shown + 1 < len(problems) else 0)
        if shown == MAX_LISTED_PROBLEMS or len(bullet) > room:
            lines.append(more)
            break
        lines.append(bullet)
        size += len(bullet) + 1
    return "\n".join(lines) + tail


def permission_label(name: str) -> str:
    return PERMISSION_LABELS.get(name, name.replace("_", " ").title())


class UserFacingError(Exception):
    """An error whose message is written for the member who ran the command, and shown as is."""


@dataclass(frozen=True, slots=True)
class ErrorReply:
    """What to tell the member; `reference` is set for unexpected errors, which are logged under it."""

    message: str
    reference: str | None = None


def describe_error(error: BaseException) -> ErrorReply:
    """The member-facing reply for a failed command, button or form."""
    from bot.scopes.parser import ScopeValidationError  # scopes import errors; import here to avoid a cycle

    original = error.original if isinstance(error, app_commands.CommandInvokeError) else error
    if isinstance(original, UserFacingError):
        return ErrorReply(shortened(str(original), MESSAGE_LIMIT))
    if isinstance(original, ScopeValidationError):
        return ErrorReply(problem_list(original.problems))
    if isinstance(original, app_commands.MissingPermissions):
        needed = ", ".join(map(permission_label, original.missing_permissions))
        return ErrorReply(f"You need the {needed} permission to use this command.")
    if isinstance(original, app_commands.BotMissingPermissions):
        needed = ", ".join(map(permission_label, original.missing_permissions))
        return ErrorReply(f"I am missing the {needed} permission here; ask a moderator to grant it.")
    if isinstance(original, app_commands.CommandOnCooldown):
        return ErrorReply(f"Slow down a little: try again in {original.retry_after:.0f} seconds.")
    if isinstance(original, app_commands.NoPrivateMessage):
        return ErrorReply("This command works in a server, not in direct messages.")
    if isinstance(original, app_commands.CheckFailure):
        return ErrorReply("You can't use this command here.")
    reference = secrets.token_hex(4)
    return ErrorReply(
        f"Something went wrong on our side. The moderators can find the details in the bot's log "
        f"under reference {reference}.",
        reference,
    )


def text_file(filename: str, text: str) -> discord.File:
    """`text` as an attached file: what a member or moderator typed into a form, given back when it was not kept
    (a form cannot be reopened with it)."""
    return discord.File(io.BytesIO(text.encode()), filename=filename)


async def report_error(
    interaction: discord.Interaction, error: BaseException, *, give_back: tuple[str, str] | None = None
) -> None:
    """Log the error and tell the member, whether or not the interaction was answered already; `give_back`: the
    text they typed into a form (a file name and the text), attached so that nothing they wrote is lost."""
    reply = describe_error(error)
    command = interaction.command.qualified_name if interaction.command else "a button or form"
    if reply.reference is not None:
        original = getattr(error, "original", error)
        log.error("/%s failed (reference %s)", command, reply.reference, exc_info=original)
    else:
        log.info("/%s refused: %s", command, reply.message.splitlines()[0])
    files = [text_file(*give_back)] if give_back else []
    message = reply.message + ("\n\nWhat you wrote is attached." if files else "")
    try:
        if interaction.response.is_done():
            await interaction.followup.send(message, files=files, ephemeral=True)
        else:
            await interaction.response.send_message(message, files=files, ephemeral=True)
    except discord.HTTPException:
        log.warning("could not tell the member about the error in /%s", command)
