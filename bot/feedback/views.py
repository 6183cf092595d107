"""The buttons, menus and forms members use to rate answers, give consent and comment.

Every control under an answer is a `DynamicItem` whose custom id carries what it needs (the answer,
the value, a pending action), so the controls keep working after a restart with no stored state.
A confirmation is sent only after the database committed what it confirms.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol, Self, cast, runtime_checkable

import discord
from discord.utils import utcnow

from bot.answers.safety import NO_PINGS
from bot.errors import DISCORD_FAILURES, MESSAGE_LIMIT, UserFacingError, report_error, shortened, text_file
from bot.feedback.catch_up import member_rating_reactions, shown_ratings
from bot.feedback.comments import COMMENT_PROMPT, MAX_COMMENT_CHARS, CommentResult, save_comment
from bot.feedback.consent import (
    CHOICE_LABELS,
    PENDING_FOR,
    ConsentState,
    consent_state,
    consent_version,
    notice_text,
)
from bot.feedback.custom_ids import (
    ASK_TEMPLATE,
    COMMENT_PENDING,
    CONSENT_TEMPLATE,
    NO_PENDING,
    AskId,
    ConsentId,
    pending_rating,
    rating_pending,
)
from bot.feedback.ratings import RatingChange, record_rating
from bot.feedback.scales import RatingScale, answer_scale, scale_labelled, scale_of_size
from bot.storage import AnswerRecord, CommentSource, ConsentLevel, GuildSettings, RatingSource
from bot.wording import counted

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from bot.runtime import CultureBot

DECLINED_REPLY = (
    "You chose not to take part in the research, so nothing was stored. `/privacy consent` changes that any time."
)
RATINGS_ONLY_REPLY = (
    "You agreed to ratings only, so comments are not kept. `/privacy consent` lets you allow comments too."
)
NOTICE_CHANGED = (
    "**The research notice changed after it was shown to you, so your choice was not saved.** "
    "This is the current notice; please read it and choose again.\n\n"
)
NOTE_FOR_SOMEONE_ELSE = (
    "That note was meant for another member, so nothing of theirs is recorded for you. "
    "If you want to take part yourself, read the notice and choose.\n\n"
)
NOTE_EXPIRED = (
    "That note is more than a day old, so the rating of the reaction it was about is no longer kept: choosing here "
    "stores no rating. To rate that answer, use its buttons or react to it again.\n\n"
)
NOTICE_TOO_OLD = (
    "This notice was opened more than a day ago, so the rating it was about was not kept. To rate that answer, use "
    "its buttons or react to it again."
)

# Dispatched once a member's choice is stored: (server id, member id, ConsentLevel, the answer id whose pending
# rating the consent button itself stores, or None).
CONSENT_CHOSEN = "consent_chosen"

Callback = Callable[[Any, discord.Interaction], Coroutine[Any, Any, None]]


def reported(callback: Callback) -> Callback:
    """Route a control's failure through the one error path, so the member always gets an answer."""

    @functools.wraps(callback)
    async def wrapper(self: Any, interaction: discord.Interaction) -> None:
        try:
            await callback(self, interaction)
        except Exception as error:
            await report_error(interaction, error)

    return wrapper


def client(interaction: discord.Interaction) -> CultureBot:
    return cast("CultureBot", interaction.client)


async def rate_by_button(
    interaction: discord.Interaction,
    answer: AnswerRecord,
    value: int,
    source: RatingSource = RatingSource.BUTTON,
    scale: RatingScale | None = None,
) -> RatingChange:
    """Store the clicking member's rating; `source` is how they gave it (a reaction, for a rating that waited for
    their consent after they reacted); `scale` the scale they rated on (default: the server's)."""
    bot = client(interaction)
    return await record_rating(
        bot.storage, bot.pseudonyms, answer, user_id=interaction.user.id, value=value, source=source, scale=scale
    )


async def answer_or_gone(interaction: discord.Interaction, answer_id: int) -> AnswerRecord:
    answer = await client(interaction).storage.get_answer(answer_id)
    if answer is None or answer.guild_id != interaction.guild_id:
        raise UserFacingError("This answer is no longer available.")
    return answer


def answer_controls(answer_id: int, scale: RatingScale) -> discord.ui.View:
    """The row under an answer: one button per rating, then Comment."""
    view = discord.ui.View(timeout=None)
    for option in scale.options:
        view.add_item(RateButton(answer_id, option.value, option.label, option.emoji, scale))
    view.add_item(CommentButton(answer_id))
    return view


def consent_view(answer_id: int, pending: str, version: str) -> discord.ui.View:
    """The four consent choices under a notice of `version` (consent_version() of the settings it was rendered
    from); `pending` is what to do once the member agrees (see bot/feedback/custom_ids.py)."""
    view = discord.ui.View(timeout=None)
    for level in (ConsentLevel.RATINGS, ConsentLevel.COMMENTS, ConsentLevel.QUOTES, ConsentLevel.DECLINED):
        view.add_item(ConsentButton(level, answer_id, pending, version))
    return view


async def send_consent_notice(
    interaction: discord.Interaction, answer_id: int, pending: str, *, prefix: str = ""
) -> None:
    """The current notice, privately, with buttons that carry the version of exactly this text."""
    bot = client(interaction)
    assert interaction.guild_id is not None
    settings = await bot.storage.guild_settings(interaction.guild_id)
    await interaction.response.send_message(
        prefix + notice_text(settings, str(bot.settings.privacy_url) if bot.settings.privacy_url else None),
        view=consent_view(answer_id, pending, consent_version(settings)),
        ephemeral=True,
        allowed_mentions=NO_PINGS,
    )


async def thank_for_rating(
    interaction: discord.Interaction,
    answer: AnswerRecord,
    value: int,
    settings: GuildSettings,
    *,
    prefix: str = "",
    scale: RatingScale | None = None,
) -> None:
    """Confirm a stored rating (on `scale`, by default the server's) and offer reasons, and a comment when the
    member's choice keeps comments (one who chose ratings only would be offered a comment only to be refused)."""
    label = (scale or answer_scale(answer, settings)).label_of(value)
    bot = client(interaction)
    consent = await bot.storage.consent(answer.guild_id, bot.pseudonyms.member(interaction.user.id))
    comments = consent is not None and consent.level.allows_comments
    view = discord.ui.View(timeout=None)
    if settings.reason_tags:
        view.add_item(ReasonsSelect(answer.answer_id, settings.reason_tags, value))
    if comments:
        view.add_item(CommentButton(answer.answer_id))
    why = (
        (
            "Why? Pick any reasons, or add a comment (optional)."
            if settings.reason_tags
            else "Why? Add a comment (optional)."
        )
        if comments
        else "Why? Pick any reasons (optional)."
        if settings.reason_tags
        else "Comments are kept with the choice 'ratings and comments': `/privacy consent` changes it."
    )
    text = f"{prefix}Thanks: you rated this answer **{label}**. {why}"
    if interaction.response.is_done():
        await interaction.followup.send(text, view=view, ephemeral=True)
    else:
        await interaction.response.send_message(text, view=view, ephemeral=True)


class RateButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"cb:rate:(?P<answer>\d+):(?:(?P<scale>\d):)?(?P<value>\d)"
):
    """A rating button under an answer. Its id carries the size of the scale it shows
    (`cb:rate:<answer>:<scale size>:<value>`): once a server changes its scale, the buttons under older answers
    still mean what they say ("Fits" stays 3 of 3, not 3 of 5). A button from before ids carried it
    (`cb:rate:<answer>:<value>`) is read by its label, which tells the scales apart."""

    def __init__(
        self, answer_id: int, value: int, label: str = "", emoji: str | None = None, scale: RatingScale | None = None
    ) -> None:
        custom_id = f"cb:rate:{answer_id}:{value}" if scale is None else f"cb:rate:{answer_id}:{scale.size}:{value}"
        super().__init__(
            discord.ui.Button(
                label=label or str(value), emoji=emoji, style=discord.ButtonStyle.secondary, custom_id=custom_id
            )
        )
        self.answer_id = answer_id
        self.value = value
        self.scale = scale

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> Self:
        button = cast("discord.ui.Button[Any]", item)
        emoji = str(button.emoji) if button.emoji else None
        value = int(match["value"])
        label = button.label or ""
        scale = scale_of_size(int(match["scale"])) if match["scale"] else scale_labelled(value, label)
        return cls(int(match["answer"]), value, label, emoji, scale)

    @reported
    async def callback(self, interaction: discord.Interaction) -> None:
        bot = client(interaction)
        answer = await answer_or_gone(interaction, self.answer_id)
        change = await rate_by_button(interaction, answer, self.value, scale=self.scale)
        if change is RatingChange.NEEDS_CONSENT:
            size = self.scale.size if self.scale is not None else None
            await send_consent_notice(
                interaction, self.answer_id, rating_pending(self.value, RatingSource.BUTTON, size)
            )
        elif change is RatingChange.DECLINED:
            await interaction.response.send_message(DECLINED_REPLY, ephemeral=True)
        elif change is RatingChange.STORED:
            settings = await bot.storage.guild_settings(answer.guild_id)
            await thank_for_rating(interaction, answer, self.value, settings, scale=self.scale)
        else:
            raise UserFacingError("That rating is not on this server's scale any more; rate with the current buttons.")


class CommentButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"cb:comment:(?P<answer>\d+)"):
    def __init__(self, answer_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Comment", emoji="💬", style=discord.ButtonStyle.primary, custom_id=f"cb:comment:{answer_id}"
            )
        )
        self.answer_id = answer_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> Self:
        return cls(int(match["answer"]))

    @reported
    async def callback(self, interaction: discord.Interaction) -> None:
        await open_comment_form(interaction, self.answer_id)


async def open_comment_form(interaction: discord.Interaction, answer_id: int) -> None:
    bot = client(interaction)
    answer = await answer_or_gone(interaction, answer_id)
    rater = bot.pseudonyms.member(interaction.user.id)
    settings = await bot.storage.guild_settings(answer.guild_id)
    consent = await bot.storage.consent(answer.guild_id, rater)
    state = consent_state(consent, settings)
    if state is ConsentState.DECLINED:
        await interaction.response.send_message(DECLINED_REPLY, ephemeral=True)
    elif state is ConsentState.ASK:
        await send_consent_notice(interaction, answer_id, COMMENT_PENDING)
    elif consent is not None and not consent.level.allows_comments:
        await interaction.response.send_message(RATINGS_ONLY_REPLY, ephemeral=True)
    else:
        await send_comment_form(interaction, answer_id)


class ConsentButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=CONSENT_TEMPLATE):
    """One choice under the consent notice; its id carries the notice version the member was shown.

    Agreement is stored only when that version is still the current one; otherwise (or for an id from before
    versions were carried) the member gets the current notice to read instead. "No, thanks" is always honoured:
    stopping must be as easy as it can be, and a refusal stores nothing but the refusal.

    Storing a choice waits for any privacy request being made (they are made one at a time, and a /privacy forget
    can take a while), so every choice answers the click first (within Discord's three seconds), then stores it and
    edits the notice to say so; the comment form, which can only be a click's first answer, is shown before the
    choice is stored, and its submission waits for it.
    """

    def __init__(self, level: ConsentLevel, answer_id: int, pending: str, version: str | None) -> None:
        style = discord.ButtonStyle.secondary if level is ConsentLevel.DECLINED else discord.ButtonStyle.success
        # Read back from an old id (no version), the button keeps that id; new buttons always carry a version.
        custom_id = ConsentId(level, answer_id, pending, version).custom_id()
        super().__init__(discord.ui.Button(label=CHOICE_LABELS[level], style=style, custom_id=custom_id))
        self.level = level
        self.answer_id = answer_id
        self.pending = pending
        self.version = version

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> Self:
        choice = ConsentId.from_match(match)
        return cls(choice.level, choice.answer_id, choice.pending, choice.version)

    @reported
    async def callback(self, interaction: discord.Interaction) -> None:
        bot = client(interaction)
        if interaction.guild_id is None:
            raise UserFacingError("Consent is given per server; choose in the server where you rate answers.")
        settings = await bot.storage.guild_settings(interaction.guild_id)
        current = consent_version(settings)
        rating = pending_rating(self.pending)
        # A notice left open for longer than a rating may wait (a client keeps an ephemeral message's buttons
        # working) passes its rating on no more than the note it came from would, nor through a newer notice.
        stale = rating is not None and self.level is not ConsentLevel.DECLINED and expired(interaction.message)
        if self.version != current and self.level is not ConsentLevel.DECLINED:
            # The member read another text (or we cannot tell which): show the current one, store nothing.
            # A pending action survives only from a versioned id, whose origin this code checked.
            pending = self.pending if self.version is not None and not stale else NO_PENDING
            prefix = NOTICE_CHANGED + (NOTICE_TOO_OLD + "\n\n" if stale else "")
            await send_consent_notice(interaction, self.answer_id, pending, prefix=prefix)
            return
        if stale:
            rating = None
        if rating is not None and rating[1] is RatingSource.REACTION and self.level is not ConsentLevel.DECLINED:
            await self._agree_with_reaction(interaction, settings, rating[0], rating[2])
            return
        if self.pending == COMMENT_PENDING and self.level.allows_comments:
            await self._agree_with_comment_form(interaction, current)
            return
        # Storing the choice waits for the privacy request being made, if any (a /privacy forget can take a while):
        # the click is answered first, and the notice then edited to say what was stored.
        await interaction.response.defer()
        changed = await self._store_choice(interaction, current, carried=rating is not None)
        if self.level is ConsentLevel.DECLINED:
            await interaction.edit_original_response(
                content="Understood: none of your ratings or comments will be stored, and I won't ask again. "
                + withdrawn_line(changed)
                + "`/privacy consent` changes this any time.",
                view=None,
            )
            return
        saved = saved_line(self.level, changed)
        if stale:
            await interaction.edit_original_response(content=saved + NOTICE_TOO_OLD, view=None)
        elif rating is not None:
            value, source, size = rating
            scale = scale_of_size(size) if size is not None else None
            answer = await answer_or_gone(interaction, self.answer_id)
            change = await rate_by_button(interaction, answer, value, source, scale)
            await interaction.edit_original_response(content=saved.strip(), view=None)
            if change is RatingChange.STORED:
                await thank_for_rating(interaction, answer, value, settings, scale=scale)
        else:
            await interaction.edit_original_response(content=saved + "`/privacy` shows or changes it.", view=None)

    async def _agree_with_comment_form(self, interaction: discord.Interaction, current: str) -> None:
        """An agreement to comments on the notice opened from the Comment button: the comment form is the click's
        answer (a form can only be the first), and the choice is stored once it is shown. The form's submission
        waits for the choice to be stored (`CHOICES_BEING_STORED`), so that it is neither refused for want of a
        consent nor checked against an older one."""
        assert interaction.guild_id is not None
        with CHOICES_BEING_STORED.storing(interaction.guild_id, interaction.user.id):
            await send_comment_form(interaction, self.answer_id)
            changed = await self._store_choice(interaction, current, carried=False)
            # Said on the notice when the form comes back (this click's answer is the form: nothing to edit).
            CHOICES_BEING_STORED.took_back(interaction.guild_id, interaction.user.id, changed)

    async def _store_choice(self, interaction: discord.Interaction, current: str, *, carried: bool) -> int:
        """Store the member's choice, then have the reactions they added before choosing stored or forgotten; how
        many of their ratings, comments and questions the choice deleted or made unquotable."""
        bot = client(interaction)
        assert interaction.guild_id is not None
        rater = bot.pseudonyms.member(interaction.user.id)
        # The version shown, not the one current at the click: for an agreement the two are equal (checked
        # above); a refusal from an old, unversioned notice is recorded under the current version.
        # Choosing less deletes comments (or ratings, or quotability): digests must not carry them either.
        async with bot.deleting_member_data() as deletion:
            changed = await bot.privacy.decide(interaction.guild_id, rater, self.level, self.version or current)
            deletion.deleted = changed > 0
        # The reactions the member added before choosing, on other answers than the one whose rating this button
        # carries (the button stores that one), are stored now if they agreed, or forgotten (the Feedback cog
        # keeps them, and does this in the member's turn, after the consent button's).
        bot.dispatch(
            CONSENT_CHOSEN, interaction.guild_id, interaction.user.id, self.level, self.answer_id if carried else None
        )
        return changed

    async def _agree_with_reaction(
        self, interaction: discord.Interaction, settings: GuildSettings, value: int, size: int | None
    ) -> None:
        """An agreement on the notice opened from the note after a reaction: store the choice, then the rating the
        member's reactions on the answer show now.

        Both in the member's turn (`member_turn`), so that no reaction of theirs is handled in between: one handled
        after the choice was stored would be stored live, never noted as waiting, and then overwritten here by the
        older rating that was."""
        # Reading their reactions takes a few requests: the click is answered first.
        await interaction.response.defer()
        scale = scale_of_size(size) if size is not None else None
        bot = client(interaction)
        # As a live reaction event is handled (gate, then the member's turn): a moderator's "Remove all reactions"
        # on the answer meanwhile waits until the rating read here is stored, then removes it with its reaction;
        # else it found nothing to remove, and the rating read before was stored after it.
        message_ids = await bot.storage.answer_message_ids(self.answer_id)
        async with bot.reaction_gate.passing(*message_ids), member_turn(interaction, self.answer_id) as waiting:
            changed = await self._store_choice(interaction, consent_version(settings), carried=True)
            saved = saved_line(self.level, changed)
            answer = await answer_or_gone(interaction, self.answer_id)
            # The note carries the reaction as it was when the note was posted; the member may have added another
            # rating emoji on that answer since (`waiting`, with their other reactions, the latest last), or
            # taken one back. What their reactions show now, the latest rating emoji they added on the answer
            # counting as the newest, as live: ✅ (the note's) then 🤔, both still there, is a 🤔 rating.
            noted = waiting or (value,)
            try:
                shown = await current_reaction(interaction, answer, noted, settings)
            except discord.NotFound:
                # Deleted since the member reacted (a moderator, say): the reaction went with the message.
                log.info("answer %d: its message is gone, and the member's reaction with it", answer.answer_id)
                await interaction.edit_original_response(content=saved + ANSWER_DELETED, view=None)
                return
            if not shown:
                await interaction.edit_original_response(content=saved + NO_REACTION_NOW, view=None)
                return
            for reacted in shown:  # the older first: the rating then remembers the one it replaced
                change = await rate_by_button(interaction, answer, reacted, RatingSource.REACTION, scale)
        await interaction.edit_original_response(content=saved.strip(), view=None)
        if change is RatingChange.STORED:
            await thank_for_rating(interaction, answer, reacted, settings, scale=scale)


@runtime_checkable
class PendingValues(Protocol):
    """What the Feedback cog (cogs/feedback.py), which handles reactions one member at a time and keeps the rating
    reactions of members who have not chosen yet, offers the consent button."""

    def pending_turn(
        self, guild_id: int, user_id: int, answer_id: int
    ) -> contextlib.AbstractAsyncContextManager[tuple[int, ...]]: ...


@contextlib.asynccontextmanager
async def member_turn(interaction: discord.Interaction, answer_id: int) -> AsyncIterator[tuple[int, ...]]:
    """The clicking member's turn in the Feedback cog: their reactions being handled finish first, and those that
    come later wait until the block ends. It yields the values of their rating reactions on the answer waiting for
    their choice, the latest last; none when none waits (after a restart, say), or the Feedback cog is not loaded
    (then no turn is taken: no reactions are handled either)."""
    cog: object = client(interaction).get_cog("Feedback")
    if interaction.guild_id is None or not isinstance(cog, PendingValues):
        yield ()
        return
    async with cog.pending_turn(interaction.guild_id, interaction.user.id, answer_id) as newest:
        yield newest


def saved_line(level: ConsentLevel, changed: int) -> str:
    """The start of the reply to an agreement: the choice, and what it took back (`withdrawn_line`)."""
    return f"Saved your choice: **{CHOICE_LABELS[level].lower()}**. " + withdrawn_line(changed)


def withdrawn_line(changed: int) -> str:
    """What a choice took back, said to the member who made it (choosing less deletes what they gave beyond it);
    "" when nothing."""
    if not changed:
        return ""
    things = counted(changed, "rating, comment or question", "ratings, comments and questions")
    return f"As choosing less does, this deleted (or made unquotable) {things} of yours in this server. "


NO_REACTION_NOW = (
    "You no longer have one rating reaction on that answer, so no rating was stored; react again to rate it."
)
ANSWER_DELETED = "That answer's message was deleted, and your reaction with it, so no rating was stored."


async def current_reaction(
    interaction: discord.Interaction, answer: AnswerRecord, noted: Sequence[int], settings: GuildSettings
) -> list[int]:
    """The ratings `noted` before the member chose (the latest last) that their reactions still show, in that order
    (see `shown_ratings`: the last is the rating); none when none of them is there. discord.NotFound when the
    answer's message (or its channel) is gone, and the reaction with it; the latest noted one if the reactions
    cannot be read for another reason (as `store_pending_reactions` does)."""
    bot = client(interaction)
    try:
        values = await member_rating_reactions(
            bot,
            bot.storage,
            answer,
            interaction.user.id,
            answer_scale(answer, settings).value_of,
        )
    except discord.NotFound:
        raise
    except DISCORD_FAILURES as error:
        log.warning("answer %d: could not read the member's reactions again: %s", answer.answer_id, error)
        return [noted[-1]]
    return shown_ratings(noted, values)


class AskConsentButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=ASK_TEMPLATE):
    """Under the bot's short channel note after a reaction from a member who has not chosen yet.

    The note is public, so its id names the member who reacted: only they get the notice with their reaction's
    rating pending, and only for `PENDING_FOR` after the note was posted (see `expired`). Anyone else (or anyone,
    on an old note that names nobody) gets the notice with nothing pending, and can still choose for themselves.
    """

    def __init__(self, answer_id: int, value: int, member_id: int | None) -> None:
        custom_id = AskId(answer_id, value, member_id).custom_id()
        super().__init__(
            discord.ui.Button(label="Read and choose", style=discord.ButtonStyle.primary, custom_id=custom_id)
        )
        self.answer_id = answer_id
        self.value = value
        self.member_id = member_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> Self:
        ask = AskId.from_match(match)
        return cls(ask.answer_id, ask.value, ask.member_id)

    @reported
    async def callback(self, interaction: discord.Interaction) -> None:
        if self.member_id is not None and interaction.user.id == self.member_id:
            if expired(interaction.message):
                await send_consent_notice(interaction, self.answer_id, NO_PENDING, prefix=NOTE_EXPIRED)
            else:
                pending = rating_pending(self.value, RatingSource.REACTION)
                await send_consent_notice(interaction, self.answer_id, pending)
        elif self.member_id is not None:
            await send_consent_notice(interaction, self.answer_id, NO_PENDING, prefix=NOTE_FOR_SOMEONE_ELSE)
        else:
            await send_consent_notice(interaction, self.answer_id, NO_PENDING)


def expired(note: discord.Message | None) -> bool:
    """Whether a consent note was posted `PENDING_FOR` ago or more: the rating its button carries has then waited
    as long as a pending reaction may, and is not passed on. A note deletes itself after a few minutes, but one
    posted shortly before a restart stays in the channel, its button working, until someone deletes it. A note
    whose age cannot be told counts as expired."""
    return note is None or utcnow() - note.created_at >= timedelta(seconds=PENDING_FOR)


REASONS_NEED_CHOICE = (
    "**Your reasons were not saved:** the research notice changed since you chose, and reasons are kept only under "
    "the current one. Read it and choose; then pick your reasons again in the same menu (your rating stays).\n\n"
)
REASONS_FOR_ANOTHER_RATING = (
    "You changed your rating since this menu was shown, and these reasons were for the earlier one: nothing was "
    "saved. Pick reasons in the menu that came with your current rating."
)


class ReasonsSelect(
    discord.ui.DynamicItem[discord.ui.Select[Any]], template=r"cb:reasons:(?P<answer>\d+)(?::(?P<value>\d+))?"
):
    """The reasons menu offered with the thanks for a rating. Its id carries the rating's value (menus from
    before it did carry none), so that reasons picked in it never land on a rating changed since."""

    def __init__(self, answer_id: int, tags: tuple[str, ...] = (), value: int | None = None) -> None:
        options = [discord.SelectOption(label=tag[:100], value=tag[:100]) for tag in tags[:25]]
        super().__init__(
            discord.ui.Select(
                placeholder="Why? (optional)",
                min_values=0,
                max_values=max(1, len(options)),
                options=options or [discord.SelectOption(label="-", value="-")],
                custom_id=f"cb:reasons:{answer_id}" + ("" if value is None else f":{value}"),
            )
        )
        self.answer_id = answer_id
        self.value = value

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> Self:
        select = cast("discord.ui.Select[Any]", item)
        value = int(match["value"]) if match["value"] is not None else None
        return cls(int(match["answer"]), tuple(option.value for option in select.options), value)

    @reported
    async def callback(self, interaction: discord.Interaction) -> None:
        bot = client(interaction)
        answer = await answer_or_gone(interaction, self.answer_id)
        settings = await bot.storage.guild_settings(answer.guild_id)
        unknown = [value for value in self.item.values if value not in settings.reason_tags]
        if unknown:
            # Moderators changed the tags since the menu was shown: saving the rest would silently replace the
            # reasons stored (with fewer, or none).
            raise UserFacingError(
                f"The reasons offered changed since this menu was shown ({shortened(', '.join(unknown), 300)} "
                "no longer among them): nothing was saved. Rate the answer again to get the current list."
            )
        chosen = list(self.item.values)
        rater = bot.pseudonyms.member(interaction.user.id)
        # Reasons are research data like the rating: kept only under consent to the current notice.
        state = consent_state(await bot.storage.consent(answer.guild_id, rater), settings)
        if state is ConsentState.DECLINED:
            await interaction.response.send_message(DECLINED_REPLY, ephemeral=True)
            return
        if state is ConsentState.ASK:
            await send_consent_notice(interaction, self.answer_id, NO_PENDING, prefix=REASONS_NEED_CHOICE)
            return
        if not await bot.storage.set_reasons(answer.answer_id, rater, chosen, value=self.value):
            if await bot.storage.rating(answer.answer_id, rater) is not None:
                raise UserFacingError(REASONS_FOR_ANOTHER_RATING)
            raise UserFacingError("Rate the answer first; reasons belong to a rating.")
        listed = ", ".join(chosen) if chosen else "none"
        # Up to 25 tags of 100 characters: the list is shortened to fit one message (they are all saved).
        reply = shortened(f"Saved your reasons: {listed}.", MESSAGE_LIMIT)
        await interaction.response.send_message(reply, ephemeral=True)


COMMENT_FORM = re.compile(r"^cb:comment-form:(?P<answer>\d+)$")
COMMENT_INPUT = "comment"
COMMENT_SAVED_REPLIES = {
    CommentResult.STORED: "Thanks, your comment is saved.",
    CommentResult.DUPLICATE: "Thanks, your comment is saved.",
    CommentResult.NOT_ALLOWED: RATINGS_ONLY_REPLY,
    CommentResult.DECLINED: DECLINED_REPLY,
    CommentResult.NEEDS_CONSENT: (
        "Your comment was not saved: you have not chosen whether to take part, or the research notice changed since "
        "you did. Choose first: rate the answer or use `/privacy consent`."
    ),
}
# After a refusal: a form cannot be reopened with what was typed in it, so the text comes back as a file.
COMMENT_GIVEN_BACK = " Your text is attached, to send again if you choose to."


class CommentModal(discord.ui.Modal):
    """The comment form's layout. Its submission is handled by `submit_comment_form`, from the submission's own
    data (the answer in the form's id, the text in its input, the member who sent it), not by this object:
    discord.py keys open forms by their id alone, so two members' forms on one answer met (one member's words were
    saved under the other's name), and forms open across a restart were lost."""

    def __init__(self, answer_id: int) -> None:
        super().__init__(title="Comment on this answer", timeout=None, custom_id=f"cb:comment-form:{answer_id}")
        self.add_item(
            discord.ui.TextInput(
                label="Your comment",
                style=discord.TextStyle.paragraph,
                placeholder=COMMENT_PROMPT[:100],
                max_length=MAX_COMMENT_CHARS,
                required=True,
                custom_id=COMMENT_INPUT,
            )
        )


class ChoicesBeingStored:
    """Consent choices answered with the comment form before they were stored (see
    `ConsentButton._agree_with_comment_form`), by server and member, so that the form's submission can wait for
    them: it may come back sooner than a choice waiting for a privacy request is stored."""

    def __init__(self) -> None:
        self._storing: dict[tuple[int, int], list[asyncio.Event]] = {}
        self._changed: dict[tuple[int, int], int] = {}

    @contextlib.contextmanager
    def storing(self, guild_id: int, user_id: int) -> Iterator[None]:
        """Around showing a member the comment form and storing the choice it came with: entered before the form
        is shown, so that no submission of it comes before, and never waiting (the form must be shown at once)."""
        key, stored = (guild_id, user_id), asyncio.Event()
        self._storing.setdefault(key, []).append(stored)
        try:
            yield
        finally:
            stored.set()  # or failed: the member was told, and the submission sees what the database holds
            waiting = self._storing[key]
            waiting.remove(stored)
            if not waiting:
                del self._storing[key]

    def pending(self, guild_id: int, user_id: int) -> bool:
        return (guild_id, user_id) in self._storing

    async def wait(self, guild_id: int, user_id: int) -> None:
        """Until the member's choices being stored now are stored (or failed)."""
        for stored in list(self._storing.get((guild_id, user_id), ())):
            await stored.wait()

    def took_back(self, guild_id: int, user_id: int, changed: int) -> None:
        """How much of the member's data a stored choice deleted or made unquotable, until the form's submission
        says so (`changed_by_choice`). Kept even when 0: a later choice's form must not be told an earlier one's
        count (a form closed without sending leaves its count here)."""
        self._changed[(guild_id, user_id)] = changed

    def changed_by_choice(self, guild_id: int, user_id: int) -> int:
        return self._changed.pop((guild_id, user_id), 0)


# In this process only: a restart stops the storing too, and a form sent after it meets what the database holds.
CHOICES_BEING_STORED = ChoicesBeingStored()


async def send_comment_form(interaction: discord.Interaction, answer_id: int) -> None:
    form = CommentModal(answer_id)
    await interaction.response.send_modal(form)
    form.stop()  # out of discord.py's store of open forms: see CommentModal


async def submit_comment_form(interaction: discord.Interaction) -> bool:
    """Save a submitted comment form; False when the interaction is not one."""
    data = interaction.data
    if interaction.type is not discord.InteractionType.modal_submit or not isinstance(data, dict):
        return False
    match = COMMENT_FORM.match(str(data.get("custom_id", "")))
    if match is None:
        return False
    text = submitted_text(cast(list[dict[str, Any]], data.get("components") or []))
    try:
        bot = client(interaction)
        guild_id, user_id = interaction.guild_id, interaction.user.id
        # A form opened by agreeing on the notice: the submission (which comes from the notice) edits the notice to
        # say what was stored, as every other choice on it does, so it is answered by an update of the notice.
        from_notice = guild_id is not None and opened_from_notice(interaction.message)
        if from_notice:
            await interaction.response.defer()
        if guild_id is not None and CHOICES_BEING_STORED.pending(guild_id, user_id):
            # The form came with the member's agreement, which is still being stored (it may wait for a privacy
            # request): the comment is checked against it once it is, and the submission is answered first.
            if not interaction.response.is_done():
                await interaction.response.defer(ephemeral=True, thinking=True)
            await CHOICES_BEING_STORED.wait(guild_id, user_id)
        answer = await answer_or_gone(interaction, int(match["answer"]))
        result = await save_comment(
            bot.storage,
            bot.pseudonyms,
            answer,
            user_id=user_id,
            text=text,
            source=CommentSource.MODAL,
        )
        if from_notice and guild_id is not None:
            await _say_choice_saved(interaction, guild_id, result)
        reply = COMMENT_SAVED_REPLIES[result]
        files: list[discord.File] = []
        if result not in (CommentResult.STORED, CommentResult.DUPLICATE) and text.strip():
            reply += COMMENT_GIVEN_BACK
            files.append(text_file("your-comment.txt", text))
        if interaction.response.is_done():
            await interaction.followup.send(reply, files=files, ephemeral=True)
        else:
            await interaction.response.send_message(reply, files=files, ephemeral=True)
    except Exception as error:
        # A form cannot be reopened with what was typed in it: the comment comes back as a file.
        await report_error(interaction, error, give_back=("your-comment.txt", text) if text.strip() else None)
    return True


def opened_from_notice(message: discord.Message | None) -> bool:
    """Whether a submitted form was opened from a consent notice (by agreeing to comments on it), not from a
    Comment button under an answer or a reply: the message a form comes from is the one with the clicked button."""
    if message is None:
        return False
    return any(
        str(getattr(item, "custom_id", None) or "").startswith("cb:consent:")
        for row in message.components
        for item in getattr(row, "children", ())
    )


async def _say_choice_saved(interaction: discord.Interaction, guild_id: int, result: CommentResult) -> None:
    """Edit the notice a form came from to say what was stored and take its buttons away; left as it is when the
    comment was refused (the member chose otherwise meanwhile, and the reply says so)."""
    changed = CHOICES_BEING_STORED.changed_by_choice(guild_id, interaction.user.id)
    if result not in (CommentResult.STORED, CommentResult.DUPLICATE):
        return
    bot = client(interaction)
    consent = await bot.storage.consent(guild_id, bot.pseudonyms.member(interaction.user.id))
    if consent is None:
        return
    try:
        await interaction.edit_original_response(
            content=saved_line(consent.level, changed) + "`/privacy` shows or changes it.", view=None
        )
    except discord.HTTPException as error:  # the notice was dismissed: the comment is saved, and the reply says so
        log.info("could not edit the consent notice after a comment form: %s", error)


def submitted_text(components: list[dict[str, Any]]) -> str:
    """The comment in a submitted form: its input's value, or the only input's (a form opened before the input
    had a fixed id)."""
    inputs = list(_text_inputs(components))
    for component in inputs:
        if component.get("custom_id") == COMMENT_INPUT:
            return str(component.get("value") or "")
    return str(inputs[0].get("value") or "") if len(inputs) == 1 else ""


def _text_inputs(components: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The text inputs of a submission, in action rows (type 1) or labels (type 18)."""
    for component in components:
        if component.get("type") == discord.ComponentType.text_input.value:
            yield component
        yield from _text_inputs(component.get("components") or [])
        if isinstance(inner := component.get("component"), dict):
            yield from _text_inputs([inner])


DYNAMIC_ITEMS: tuple[type[discord.ui.DynamicItem[Any]], ...] = (
    RateButton,
    CommentButton,
    ConsentButton,
    AskConsentButton,
    ReasonsSelect,
)
