"""Changing a server's scope: every change validates first and then stores a new immutable version.

Plain functions over the storage layer, called by the /scope commands and testable without Discord.
Nothing here touches the current version unless the new content validated completely.
"""

from __future__ import annotations

import difflib
import re
from collections import OrderedDict

from bot.errors import UserFacingError, problem_list, shortened
from bot.scopes.document import ScopeDocument, ScopeSection
from bot.scopes.parser import parse_scope, validate_scope
from bot.scopes.problems import ScopeValidationError
from bot.scopes.templates import UnknownTemplateError, load_template
from bot.storage import NewScopeVersion, ScopeChange, ScopeSource, ScopeVersion, StaleScope, Storage
from bot.wording import counted

NO_SCOPE_MESSAGE = (
    "This server has not declared a cultural scope yet, so I won't answer from nowhere. "
    "Moderators can pick a starting point with `/scope templates` and `/scope use`, or upload one with "
    "`/scope upload`."
)
UNSCOPED_NOTE = "\n\n*(This server has no declared cultural scope; this is a general answer.)*"


def cleared_scope_reply(allow_unscoped: bool) -> str:
    """What `/scope clear` tells the moderator: what members asking from now on get, which the server's
    unscoped-answers setting decides."""
    kept = "(versions are kept: `/scope rollback` restores one)"
    if allow_unscoped:
        return (
            f"The scope is cleared {kept}. Unscoped answers are allowed, so members asking now get general answers "
            "with a note that no cultural scope is declared; `/scope settings allow_unscoped:False` stops them."
        )
    return f"The scope is cleared {kept}. I will not answer until a new one is declared."


class ScopeCache:
    """Parsed documents by version id: versions are immutable, so an entry never goes stale."""

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._documents: OrderedDict[int, ScopeDocument] = OrderedDict()

    def document(self, version: ScopeVersion) -> ScopeDocument:
        document = self._documents.get(version.version_id)
        if document is None:
            document = parse_scope(version.content, source=f"scope version {version.number}", stored=True)
            self._documents[version.version_id] = document
            if len(self._documents) > self._size:
                self._documents.popitem(last=False)
        else:
            self._documents.move_to_end(version.version_id)
        return document


async def store_document(
    storage: Storage,
    guild_id: int,
    actor_id: int,
    document: ScopeDocument,
    source: ScopeSource,
    change_summary: str,
    *,
    based_on: int | None = None,
) -> ScopeChange:
    """Store the document as the server's new current version; `based_on`: see `NewScopeVersion`."""
    return await storage.add_scope_version(
        NewScopeVersion(
            guild_id=guild_id,
            scope_id=document.metadata.id,
            title=document.metadata.title,
            content=document.source_text,  # keeps the authors' formatting and header comments
            source=source,
            change_summary=shortened(change_summary, 300),  # an ellipsis says the list goes on
            author_id=actor_id,
            based_on=based_on,
        )
    )


async def current_document(
    storage: Storage, cache: ScopeCache, guild_id: int
) -> tuple[ScopeVersion, ScopeDocument] | None:
    version = await storage.current_scope(guild_id)
    return None if version is None else (version, cache.document(version))


async def use_template(storage: Storage, guild_id: int, actor_id: int, name: str) -> ScopeChange:
    """Make a shipped template the server's scope (a starting point the community then edits)."""
    try:
        document = load_template(name)
    except UnknownTemplateError as error:
        raise UserFacingError(str(error)[:1].upper() + str(error)[1:]) from None
    current = await storage.current_scope(guild_id)
    if current is not None and current.content == document.source_text:
        # A new version would also end a running comparison, for a change that is none.
        raise UserFacingError(
            f"The current scope (version {current.number}) is already the template '{name}'; nothing was changed. "
            "Change it with `/scope edit` or `/scope upload`."
        )
    return await store_document(
        storage, guild_id, actor_id, document, ScopeSource.TEMPLATE, f"started from the template '{name}'"
    )


# `-v3.md`; a browser's second copy `-v3 (1).md`, which reaches the bot as `-v3_1.md`: Discord cleans uploaded
# names as werkzeug's secure_filename does (spaces become `_`, parentheses go; discord-api-docs#4292).
DOWNLOADED_NAME = re.compile(r"-v(?P<number>[0-9]{1,9})(?: ?\([0-9]+\)|_[0-9]+)?\.md$", re.IGNORECASE)


def downloaded_version(filename: str) -> int | None:
    """The version a file was downloaded as, from the name `/scope download` gives it (`<scope id>-v3.md`,
    or a browser's second copy, `-v3 (1).md`, as Discord delivers it: `-v3_1.md`); None for any other name.

    A copy saved as `-v3(1).md` (no space) reaches the bot as `-v31.md`, which cannot be told from version 31:
    read as 31, it is never taken for an older download than it is, so no upload is refused for it."""
    match = DOWNLOADED_NAME.search(filename)
    return int(match["number"]) if match else None


async def upload_scope(
    storage: Storage,
    cache: ScopeCache,
    guild_id: int,
    actor_id: int,
    data: bytes,
    filename: str,
    *,
    replace_newer: bool = False,
) -> ScopeChange:
    """Validate an uploaded file (raising ScopeValidationError with every problem) and store it.

    A file named as `/scope download` names version N, uploaded after later versions changed the scope, would
    undo those changes unseen (a moderator edits a download for a day while another edits a section): it is
    refused with what changed since, unless `replace_newer`. A current version that no longer passes validation
    is replaced like any other: an upload is the way out members are told of when the scope cannot be read.
    """
    document = parse_scope(data, source=filename)
    current = await storage.current_scope(guild_id)
    if current is not None and current.content == document.source_text:
        # A new version would also end a running comparison, for a change that is none.
        raise UserFacingError(
            f"{filename} is the same as the current scope (version {current.number}); nothing was changed."
        )
    if current is not None and not replace_newer:
        await _refuse_undoing_newer(storage, guild_id, current, filename, actor_id)
    if current is None:
        summary = describe_change(None, document)
    else:
        try:
            summary = describe_change(cache.document(current), document)
        except ScopeValidationError:
            summary = (
                f"replaced version {current.number}, which no longer passed validation "
                f"({len(document.sections)} sections)"
            )
    return await store_document(
        storage, guild_id, actor_id, document, ScopeSource.UPLOAD, f"uploaded {filename}: {summary}"
    )


NEWER_LISTED = 5  # later versions named in the refusal


async def _refuse_undoing_newer(
    storage: Storage, guild_id: int, current: ScopeVersion, filename: str, actor_id: int
) -> None:
    number = downloaded_version(filename)
    if number is None or number >= current.number:
        return
    base = await storage.scope_version(guild_id, number)
    if base is None or not filename.lower().startswith(f"{base.scope_id.lower()}-v"):
        return  # not a download of this server's version
    if base.content == current.content:
        return  # the scope is back to that version: nothing to undo
    newer = [
        v
        for v in await storage.scope_history(guild_id, limit=current.number - number)
        if v.number > number and not _own_upload_of(v, number, base.scope_id, actor_id)
    ]
    if not newer:
        return  # every change since is this moderator's own upload of the same download: fixing it again is fine
    listed = "\n".join(f"• v{v.number} ({v.source.value}): {v.change_summary[:200]}" for v in newer[:NEWER_LISTED])
    more = f"\n…and {len(newer) - NEWER_LISTED} more" if len(newer) > NEWER_LISTED else ""
    raise UserFacingError(
        f"`{filename}` looks like version {number}, downloaded before the scope changed; uploading it would undo "
        f"what was saved since:\n{listed}{more}\nNothing was changed. Bring those changes into your file "
        f"(`/scope diff a:{number} b:{current.number}` shows them) and upload it again, or upload it with "
        "`replace_newer: True` to replace them."
    )


_UPLOADED = re.compile(r"^uploaded (?P<file>.+?): ")


def _own_upload_of(version: ScopeVersion, number: int, scope_id: str, actor_id: int) -> bool:
    """Whether `version` is `actor_id`'s upload of a download of version `number` (e.g. a typo fixed, the same file
    uploaded again), which that download, uploaded again by them, does not undo."""
    if version.source is not ScopeSource.UPLOAD or version.author_id != actor_id:
        return False
    uploaded = _UPLOADED.match(version.change_summary)
    if uploaded is None:
        return False
    name = uploaded["file"]
    return downloaded_version(name) == number and name.lower().startswith(f"{scope_id.lower()}-v")


async def editable_document(storage: Storage, cache: ScopeCache, guild_id: int) -> tuple[ScopeVersion, ScopeDocument]:
    """The current version and its document, to edit part by part; a UserFacingError saying what to do when
    there is none, or when it no longer passes validation (a form edits one part and keeps the rest as it is,
    so it could never save)."""
    version = await storage.current_scope(guild_id)
    if version is None:
        raise UserFacingError("There is no scope to edit yet: start with `/scope use` or `/scope upload`.")
    return version, readable_document(cache, version, "edited in a form")


def refuse_unfixable_in_form(
    version: ScopeVersion, document: ScopeDocument, part: ScopeSection | None, *, summary: bool = False
) -> None:
    """Before a form opens on `part` (an existing section; None for a new one), or on the summary: a UserFacingError
    when the stored file
    breaks today's rules outside it. A version stored under older rules still answers, but a saved edit holds the
    whole file to today's rules, so the form could never be saved: said now, with the stored file's own line
    numbers. Problems inside the part edited are left to the form, which can fix them."""
    problems = validate_scope(version.content, source=f"version {version.number}")
    if summary:
        outside = [problem for problem in problems if problem.field != "summary"]
    elif part is None:
        outside = problems
    else:
        following = [section.line for section in document.sections if section.line > part.line]
        end = min(following, default=None)
        outside = [
            problem
            for problem in problems
            if problem.line is None or problem.line < part.line or (end is not None and problem.line >= end)
        ]
    if outside:
        raise no_longer_valid(
            version,
            ScopeValidationError(outside),
            "edited in a form",
            f"It still answers members. Moderators: get its file with `/scope download version:{version.number}`, "
            "fix these lines and upload it with `/scope upload`.",
        )


def readable_document(cache: ScopeCache, version: ScopeVersion, use: str) -> ScopeDocument:
    """A stored version's document, or a UserFacingError with its problems and the ways out when today's rules
    refuse it; `use` is what it was asked for ("shown", "edited in a form")."""
    try:
        return cache.document(version)
    except ScopeValidationError as error:
        raise no_longer_valid(
            version,
            error,
            use,
            f"Moderators: get its file with `/scope download version:{version.number}`, fix it and upload it with "
            "`/scope upload` (an upload replaces the whole file), or make an earlier version current with "
            "`/scope rollback`.",
        ) from None


EDIT_ATTEMPTS = 5


class EditConflict(UserFacingError):
    """The part being edited was changed by someone else after the editor started from it."""


async def edit_scope(
    storage: Storage,
    cache: ScopeCache,
    guild_id: int,
    actor_id: int,
    *,
    section: str | None,
    text: str,
    started_from: str | None = None,
) -> ScopeChange:
    """Replace the summary (section None) or one section; the result is validated as a whole file.

    `started_from`: the text the editor was shown (a form opened earlier). If that part has changed since, the
    edit is refused with an `EditConflict` rather than overwrite the other change; edits of other parts made
    meanwhile are kept either way, since the edit applies to the scope as it is now (an edit saved by someone
    else while this one was being stored makes it start again from theirs)."""
    what = "the summary" if section is None else f"the section '{section}'"
    for _ in range(EDIT_ATTEMPTS):
        version, document = await editable_document(storage, cache, guild_id)
        if started_from is not None and document.part_text(section).strip() != started_from.strip():
            raise EditConflict(
                f"{what[:1].upper() + what[1:]} was changed while you were editing it (version {version.number} "
                "is current now), so your text was not saved and the other change is kept. Your text is "
                "attached: run `/scope edit` again to start from the current text and merge yours in."
            )
        # with_summary/with_section re-parse the whole result: an edit is held to exactly the rules an upload is.
        edited = document.with_summary(text) if section is None else document.with_section(section, text)
        if edited == document:
            raise UserFacingError(
                f"Your text is the same as {what} in the current scope (version {version.number}); nothing was changed."
            )
        try:
            return await store_document(
                storage, guild_id, actor_id, edited, ScopeSource.EDIT, f"edited {what}", based_on=version.version_id
            )
        except StaleScope:
            continue  # another change became current while this one was made: apply it to that one instead
    raise UserFacingError(
        "The scope kept changing while your edit was being saved, so it was not saved. Run `/scope edit` again."
    )


async def stored_version(storage: Storage, guild_id: int, number: int) -> ScopeVersion:
    """The server's version `number`, or a UserFacingError pointing to `/scope history`."""
    version = await storage.scope_version(guild_id, number)
    if version is None:
        raise UserFacingError(f"There is no version {number}; `/scope history` lists the versions.")
    return version


async def rollback_scope(storage: Storage, guild_id: int, actor_id: int, number: int) -> ScopeChange:
    """Make an earlier version current again, as a new version (history is never rewritten)."""
    target = await stored_version(storage, guild_id, number)
    current = await storage.current_scope(guild_id)
    if current is not None and current.content_sha256 == target.content_sha256:
        raise UserFacingError(
            f"The current scope (version {current.number}) already has the content of version {number}: nothing "
            "was changed. `/scope history` lists the versions."
        )
    # A current scope that does not parse would leave every question without an answer.
    require_valid(target, "made current")
    return await storage.add_scope_version(
        NewScopeVersion(
            guild_id=guild_id,
            scope_id=target.scope_id,
            title=target.title,
            content=target.content,
            source=ScopeSource.ROLLBACK,
            change_summary=f"rolled back to version {number}",
            author_id=actor_id,
        )
    )


def require_valid(version: ScopeVersion, use: str) -> None:
    """Refuse an earlier version that no longer passes validation (rules may have been added since it was
    written), saying how to fix it; `use` is what it was asked for ("made current", "compared")."""
    try:
        parse_scope(version.content, source=f"version {version.number}", stored=True)
    except ScopeValidationError as error:
        raise no_longer_valid(
            version,
            error,
            use,
            f"Get its file with `/scope download version:{version.number}`, fix it, and upload it with "
            "`/scope upload`.",
        ) from None


def no_longer_valid(version: ScopeVersion, error: ScopeValidationError, use: str, fix: str) -> UserFacingError:
    """The refusal for a stored version that today's rules refuse: its problems, and `fix` always in full."""
    heading = f"Version {version.number} no longer passes validation, so it cannot be {use}:"
    return UserFacingError(problem_list(error.problems, heading=heading, fix=fix))


def describe_change(before: ScopeDocument | None, after: ScopeDocument) -> str:
    """A short, human summary of what changed between two documents."""
    if before is None:
        return f"first version ({counted(len(after.sections), 'section')})"
    parts = []
    if before.metadata != after.metadata:
        changed = [
            name
            for name in type(after.metadata).model_fields
            if getattr(before.metadata, name) != getattr(after.metadata, name)
        ]
        parts.append("metadata: " + ", ".join(changed))
    old = {section.key: section for section in before.sections}
    new = {section.key: section for section in after.sections}
    added = [new[key].title for key in new if key not in old]
    removed = [old[key].title for key in old if key not in new]
    edited = [new[key].title for key in new if key in old and old[key].body != new[key].body]
    # A well-known section keeps its key under another heading ("Etiquette" for "Norms and etiquette").
    renamed = [f"{old[key].title} → {new[key].title}" for key in new if key in old and old[key].title != new[key].title]
    for label, titles in (("added", added), ("removed", removed), ("edited", edited), ("renamed", renamed)):
        if titles:
            parts.append(f"{label}: " + ", ".join(titles))
    kept = [key for key in new if key in old]
    if kept != [key for key in old if key in new]:
        parts.append("sections reordered")
    # The file differs (an identical one is refused): only comments, spacing or the header's layout changed.
    return "; ".join(parts) or "only comments, spacing or layout changed"


def diff_versions(a: ScopeVersion, b: ScopeVersion) -> str:
    """A unified diff of two versions' files."""
    lines = difflib.unified_diff(
        a.content.splitlines(keepends=True),
        b.content.splitlines(keepends=True),
        fromfile=f"version {a.number}",
        tofile=f"version {b.number}",
        n=1,
    )
    return "".join(lines) or "The two versions are identical.\n"
