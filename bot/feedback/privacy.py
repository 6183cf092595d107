"""A member's view of their research data: status, export, and deletion on request."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import discord

from bot.digests.pseudonyms import export_pseudonym
from bot.errors import DISCORD_FAILURES
from bot.feedback.consent import CHOICE_LABELS, ConsentState, consent_state
from bot.feedback.privacy_requests import PrivacyRequests
from bot.pseudonyms import Pseudonymizer
from bot.storage import Storage
from bot.wording import counted

log = logging.getLogger(__name__)


async def status_text(storage: Storage, pseudonyms: Pseudonymizer, guild_id: int, user_id: int) -> str:
    member = pseudonyms.member(user_id)
    settings = await storage.guild_settings(guild_id)
    consent = await storage.consent(guild_id, member)
    data = await storage.member_data(member)
    state = consent_state(consent, settings)
    if consent is None:
        choice = (
            "You have not chosen yet: none of your ratings or comments are kept (questions you ask me are recorded "
            "with my answers, as the research notice says)."
        )
    elif state is ConsentState.ASK:
        choice = (
            f"You chose **{CHOICE_LABELS[consent.level].lower()}** under an older notice; the notice changed, so "
            "nothing new is kept until you choose again (`/privacy consent`)."
        )
    else:
        choice = f"Your choice here: **{CHOICE_LABELS[consent.level].lower()}** (since {consent.decided_at[:10]})."
    counts = {name: len(rows) for name, rows in data.items()}
    return (
        f"{choice}\n\nWhat culturebot holds about you, across servers, under your pseudonym: "
        f"{counted(counts['ratings'], 'rating')}, {counted(counts['rating_reasons'], 'reason tag')}, "
        f"{counted(counts['comments'], 'comment')}, {counted(counts['questions'], 'question')} you asked, "
        f"{counted(counts['consent_history'], 'consent decision')}.\n"
        "`/privacy export` sends it all to you as a file; `/privacy forget` deletes it."
    )


ARM_WITHHELD = "withheld while the comparison runs"


async def export_member(storage: Storage, pseudonyms: Pseudonymizer, user_id: int) -> bytes:
    """Everything linked to the member, as JSON."""
    member = pseudonyms.member(user_id)
    data = await storage.member_data(member)
    running: dict[int, int | None] = {}  # each server's running comparison, as read
    for question in data["questions"]:
        if isinstance(question.get("cues"), str):  # stored as JSON: exported as the object it is
            with contextlib.suppress(ValueError):
                question["cues"] = json.loads(question["cues"])
        if question.get("comparison_id") is not None:
            guild_id = int(question["guild_id"])
            if guild_id not in running:
                comparison = await storage.running_comparison(guild_id)
                running[guild_id] = comparison.comparison_id if comparison is not None else None
            if running[guild_id] == question["comparison_id"]:
                # Members are not told their arm while the comparison runs: knowing it could change how they
                # rate (bot/scopes/comparisons.py). It is in the export once the comparison has ended.
                question["arm"] = ARM_WITHHELD
    servers = sorted(
        {int(row["guild_id"]) for rows in data.values() if isinstance(rows, list) for row in rows if "guild_id" in row}
    )
    document = {
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "pseudonym": member,
        "about": (
            "Everything culturebot stores linked to you. Research tables hold only the pseudonym above; the data files "
            "a server's research team receives show you under that server's own pseudonym, listed in "
            "research_file_pseudonyms by server id."
        ),
        "research_file_pseudonyms": {str(guild): export_pseudonym(guild, member) for guild in servers},
        **data,
    }
    return json.dumps(document, ensure_ascii=False, indent=2).encode()


# Dispatched with the member's id when they confirm `/privacy forget`, before their data is deleted: whatever
# of theirs is held in memory for later (reactions waiting for their consent) is dropped.
MEMBER_FORGOTTEN = "member_forgotten"

# A thread the bot opened from a question is named after the question; once the member asks to be forgotten
# it gets a name that says nothing about them.
FORGOTTEN_THREAD_NAME = "Answer (question removed)"
RENAME_LATER = " Those I could not rename now are tried again every hour."
RENAME_ATTEMPTS = 48  # failed renames of a thread before it is left as it is (tried hourly: two days)
# Threads renamed per run at most: a first retention purge may queue thousands, and Discord rate-limits the renames.
RENAME_BATCH = 300


@dataclass(frozen=True, slots=True)
class ForgetSummary:
    text: str  # what was deleted, for the member
    question_threads: list[int]  # threads named after the member's questions, to rename on Discord


async def forget_member(requests: PrivacyRequests, pseudonyms: Pseudonymizer, user_id: int) -> ForgetSummary:
    """Delete the member's data everywhere (logged first, so that a restored backup cannot bring it back); a
    sentence saying what was deleted, and the threads to rename."""
    forgotten = await requests.forget(pseudonyms.member(user_id))
    # The storage names what it deleted in the plural ("ratings", "consent decisions").
    removed = [counted(count, name.removesuffix("s"), name) for name, count in forgotten.counts.items() if count]
    if not removed:
        return ForgetSummary("There was nothing stored about you; nothing was deleted.", forgotten.question_threads)
    return ForgetSummary(
        "Deleted: "
        + ", ".join(removed)
        + ". Answers to your questions stay, without your question or any link to you.",
        forgotten.question_threads,
    )


async def rename_forgotten_thread(thread: discord.Thread) -> None:
    """Give a thread named after a forgotten member's question `FORGOTTEN_THREAD_NAME` (raises what Discord does)."""
    if thread.name == FORGOTTEN_THREAD_NAME:
        return
    # Discord edits an archived thread only in the request that unarchives it; archived again after.
    archived = thread.archived
    thread = await thread.edit(name=FORGOTTEN_THREAD_NAME, archived=False)
    if archived:
        try:
            await thread.edit(archived=True)
        except DISCORD_FAILURES as error:
            # Renamed all the same (a retry would find the name and stop); Discord archives it again once idle.
            log.warning("renamed thread %d but could not archive it again: %r", thread.id, error)


@dataclass(frozen=True, slots=True)
class Renamed:
    renamed: int  # threads renamed (or already named so)
    retrying: int  # threads that could not be renamed now, and are tried again later


async def rename_question_threads(
    source: discord.Client | discord.Guild, storage: Storage, thread_ids: Sequence[int]
) -> Renamed:
    """Give each thread `FORGOTTEN_THREAD_NAME`. Each renamed thread (or one gone from Discord) leaves the
    storage's queue of threads to rename; one that could not be renamed (Discord out of reach, a permission
    missing) stays for `rename_queued_threads` to try again later, and is logged."""
    renamed = retrying = 0
    for thread_id in thread_ids:
        try:
            cached = (
                source.get_channel(thread_id)
                if isinstance(source, discord.Client)
                else source.get_channel_or_thread(thread_id)
            )
            thread = cached or await source.fetch_channel(thread_id)
            me = source.user if isinstance(source, discord.Client) else source.me
            # Only a thread the bot opened: a forum post also has its first message's id, and its title is the
            # member's own (the bot answered inside it).
            if isinstance(thread, discord.Thread) and me is not None and thread.owner_id == me.id:
                await rename_forgotten_thread(thread)
                renamed += 1
        except discord.NotFound:
            pass  # deleted: nothing carries the question any more
        except DISCORD_FAILURES as error:
            # One thread's failure (or Discord out of reach) must not keep the others, or the reply, back.
            if await storage.thread_rename_failed(thread_id, RENAME_ATTEMPTS):
                log.warning("gave up renaming thread %d (named after a deleted question): %r", thread_id, error)
            else:
                log.warning("could not rename thread %d named after a deleted question: %r", thread_id, error)
                retrying += 1
            continue
        await storage.thread_renamed(thread_id)
    return Renamed(renamed, retrying)


async def rename_thread_of_deleted_question(client: discord.Client, storage: Storage, message_id: int) -> None:
    """A member deleted their question: the thread the bot opened from it is named after its first words, so it is
    renamed as `/privacy forget` renames it (and retried the same way). The stored question is kept: deleting a
    message is not a request to forget (`/privacy forget` is)."""
    if await storage.queue_thread_of_question(message_id):
        renamed = await rename_question_threads(client, storage, [message_id])
        log.info("thread %d renamed after its question was deleted (%d renamed now)", message_id, renamed.renamed)


async def rename_queued_threads(client: discord.Client, storage: Storage) -> Renamed:
    """Rename the threads still named after a deleted question: those whose rename failed before (up to
    RENAME_ATTEMPTS tries each), and those of questions the retention purge removed."""
    queued = await storage.threads_to_rename(RENAME_BATCH)
    return await rename_question_threads(client, storage, queued)
