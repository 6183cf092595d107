"""Declared cultural scopes: the bounded cultural context a server's answers are given within.

A scope is a Markdown file with a TOML header between `+++` lines (id, title, summary, community,
setting, languages, not_covered, authors, sources, version_note, template) and `## ` sections in prose
(context and history; norms and etiquette; forms of address, formality and hierarchy; values and
tensions; variation within the community; sensitive topics; glossary; example questions; and any
section a community adds). `parse_scope` reads one and reports every problem at once;
`scopes/` ships templates (`list_templates`, `load_template`) and `_blank.md`, a commented skeleton;
`bot.scopes.validate_cli.validate_paths` checks files for the command line.
"""

from bot.scopes.document import (
    MAX_SCOPE_BYTES,
    MAX_SECTION_CHARS,
    MAX_SECTIONS,
    ScopeDocument,
    ScopeMetadata,
    ScopeSection,
)
from bot.scopes.parser import ScopeProblem, ScopeValidationError, parse_scope, validate_scope
from bot.scopes.sections import KNOWN_SECTIONS, GlossaryEntry, section_key
from bot.scopes.templates import (
    BLANK_TEMPLATE,
    TEMPLATES_DIR,
    TemplateInfo,
    UnknownTemplateError,
    list_templates,
    load_template,
)

__all__ = [
    "BLANK_TEMPLATE",
    "KNOWN_SECTIONS",
    "MAX_SCOPE_BYTES",
    "MAX_SECTIONS",
    "MAX_SECTION_CHARS",
    "TEMPLATES_DIR",
    "GlossaryEntry",
    "ScopeDocument",
    "ScopeMetadata",
    "ScopeProblem",
    "ScopeSection",
    "ScopeValidationError",
    "TemplateInfo",
    "UnknownTemplateError",
    "list_templates",
    "load_template",
    "parse_scope",
    "section_key",
    "validate_scope",
]
