"""Writing the few TOML values a scope header holds (text, lists of text, true) readably.

Only what `tomllib` reads back to the same value: basic strings with escapes, multi-line basic
strings for text with line breaks, and arrays of strings.
"""

from __future__ import annotations

import re

_ESCAPES = {"\\": "\\\\", '"': '\\"', "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
_NEEDS_ESCAPE = re.compile(r'[\\"\x00-\x1f\x7f]')
_CONTROL_IN_MULTILINE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# In a multi-line string a quote must be escaped when it would start `"""` or end the string early.
_RISKY_QUOTE = re.compile(r'"(?="|$)')


# Any space but a line break around it (the parser strips lines with str.strip(), which takes no-break and other
# Unicode spaces too).
_FENCE_LINE = re.compile(r"^([^\S\n]*)\+(\+\+[^\S\n]*)$", re.MULTILINE)


def _escape(char: str) -> str:
    return _ESCAPES.get(char, f"\\u{ord(char):04X}")


def basic_string(text: str) -> str:
    """`text` as a one-line TOML string: `"…"`."""
    return '"' + _NEEDS_ESCAPE.sub(lambda match: _escape(match.group()), text) + '"'


def multiline_string(text: str) -> str:
    """`text` as a TOML multi-line string opening and closing on lines of their own.

    The line break after the closing text is part of the value; readers strip it (scope text is stripped).
    """
    body = text.replace("\\", "\\\\")
    body = _CONTROL_IN_MULTILINE.sub(lambda match: _escape(match.group()), body)
    body = _RISKY_QUOTE.sub('\\\\"', body)
    # A line of only +++ would end the scope header early: escape its first "+".
    body = _FENCE_LINE.sub(lambda match: match[1] + "\\u002B" + match[2], body)
    return f'"""\n{body}\n"""'


def string_list(items: tuple[str, ...] | list[str], *, key_width: int = 0, width: int = 100) -> str:
    """A TOML array of strings: on one line when it fits in `width`, else one item per line."""
    inline = "[" + ", ".join(basic_string(item) for item in items) + "]"
    if key_width + len(inline) <= width:
        return inline
    return "[\n" + "".join(f"    {basic_string(item)},\n" for item in items) + "]"
