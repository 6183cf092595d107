"""Rendering a scope for reading in Discord: pages that fit an embed, and a one-line history entry."""

from __future__ import annotations

from bot.answers.splitting import split_message
from bot.scopes.document import ScopeDocument
from bot.storage import ScopeVersion

EMBED_DESCRIPTION_LIMIT = 4096
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
