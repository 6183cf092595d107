"""Rendering a scope for reading in Discord: pages that fit an embed, and its history as pages of one-line entries."""

from __future__ import annotations

from bot.answers.splitting import split_message
from bot.digests.text import excerpt
from bot.scopes.document import ScopeDocument
from bot.storage import ScopeVersion
from bot.wording import counted

EMBED_DESCRIPTION_LIMIT = 4096
HISTORY_VERSIONS = 250  # the newest versions /scope history pages through (each is read whole, text included)
PAGE_CHARS = 3800  # leaves room for the page footer and continuation marks


def render_overview(document: ScopeDocument) -> str:
    meta = document.metadata
    lines = [
        f"**{meta.title}**",
        meta.summary,
        "",
        f"**Community:** {meta.community}",
        f"**Setting:** {meta.setting}",
        f"**Languages:** {', '.join(meta.languages)}",
        "**Does not cover:**",
        *(f"- {item}" for item in meta.not_covered),
        f"**Authors:** {', '.join(meta.authors)}",
    ]
    if meta.sources:
        lines += ["**Sources:**", *(f"- {source}" for source in meta.sources)]
    if meta.template:
        lines += ["", "*This is a template: a starting point this community should review and rewrite.*"]
    return "\n".join(lines)


def render_pages(document: ScopeDocument, *, limit: int = PAGE_CHARS) -> list[str]:
    """The whole scope as Markdown pages, overview first, each section starting on a fresh line. Editors'
    notes (HTML comments) are left out, as they are from the model's context; `/scope download` keeps them."""
    blocks = [render_overview(document)]
    blocks += [f"## {section.title}\n{section.prose}" for section in document.sections]
    pages: list[str] = []
    current = ""
    for block in blocks:
        candidate = f"{current}\n\n{block}" if current else block
        if len(candidate) <= limit:
            current = candidate
            continue
        if current:
            pages.append(current)
        parts = split_message(block, limit)
        pages.extend(parts[:-1])
        current = parts[-1]
    if current:
        pages.append(current)
    return pages


def history_line(version: ScopeVersion, *, current: bool) -> str:
    marker = " **(current)**" if current else ""
    return (
        f"**v{version.number}**{marker} · {version.created_at[:16].replace('T', ' ')} UTC · {version.source.value} · "
        f"<@{version.author_id}> · {version.change_summary}"
    )


def history_pages(lines: list[str], *, total: int, limit: int = EMBED_DESCRIPTION_LIMIT) -> list[str]:
    """History lines, newest first, as embed descriptions of whole lines (a line longer than a page is cut).
    Each page but the last ends with a note of the older versions on the pages after it; the last page ends with
    one of the older versions not listed at all, if any (numbers run 1..total, so they are v1..v<rest>)."""

    unlisted = total - len(lines)  # v1..v<unlisted>, older than any line (history reads the newest only)

    def older(rest: int, *, listed: bool) -> str:
        if not listed:
            numbers = "v1" if rest == 1 else f"v1–v{rest}"
            reach = "not listed here; `/scope show`, `/scope diff` and `/scope download` take a number"
            return f"*…and {counted(rest, 'older version')} ({numbers}): {reach}.*"
        # The next pages hold v<unlisted + 1>..v<rest>; older ones are named on the last page.
        first = unlisted + 1
        numbers = f"v{first}" if rest == first else f"v{first}–v{rest}"
        return f"*…and {counted(rest - unlisted, 'older version')} ({numbers}): on the next pages (Next).*"

    budget = limit - len(older(total, listed=False)) - 1  # a note always fits (fewer digits, never more)
    lines = [line if len(line) <= budget else excerpt(line, budget) for line in lines]
    pages: list[str] = []
    page: list[str] = []
    size = 0
    for index, line in enumerate(lines):
        if page and size + len(line) + 1 > budget:
            pages.append("\n".join([*page, older(total - index, listed=True)]))
            page, size = [], 0
        page.append(line)
        size += len(line) + 1
    rest = total - len(lines)
    pages.append("\n".join(page + ([older(rest, listed=False)] if rest > 0 else [])))
    return pages
