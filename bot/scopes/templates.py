"""The scope templates shipped in `scopes/`: listing them and loading one by name.

Names come from Discord autocomplete, so they are untrusted: a name is looked up among the files
actually in the folder (`[a-z0-9-]+.md`), never joined onto a path, so nothing outside
`TEMPLATES_DIR` is ever read. `_blank.md` (the commented skeleton) is not a template one can use as
is; it is not listed and cannot be loaded by name (see `BLANK_TEMPLATE`).
"""

from __future__ import annotations

import difflib
import functools
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import bot
from bot.scopes.document import ScopeDocument
from bot.scopes.parser import parse_scope, read_scope_file
from bot.scopes.problems import ScopeValidationError

log = logging.getLogger(__name__)

TEMPLATES_DIR = Path(bot.__file__).resolve().parent.parent / "scopes"
BLANK_TEMPLATE = TEMPLATES_DIR / "_blank.md"
_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")


class UnknownTemplateError(ValueError):
    """No shipped template has this name; the message lists the names there are."""


@dataclass(frozen=True, slots=True)
class TemplateInfo:
    name: str  # the file's stem, e.g. "indonesian-business-jakarta"
    title: str
    summary: str
    path: Path


def _template_files(directory: Path) -> dict[str, Path]:
    """Template name → file, for the `name.md` files directly in `directory` that stay inside it."""
    if not directory.is_dir():
        return {}
    root = directory.resolve()
    found: dict[str, Path] = {}
    for path in sorted(directory.iterdir()):
        if path.suffix != ".md" or not _NAME.match(path.stem) or not path.is_file():
            continue
        if not path.resolve().is_relative_to(root):
            log.warning("ignoring template %s: it links outside %s", path.name, root)
            continue
        found[path.stem] = path
    return found


@functools.lru_cache(maxsize=64)
def _parse_file(path: Path, modified_ns: int, size: int) -> ScopeDocument:
    """Parse a template, cached until the file changes (autocomplete asks on every keystroke)."""
    return parse_scope(read_scope_file(path), source=f"scopes/{path.name}")


def _load(path: Path) -> ScopeDocument:
    status = path.stat()
    return _parse_file(path, status.st_mtime_ns, status.st_size)


def template_names(directory: Path | None = None) -> list[str]:
    """The names of the template files, valid or not, in order."""
    return list(_template_files(directory or TEMPLATES_DIR))


def list_templates(directory: Path | None = None) -> list[TemplateInfo]:
    """The usable templates, by name; a broken file is logged and left out rather than failing."""
    templates = []
    for name, path in _template_files(directory or TEMPLATES_DIR).items():
        try:
            document = _load(path)
        except (OSError, ScopeValidationError) as error:
            log.warning("template %s is not usable:\n%s", path.name, error)
            continue
        templates.append(TemplateInfo(name, document.metadata.title, document.metadata.summary, path))
    return templates


def load_template(name: str, directory: Path | None = None) -> ScopeDocument:
    """The template called `name` (untrusted input). Raises `UnknownTemplateError` for a name that is
    not a template file's, and `ScopeValidationError` if that file is broken."""
    files = _template_files(directory or TEMPLATES_DIR)
    if not isinstance(name, str) or not _NAME.match(name) or name not in files:
        raise UnknownTemplateError(_unknown_message(name, list(files)))
    return _load(files[name])


def _unknown_message(name: object, names: list[str]) -> str:
    shown = repr(name) if len(repr(name)) <= 70 else repr(name)[:67] + "..."
    if not names:
        return f"there is no template named {shown}: no templates are installed (expected in {TEMPLATES_DIR})"
    guess = difflib.get_close_matches(str(name).strip().lower(), names, n=1, cutoff=0.3)
    if not guess and isinstance(name, str):
        guess = [candidate for candidate in names if candidate.startswith(name.strip().lower()[:4])][:1]
    hint = f" Did you mean {guess[0]!r}?" if guess else ""
    return f"there is no template named {shown}.{hint} The templates are: {', '.join(names)}"
