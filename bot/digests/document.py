"""A minimal document model (headings, paragraphs, lists, tables, quotes, code) rendered to Markdown or HTML.

The report's content is built once as blocks of plain text (sections.py); each renderer escapes that text
for its format, so member-written text cannot inject markup into either file.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Heading:
    level: int  # 1..3
    text: str


@dataclass(frozen=True, slots=True)
class Paragraph:
    text: str


@dataclass(frozen=True, slots=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: tuple[int, ...] = ()  # right-aligned columns


@dataclass(frozen=True, slots=True)
class BlockQuote:
    text: str
    source: str


@dataclass(frozen=True, slots=True)
class Code:
    """A line to copy as it is (a command): a fenced code block in Markdown, `<pre><code>` in HTML."""

    text: str


Block = Heading | Paragraph | Bullets | Table | BlockQuote | Code

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_<>\[\]|#~&])")
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029]+")


# What would make a line a block of its own where the text starts one (a quote, a list item, a paragraph): a list
# or thematic-break marker ("- too formal", "+ ok", "---"), an ordered list's number ("1. …", "2) …"), or a setext
# underline ("==="); `*`, `#` and `>` are escaped everywhere already. Escaping the marker's punctuation keeps it
# as text.
_BLOCK_START = re.compile(r"^(?:([-+=])|([0-9]{1,9})([.)]))")


def markdown_text(text: str) -> str:
    """Inline Markdown: special characters backslash-escaped, on one line."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", _LINE_BREAKS.sub(" ", text))


def markdown_line(text: str) -> str:
    """`markdown_text` for text that starts a line (a paragraph, a list item, a quote: member text is quoted there),
    with nothing at its start that would make it a list, a rule or a code block."""
    escaped = markdown_text(text).lstrip()  # four leading spaces would make a code block
    return _BLOCK_START.sub(lambda m: f"\\{m[1]}" if m[1] else f"{m[2]}\\{m[3]}", escaped, count=1)


def to_markdown(blocks: Sequence[Block]) -> str:
    parts: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            parts.append(f"{'#' * block.level} {markdown_text(block.text)}")
        elif isinstance(block, Paragraph):
            parts.append(markdown_line(block.text))
        elif isinstance(block, Bullets):
            parts.append("\n".join(f"- {markdown_line(item)}" for item in block.items))
        elif isinstance(block, Table):
            header = "| " + " | ".join(markdown_text(cell) for cell in block.headers) + " |"
            rule = "|" + "|".join("---:" if i in block.numeric else "---" for i in range(len(block.headers))) + "|"
            rows = ["| " + " | ".join(markdown_text(cell) for cell in row) + " |" for row in block.rows]
            parts.append("\n".join([header, rule, *rows]))
        elif isinstance(block, Code):
            # A fence longer than any run of backticks in the text, so that none ends it.
            fence = "`" * max(3, 1 + max((len(run) for run in re.findall("`+", block.text)), default=0))
            parts.append(f"{fence}\n{_LINE_BREAKS.sub(' ', block.text)}\n{fence}")
        else:
            parts.append(f"> {markdown_line(block.text)}\n>\n> — {markdown_text(block.source)}")
    return "\n\n".join(parts) + "\n"


_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; max-width: 60rem;
       margin: 2rem auto; padding: 0 1rem; line-height: 1.5; color: #1f2328; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2rem; border-bottom: 1px solid #d0d7de; }
h3 { font-size: 1.05rem; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.92rem; }
th, td { border: 1px solid #d0d7de; padding: 0.25rem 0.5rem; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f6f8fa; }
blockquote { margin: 0.5rem 0 1rem; padding: 0.25rem 1rem; border-left: 4px solid #8c959f; color: #3d444d; }
blockquote footer { font-size: 0.85rem; color: #59636e; }
img { max-width: 100%; height: auto; }
pre { background: #f6f8fa; padding: 0.5rem 0.75rem; overflow-x: auto; white-space: pre-wrap; word-break: break-all; }
"""


def _cells(tag: str, cells: Sequence[str], numeric: Sequence[int]) -> str:
    return "".join(
        f'<{tag} class="num">{html.escape(cell)}</{tag}>' if i in numeric else f"<{tag}>{html.escape(cell)}</{tag}>"
        for i, cell in enumerate(cells)
    )


def to_html(title: str, blocks: Sequence[Block], *, image: str | None = None, image_after: int = 0) -> str:
    """A self-contained page; `image` (a data: URI) is placed after block number `image_after`."""
    body: list[str] = []
    for index, block in enumerate(blocks):
        if isinstance(block, Heading):
            body.append(f"<h{block.level}>{html.escape(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            body.append(f"<p>{html.escape(block.text)}</p>")
        elif isinstance(block, Bullets):
            items = "".join(f"<li>{html.escape(item)}</li>" for item in block.items)
            body.append(f"<ul>{items}</ul>")
        elif isinstance(block, Table):
            head = f"<tr>{_cells('th', block.headers, block.numeric)}</tr>"
            rows = "".join(f"<tr>{_cells('td', row, block.numeric)}</tr>" for row in block.rows)
            body.append(f"<table><thead>{head}</thead><tbody>{rows}</tbody></table>")
        elif isinstance(block, Code):
            body.append(f"<pre><code>{html.escape(block.text)}</code></pre>")
        else:
            quote, source = html.escape(block.text), html.escape(block.source)
            body.append(f"<blockquote><p>{quote}</p><footer>— {source}</footer></blockquote>")
        if image is not None and index == image_after:
            body.append(f'<p><img src="{html.escape(image)}" alt="Fit over time and by scope version"></p>')
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )
