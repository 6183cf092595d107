"""The digest as a Discord embed: the headline numbers, with the full report and data attached."""

from __future__ import annotations

import discord

from bot.digests.formatting import fit_change, fit_with_ci, percent, reader_period, share_change, share_with_ci
from bot.digests.model import Denominators, Digest
from bot.digests.rater_agreement import agreement_brief
from bot.digests.sections import headline_change, scales_hint, taking_part
from bot.storage import DigestRecord
from bot.wording import counted

# Discord refuses a message whose embed exceeds these (in characters; the total counts the title, description,
# field names and values, footer and author): `within_limits` keeps every digest embed inside them.
EMBED_TOTAL_LIMIT = 6000
EMBED_FIELDS_LIMIT = 25
EMBED_FIELD_LIMIT = 1024  # a field's value
EMBED_NAME_LIMIT = 256  # a field's name, the title, the author's name
EMBED_DESCRIPTION_LIMIT = 4096
EMBED_FOOTER_LIMIT = 2048
CUT = " … (cut here: the attached report has it all)"
# Fields left out first when the embed is too long, least important first; Answers and Fit always stay, and a field
# not named here goes after these and before "Read with care" (what a reader must know before trusting the rest).
LEAVE_OUT_FIRST = ("Themes in comments", "Agreement", "Randomized comparison #", "Scope versions")
LEAVE_OUT_LAST = ("Read with care",)
KEPT = ("Answers", "Fit")


def _answers_rated(counts: Denominators) -> str:
    """The answers and the share rated, whose denominator is the answers shown with rating controls: said when
    that is not every answer (failed and refused answers have none), as the report's Summary says."""
    if counts.ratable_answers == counts.answers:
        return f"{counted(counts.answers, 'answer')}, {percent(counts.share_rated)} rated"
    return (
        f"{counted(counts.answers, 'answer')}; {percent(counts.share_rated)} of the "
        f"{counted(counts.ratable_answers, 'answer')} that could be rated were rated"
    )


def digest_embed(digest: Digest, record: DigestRecord | None, footer: str, *, data: bool = True) -> discord.Embed:
    """The digest's embed; `data`: whether the post carries the data files (data.zip), as the description says."""
    counts = digest.current.denominators
    attached = "Full report, chart and pseudonymised data are attached." if data else "Full report and chart attached."
    embed = discord.Embed(
        title=f"Research digest · {digest.guild_name or 'this server'}"[:256],
        description=f"{_period(digest)}. {attached}",
    )
    embed.add_field(
        name="Answers",
        value=f"{_answers_rated(counts)}; "
        f"{counted(counts.ratings, 'rating')} from {counted(counts.unique_raters, 'member')}; "
        f"{counted(counts.comments, 'comment')}; {counted(taking_part(counts), 'member')} taking part at the "
        f"period's end ({counts.consent_at_end.get('declined', 0)} declined)",
        inline=False,
    )
    embed.add_field(name="Fit", value=_fit(digest), inline=False)
    if digest.versions.note:
        embed.add_field(name="Scope versions", value=digest.versions.note, inline=False)
    for comparison in digest.comparisons[-2:]:  # the newest
        embed.add_field(
            name=f"Randomized comparison #{comparison.comparison_id}",
            value=(
                f"{comparison.alternative.label} minus {comparison.current.label}: "
                f"{headline_change('mean fit', comparison.mean_fit_change, fit_change)}. {comparison.note}"
            ),
            inline=False,
        )
    if digest.themes.themes:
        themes = "; ".join(
            f"{theme.label} ({theme.size}{', new' if theme.is_new else ''})" for theme in digest.themes.themes[:5]
        )
        embed.add_field(name="Themes in comments", value=themes, inline=False)
    embed.add_field(name="Agreement", value=agreement_brief(digest.disagreement, EMBED_FIELD_LIMIT), inline=False)
    if digest.notes:
        notes = "\n".join(f"• {note.message}" for note in digest.notes)
        embed.add_field(name="Read with care", value=notes, inline=False)
    embed.set_footer(text=footer)
    return within_limits(embed)


def _fit(digest: Digest) -> str:
    """Fit share and mean fit with their changes versus the previous period, as the report's Summary states them:
    a change without an interval is not stated as a number, and one across rating scales is a hint, without a
    fit-share change."""
    fit = digest.current.fit
    share = f"Fit share: {share_with_ci(fit.fit_share)}"
    mean = f"Mean fit (0–1): {fit_with_ci(fit.mean_fit)}"
    if digest.previous is None:
        return f"{share}\n{mean}"
    if not digest.previous.denominators.ratings:
        return f"{share}\n{mean}\nNo ratings in the previous period to compare with."
    versus = "versus the previous period"
    mean += f"; {headline_change(versus, digest.mean_fit_change, fit_change)}"
    if digest.change_scales_differ:
        # Different scales, or a mix of them (`scales_hint` below says which): the tops are different thresholds.
        share += f"; {versus}: not compared (the tops of two scales are different thresholds)"
        mean += f", {scales_hint(digest)}"
    else:
        share += f"; {headline_change(versus, digest.fit_share_change, share_change)}"
    return f"{share}\n{mean}"


def within_limits(embed: discord.Embed) -> discord.Embed:
    """`embed` within Discord's limits: each text cut to its own limit (a cut field value says where the rest is),
    and, while there are more than EMBED_FIELDS_LIMIT fields or EMBED_TOTAL_LIMIT characters in all, the least
    important field left out (`_importance`; of two alike, the earlier: the older comparison), every one left out
    named, with a pointer to the attached report, at the end of the description. Answers and Fit always stay."""
    title = _cut(embed.title or "", EMBED_NAME_LIMIT)
    author = _cut(embed.author.name or "", EMBED_NAME_LIMIT)
    footer = _cut(embed.footer.text or "", EMBED_FOOTER_LIMIT)
    fields = [
        (_cut(field.name or "", EMBED_NAME_LIMIT), _cut(field.value or "", EMBED_FIELD_LIMIT, CUT), bool(field.inline))
        for field in embed.fields
    ]
    left_out: set[int] = set()

    def description() -> str:
        names = [name for index, (name, _, _) in enumerate(fields) if index in left_out]
        return _cut((embed.description or "") + _left_out_note(names), EMBED_DESCRIPTION_LIMIT)

    def total() -> int:
        shown = sum(len(name) + len(value) for index, (name, value, _) in enumerate(fields) if index not in left_out)
        return len(title) + len(author) + len(footer) + len(description()) + shown

    for index in sorted(range(len(fields)), key=lambda index: (_importance(fields[index][0]), index)):
        within = len(fields) - len(left_out) <= EMBED_FIELDS_LIMIT and total() <= EMBED_TOTAL_LIMIT
        if within or fields[index][0] in KEPT:
            break
        left_out.add(index)
    # Over only with a footer far longer than a digest's ("culturebot digest #12"): it gives way.
    footer = _cut(footer, len(footer) - max(total() - EMBED_TOTAL_LIMIT, 0))
    if title:
        embed.title = title
    if author:
        embed.set_author(name=author, url=embed.author.url, icon_url=embed.author.icon_url)
    embed.description = description() or None
    if footer:
        embed.set_footer(text=footer, icon_url=embed.footer.icon_url)
    embed.clear_fields()
    for index, (name, value, inline) in enumerate(fields):
        if index not in left_out:
            embed.add_field(name=name, value=value, inline=inline)
    return embed


def _importance(name: str) -> int:
    """Which fields go first when the embed is too long: 0 first (LEAVE_OUT_FIRST's order), then fields not named
    there, then LEAVE_OUT_LAST; KEPT never."""
    for rank, prefix in enumerate(LEAVE_OUT_FIRST):
        if name.startswith(prefix):
            return rank
    if name in KEPT:
        return len(LEAVE_OUT_FIRST) + 2
    return len(LEAVE_OUT_FIRST) + (1 if name in LEAVE_OUT_LAST else 0)


def _left_out_note(names: list[str]) -> str:
    if not names:
        return ""
    return f" Left out here to keep within Discord's size limits: {', '.join(names)}; the attached report has them."


def _cut(text: str, limit: int, marker: str = "…") -> str:
    """`text` in at most `limit` characters, ending in `marker` when cut."""
    if len(text) <= limit:
        return text
    if limit <= len(marker):
        return text[: max(limit, 0)]
    return text[: limit - len(marker)].rstrip() + marker


def _period(digest: Digest) -> str:
    return reader_period(digest.start, digest.end)
