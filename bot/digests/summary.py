"""The digest as a Discord embed: the headline numbers, with the full report and data attached."""

from __future__ import annotations

import discord

from bot.digests.formatting import fit_change, fit_with_ci, percent, share_change, share_with_ci
from bot.digests.model import Digest
from bot.digests.sections import headline_change, scales_hint
from bot.storage import DigestRecord
from bot.wording import counted

EMBED_FIELD_LIMIT = 1024


def digest_embed(digest: Digest, record: DigestRecord | None, footer: str) -> discord.Embed:
    counts = digest.current.denominators
    embed = discord.Embed(
        title=f"Research digest · {digest.guild_name or 'this server'}"[:256],
        description=f"{digest.start[:16].replace('T', ' ')} – {digest.end[:16].replace('T', ' ')} UTC. "
        "Full report, chart and pseudonymised data are attached.",
    )
    embed.add_field(
        name="Answers",
        value=f"{counted(counts.answers, 'answer')}, {percent(counts.share_rated)} rated; "
        f"{counted(counts.ratings, 'rating')} from {counted(counts.unique_raters, 'member')}; "
        f"{counted(counts.comments, 'comment')}",
        inline=False,
    )
    embed.add_field(name="Fit", value=_fit(digest), inline=False)
    if digest.versions.note:
        embed.add_field(name="Scope versions", value=digest.versions.note[:EMBED_FIELD_LIMIT], inline=False)
    for comparison in digest.comparisons[-2:]:  # the newest
        embed.add_field(
            name=f"Randomized comparison #{comparison.comparison_id}",
            value=(
                f"{comparison.alternative.label} minus {comparison.current.label}: mean fit "
                f"{fit_change(comparison.mean_fit_change)}. {comparison.note}"
            )[:EMBED_FIELD_LIMIT],
            inline=False,
        )
    if digest.themes.themes:
        themes = "; ".join(
            f"{theme.label} ({theme.size}{', new' if theme.is_new else ''})" for theme in digest.themes.themes[:5]
        )
        embed.add_field(name="Themes in comments", value=themes[:EMBED_FIELD_LIMIT], inline=False)
    embed.add_field(name="Agreement", value=digest.disagreement.alpha_sentence[:EMBED_FIELD_LIMIT], inline=False)
    if digest.notes:
        notes = "\n".join(f"• {note.message}" for note in digest.notes)
        embed.add_field(name="Read with care", value=notes[:EMBED_FIELD_LIMIT], inline=False)
    embed.set_footer(text=footer)
    return embed


def _fit(digest: Digest) -> str:
    """Fit share and mean fit with their changes versus the previous period, as the report's Summary states them:
    a change without an interval is not stated as a number, and one across rating scales is a hint, without a
    fit-share change."""
    fit = digest.current.fit
    share = f"Fit share: {share_with_ci(fit.fit_share)}"
    mean = f"Mean fit (0–1): {fit_with_ci(fit.mean_fit)}"
    if digest.previous is None:
        return f"{share}\n{mean}"
    versus = "versus the previous period"
    mean += f"; {headline_change(versus, digest.mean_fit_change, fit_change)}"
    if digest.change_scales_differ:
        share += f"; {versus}: not compared, rated on different scales"
        mean += f", {scales_hint(digest)}"
    else:
        share += f"; {headline_change(versus, digest.fit_share_change, share_change)}"
    return f"{share}\n{mean}"
