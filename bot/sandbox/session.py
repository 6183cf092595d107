"""What the sandbox's user types, done as a member would do it in Discord.

Every action goes through the Discord stand-in: a question is a message that mentions the bot, a
rating is a click on the real button under the answer, a slash command is a real interaction. The
bot's replies are rendered from what it sent to the stand-in, so the terminal shows what Discord
would show. A step that fails (the bot answered with an error, no answer came in time, an unknown
command) raises `StepFailed`; the interactive front end shows it, a script stops on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.sandbox.demo import DemoWorld
from bot.sandbox.discord import FileOption, InteractionRecord, Message
from bot.sandbox.discord.option_rules import OptionProblem, check_options, convert, misread_name
from bot.sandbox.discord.permissions import Permission
from bot.sandbox.render import BOT_NAME, INDENT, Console, MessageView, buttons_and_selects, custom_ids, is_writing

RESPONSE_TIMEOUT = 5.0  # Discord drops interactions not answered within 3 s; a little slack
SETTLE = 0.3  # seconds without change after which a reply counts as complete
RATING_WORDS = {"fits": "high", "fit": "high", "partly": "middle", "no": "low", "not": "low"}
CONSENT_LEVELS = {"ratings": "ratings", "comments": "comments", "quotes": "quotes", "no": "declined"}
ERROR_LOGGER = "bot.errors"  # bot/errors.py: every error reply to a member is logged there first


class StepFailed(Exception):
    """A step did not do what it should; the message says what happened."""


@dataclass
class PendingConsent:
    """A consent notice waiting for the member's choice, and what they were doing when it came."""

    notice: Message
    reasons: list[str] = field(default_factory=list)
    comment: str | None = None


Handler = Callable[[str], Awaitable[None]]


@dataclass(frozen=True)
class Command:
    usage: str
    help: str
    handler: Handler


_CLIENT_NAMES = {"MANAGE_GUILD": "Manage Server"}


class ErrorReplies(logging.Handler):
    """Collects the bot's error replies to members while a step runs."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class Session:
    """One user at the terminal, acting as one of the demo members at a time."""

    def __init__(
        self,
        world: DemoWorld,
        console: Console,
        *,
        out_dir: Path,
        answer_timeout: float,
        answer_quiet: float = 1.5,
    ) -> None:
        self.world = world
        self.standin = world.standin
        self.console = console
        self.out_dir = out_dir
        self.answer_timeout = answer_timeout
        self.answer_quiet = answer_quiet  # a message without a cursor and controls is final after this long
        self.member = next(iter(world.members))
        self.last_answer: Message | None = None
        self._pending: dict[str, PendingConsent] = {}
        self._thanks: dict[str, Message] = {}  # the member's last rating confirmation (reasons menu)
        self._clickable: list[tuple[str | None, Message]] = []  # messages with buttons, and who may see them
        self._errors = ErrorReplies()
        self.commands: dict[str, Command] = {
            "/help": Command("/help", "this list", self._help),
            "/as": Command("/as <ayu|budi|mod>", "act as another member (mod has Manage Server)", self._as),
            "/rate": Command(
                "/rate <fits|partly|no|1-3, or 1-5 on a five-point scale> [reason, reason]",
                "click a rating button under the last answer (and pick reasons)",
                self._rate,
            ),
            "/reasons": Command("/reasons <reason>, <reason>", "pick reasons for your last rating", self._reasons),
            "/consent": Command(
                "/consent <ratings|comments|quotes|no>", "answer the consent notice (or open it)", self._consent
            ),
            "/comment": Command("/comment <text>", "comment on the last answer, in the real form", self._comment),
            "/reply": Command("/reply <text>", "reply to the last answer (continues the conversation)", self._reply),
            "/click": Command("/click <label>", "click a button of the last message that has it", self._click),
            "/digest": Command(
                "/digest",
                f"the research digest so far (/digest preview as {world.moderator}); files go to the --out folder",
                self._digest,
            ),
            "/wait": Command("/wait <seconds>", "pause (e.g. for a member's question cooldown)", self._wait),
            "/quit": Command("/quit", "stop the bot and leave", self._quit),
        }
        self._quitting = False
        self._learn_names()

    def _learn_names(self) -> None:
        """Let the console show mentions by name, as Discord does."""
        names = self.console.names
        names[f"@{self.standin.bot_user_id}"] = f"@{BOT_NAME}"
        names.update({f"@{user_id}": f"@{name}" for name, user_id in self.world.members.items()})
        names.update({f"#{channel_id}": f"#{name}" for name, channel_id in self.world.channels.items()})
        for role in self.standin.state.guild(self.world.guild_id).roles.values():
            names[f"@&{role.id}"] = role.name if role.name.startswith("@") else f"@{role.name}"

    # ----------------------------------------------------------------- lifecycle

    def __enter__(self) -> Session:
        logger = logging.getLogger(ERROR_LOGGER)
        logger.addHandler(self._errors)
        if logger.getEffectiveLevel() > logging.INFO:
            logger.setLevel(logging.INFO)
        return self

    def __exit__(self, *exc: object) -> None:
        logging.getLogger(ERROR_LOGGER).removeHandler(self._errors)

    @property
    def prompt(self) -> str:
        return f"{self.member}> "

    @property
    def user_id(self) -> int:
        return self.world.members[self.member]

    async def run(self, line: str, *, scripted: bool = False) -> bool:
        """Do one line; False once the user asked to quit. `scripted`: a line of a script, where `expect` is the
        check (typed at the prompt, "expect my boss to …" is a question; `/expect` checks there)."""
        text = line.strip()
        if not text or text.startswith("#"):
            return True
        word, _, rest = text.partition(" ")
        if word == "/expect" or (scripted and word == "expect"):
            self._expect(rest.strip())
            return True
        self.console.new_step()
        self._errors.records.clear()
        if not text.startswith("/"):
            await self._ask(text)
        elif word in self.commands:
            await self.commands[word].handler(rest.strip())
        elif word == "/exit":
            await self._quit("")
        else:
            await self._slash(word[1:], rest.strip())
        self._check_errors()
        return not self._quitting

    def help_text(self) -> str:
        width = max(len(command.usage) for command in self.commands.values())
        lines = [
            "Type a question to ask culturebot in #ask (as a message that mentions it). Commands:",
            *(f"  {command.usage.ljust(width)}  {command.help}" for command in self.commands.values()),
            "  /scope use <template>, /scope upload FILE, /scope show [version], /scope preview <question>,",
            "  /scope history, /privacy status, /culture, /about, /ask <question> … any of the bot's slash",
            "  commands, typed as in Discord: the first option as text, others as name=value.",
            "In scripts (--script FILE): `expect <text>` checks that the last step's output contains <text>",
            "(`/expect <text>` at the prompt).",
        ]
        return "\n".join(lines)

    # ----------------------------------------------------------------- front-end commands

    async def _help(self, _: str) -> None:
        self.console.say(self.help_text())

    async def _as(self, name: str) -> None:
        if name not in self.world.members:
            raise StepFailed(f"there is no member {name!r}; the members are {', '.join(self.world.members)}")
        self.member = name
        note = " (Manage Server, research role)" if name == self.world.moderator else ""
        self.console.say(f"You are now {name}{note}.")

    async def _wait(self, seconds: str) -> None:
        try:
            await asyncio.sleep(float(seconds))
        except ValueError:
            raise StepFailed(f"/wait takes a number of seconds, not {seconds!r}") from None

    async def _quit(self, _: str) -> None:
        self._quitting = True

    def _expect(self, text: str) -> None:
        if not text:
            raise StepFailed("expect needs the text to look for")
        if not self.console.step_contains(text):
            raise StepFailed(f"expected the last output to contain {text!r}")

    def _check_errors(self) -> None:
        if self._errors.records:
            record = self._errors.records[0]
            self._errors.records.clear()
            if record.levelno < logging.ERROR:  # a refusal ("/digest now refused: ..."), shown just above
                raise StepFailed("the bot refused (its reply is above)")
            raise StepFailed(f"the bot answered with an error ({self.console.display(record.getMessage())})")

    # ----------------------------------------------------------------- questions and answers

    async def _ask(self, text: str) -> None:
        mention = f"<@{self.standin.bot_user_id}> {text}"
        _check_length(mention)
        posted = await self.standin.send_message(self.world.ask_channel, self.user_id, mention)
        await self._follow_answer(self.world.ask_channel, int(posted["id"]))

    async def _reply(self, text: str) -> None:
        if not text:
            raise StepFailed("/reply needs the text of your reply")
        answer = self._require_answer()
        if answer.ephemeral:
            raise StepFailed("the last answer was private (only its asker saw it); Discord has no replies to those")
        _check_length(text)
        posted = await self.standin.send_message(answer.channel_id, self.user_id, text, reply_to=answer.id)
        await self._follow_answer(answer.channel_id, int(posted["id"]))

    async def _follow_answer(self, channel_id: int, question_id: int) -> None:
        """Show the bot's reply to a message as it streams; remember it if it is an answer."""
        started = time.monotonic()

        def parts() -> list[Message]:
            messages = self.standin.bot_messages(channel_id)
            first = next((m for m in messages if _replies_to(m) == question_id), None)
            if first is None:
                return []
            later = [m for m in messages if m.id > first.id and m.message_reference is None and not m.interaction_id]
            return [first, *later]

        messages = await self._follow(
            parts, what="the bot's answer", done=_has_rating_controls, quiet=self.answer_quiet
        )
        self._answered(messages, started)

    def _answered(self, messages: Sequence[Message], started: float) -> None:
        final = messages[-1]
        answer_id = _answer_id(final)
        if answer_id is None:
            said = self.console.display(final.content).splitlines()[0] if final.content else "…"
            raise StepFailed(f"the bot did not answer: {said}")
        self.last_answer = final
        edits = sum(len(m.edits) for m in messages)
        self.console.say(
            f"{INDENT}✓ answer #{answer_id}: {len(messages)} message(s), streamed with {edits} edit(s) "
            f"in {time.monotonic() - started:.1f}s"
        )

    def _require_answer(self) -> Message:
        if self.last_answer is None:
            raise StepFailed("there is no answer yet: type a question first")
        return self.standin.message(self.last_answer.id)

    # ----------------------------------------------------------------- feedback

    async def _rate(self, args: str) -> None:
        word, _, rest = args.partition(" ")
        if not word:
            raise StepFailed("/rate needs a rating: fits, partly, no, or a number")
        answer = self._require_answer()
        button = _rating_button(answer, word.lower())
        record = await self._interact(
            self.standin.click_button(answer.channel_id, answer.id, self.user_id, button), what="the rating button"
        )
        await self._after_controls(record, reasons=_split_reasons(rest))

    async def _reasons(self, args: str) -> None:
        thanks = self._thanks.get(self.member)
        if thanks is None:
            raise StepFailed("rate an answer first (/rate fits …): reasons belong to a rating")
        if not args:
            raise StepFailed("/reasons needs at least one reason, e.g. /reasons too generic")
        await self._pick_reasons(thanks, _split_reasons(args))

    async def _pick_reasons(self, thanks: Message, reasons: list[str]) -> None:
        select = next(
            (
                item
                for item in buttons_and_selects(thanks.components)
                if str(item.get("custom_id", "")).startswith("cb:reasons:")
            ),
            None,
        )
        if select is None:
            raise StepFailed("this server has no reason tags to pick from")
        options = {str(o["label"]).lower(): str(o["value"]) for o in select.get("options") or []}
        unknown = [reason for reason in reasons if reason.lower() not in options]
        if unknown:
            raise StepFailed(f"unknown reason {unknown[0]!r}; the reasons are: {', '.join(options)}")
        record = await self._interact(
            self.standin.select_option(
                thanks.channel_id,
                thanks.id,
                self.user_id,
                str(select["custom_id"]),
                [options[r.lower()] for r in reasons],
            ),
            what="the reasons menu",
        )
        await self._after_controls(record)

    async def _consent(self, args: str) -> None:
        level = CONSENT_LEVELS.get(args.strip().lower())
        if level is None:
            raise StepFailed("/consent takes one of: ratings, comments, quotes, no")
        pending = self._pending.pop(self.member, None)
        if pending is None:
            record = await self._interact(
                self.standin.invoke_command(
                    self.world.guild_id, self.world.ask_channel, self.user_id, "privacy consent"
                ),
                what="/privacy consent",
            )
            notice = next((m for m in record.messages if _consent_button(m, level)), None)
            if notice is None:
                raise StepFailed("the bot did not show the consent choices")
            pending = PendingConsent(notice)
        button = _consent_button(pending.notice, level)
        if button is None:
            raise StepFailed("the consent notice has no such choice")
        waiting_rating = button.rsplit(":", 1)[1].startswith("r") and level != "declined"
        record = await self._interact(
            self.standin.click_button(pending.notice.channel_id, pending.notice.id, self.user_id, button),
            what="the consent choice",
            done=(lambda ms: any(_has_reasons(m) for m in ms)) if waiting_rating else None,
            quiet=1.0 if waiting_rating else SETTLE,
        )
        if record.modal is not None:
            await self._submit_comment(record, pending.comment)
            return
        await self._after_controls(record, reasons=pending.reasons)

    async def _comment(self, text: str) -> None:
        if not text:
            raise StepFailed("/comment needs the text of your comment")
        answer = self._require_answer()
        answer_id = _answer_id(answer)
        button = f"cb:comment:{answer_id}"
        if button not in custom_ids(answer):
            raise StepFailed("the last answer has no Comment button")
        record = await self._interact(
            self.standin.click_button(answer.channel_id, answer.id, self.user_id, button), what="the Comment button"
        )
        if record.modal is not None:
            await self._submit_comment(record, text)
        else:
            await self._after_controls(record, comment=text)

    async def _submit_comment(self, opened: InteractionRecord, text: str | None) -> None:
        assert opened.modal is not None
        title = opened.modal.get("title", "a form")
        inputs = [
            component
            for row in opened.modal.get("components") or []
            for component in (row.get("components") or [row.get("component") or {}])
            if component.get("type") == 4
        ]
        if text is None or not inputs:
            raise StepFailed(f"the bot opened the form “{title}”; fill it with /comment <text>")
        self.console.say(f"{INDENT}📝 form “{title}” opened; submitting your text")
        await self._interact(
            self.standin.submit_modal(opened, self.user_id, values={str(inputs[0]["custom_id"]): text}),
            what="the comment form",
        )

    async def _click(self, label: str) -> None:
        wanted = label.strip().lower()
        for owner, message in reversed(self._clickable):
            if owner not in (None, self.member):
                continue
            current = self.standin.message(message.id)
            for item in buttons_and_selects(current.components):
                if item.get("type") == 2 and not item.get("disabled") and str(item.get("label", "")).lower() == wanted:
                    record = await self._interact(
                        self.standin.click_button(current.channel_id, current.id, self.user_id, str(item["custom_id"])),
                        what=f"the {item.get('label')} button",
                    )
                    await self._after_controls(record)
                    return
        raise StepFailed(f"no button {label!r} on the messages you can see")

    async def _after_controls(
        self, record: InteractionRecord, *, reasons: Sequence[str] = (), comment: str | None = None
    ) -> None:
        """Remember the controls the bot showed, and go on with what the member was doing."""
        owner = self.member if record.ephemeral else None
        for message in record.messages:
            ids = custom_ids(message)
            if any(i.startswith("cb:consent:") for i in ids):
                self._pending[self.member] = PendingConsent(message, list(reasons), comment)
            if any(i.startswith("cb:reasons:") for i in ids):
                self._thanks[self.member] = message
                if reasons:
                    await self._pick_reasons(message, list(reasons))
            if any(item.get("type") == 2 for item in buttons_and_selects(message.components)):
                self._clickable.append((owner, message))
            if _answer_id(message) is not None and not is_writing(message):
                self.last_answer = message
        del self._clickable[:-20]

    # ----------------------------------------------------------------- slash commands

    async def _digest(self, args: str) -> None:
        if args not in ("", "preview"):
            await self._slash("digest", args)
            return
        moderator = self.world.moderator
        if self.member != moderator:
            self.console.say(f"(running /digest preview as {moderator}, who has Manage Server and the research role)")
        record = await self._interact(
            self.standin.invoke_command(
                self.world.guild_id, self.world.channels["digest"], self.world.members[moderator], "digest preview"
            ),
            what="/digest preview",
            patience=max(self.answer_timeout, 120.0),  # the statistics take a moment on a large server
        )
        if not any(message.attachments for message in record.messages):
            raise StepFailed("the digest came without files")
        self._keep_files(record.messages)

    def _keep_files(self, messages: Sequence[Message], indent: str = INDENT) -> None:
        """Write the files the bot attached to `messages` into the output folder, and say where: in Discord they
        would be downloaded (a scope to edit and upload again, a member's export, a digest's report and data)."""
        files = [attachment for message in messages for attachment in message.attachments]
        if not files:
            return
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            written = []
            for attachment in files:
                path = self.out_dir / Path(attachment.filename).name
                path.write_bytes(attachment.data)
                written.append(path)
        except OSError as error:  # the folder went, or filled up, since the start: this step fails, not the sandbox
            raise StepFailed(
                f"could not write the files to {self.out_dir} ({error.strerror or error}); start again with --out "
                "naming a folder you can write in"
            ) from None
        self.console.say(f"{indent}Files written to {self.out_dir}:")
        for path in written:
            self.console.say(f"{indent}  {path}")

    async def _slash(self, name: str, args: str) -> None:
        definition = next((c for c in self.standin.commands() if c["name"] == name), None)
        if definition is None:
            raise StepFailed(f"unknown command /{name}; /help lists the commands")
        self._check_visible(definition)
        path, leaf, rest = _command_path(definition, args)
        options = self._options(leaf, rest, " ".join(path))
        qualified = " ".join(path)
        streams = qualified in ("scope preview", "ask")
        started = time.monotonic()
        record = await self._interact(
            self.standin.invoke_command(self.world.guild_id, self.world.ask_channel, self.user_id, qualified, options),
            what=f"/{qualified}",
            min_messages=2 if qualified == "scope preview" else 1,
            done=_has_rating_controls if qualified == "ask" else None,
            quiet=self.answer_quiet if streams else SETTLE,
        )
        if qualified == "ask" and record.messages:
            self._answered(record.messages, started)
        if record.modal is not None:
            title = record.modal.get("title", "a form")
            self.console.say(
                f"{INDENT}📝 the bot opened the form “{title}”, which the sandbox cannot fill (only the comment form, "
                f"with /comment); /scope download writes the scope to a file in {self.out_dir}, and "
                "/scope upload FILE takes it back"
            )
            return
        self._keep_files(record.messages)
        await self._after_controls(record)

    def _check_visible(self, definition: dict[str, Any]) -> None:
        """Refuse, as Discord's client does by not showing it, a command whose default permissions the member lacks
        (moderators' commands need Manage Server). Server admins can change who sees a command in Discord; the bot
        checks permissions itself all the same."""
        needed = int(definition.get("default_member_permissions") or 0)
        held = self.standin.state.guild_permissions(self.world.guild_id, self.user_id)
        if needed and needed & held != needed:
            # As Discord's client names them (MANAGE_GUILD is "Manage Server" there).
            names = [
                _CLIENT_NAMES.get(str(flag.name), str(flag.name).replace("_", " ").title())
                for flag in Permission
                if flag.value & needed & ~held
            ]
            moderator = self.world.moderator
            raise StepFailed(
                f"Discord does not show /{definition['name']} to {self.member}: it needs "
                f"{', '.join(names) or 'permissions they lack'}. "
                f"`/as {moderator}` switches to the moderator."
            )

    def _options(self, leaf: dict[str, Any], text: str, qualified: str) -> dict[str, Any]:
        """The options typed after `/qualified`, as Discord's client would send them; a `StepFailed` naming each
        option the client would refuse (see option_rules), and nothing sent."""
        definitions = list(leaf.get("options") or [])
        by_name = {str(d["name"]): d for d in definitions}
        pattern = r"(?:^|\s)([\w-]+)=(\"[^\"]*\"|\S+)"
        named = [match for match in re.finditer(pattern, text) if match.group(1) in by_name]
        free = text[: named[0].start()].strip() if named else text.strip()
        typed: dict[str, str] = {}
        first = str(definitions[0]["name"]) if definitions else None
        if free:
            if first is None:
                raise StepFailed(f"/{qualified} takes no options")
            typed[first] = free
        problems: list[OptionProblem] = []
        for match in named:
            name = match.group(1)
            if name in typed:
                # Discord's client fills each option once; the last one typed would silently win here.
                also = " (the text typed after the command fills it too)" if name == first and free else ""
                problems.append(OptionProblem(name, f"is given twice{also}: keep one"))
            typed[name] = match.group(2).strip('"')
        options: dict[str, Any] = {}
        for name, value in typed.items():
            try:
                options[name] = self._option_value(by_name[name], value)
            except OptionProblem as problem:
                hint = misread_name(free, definitions) if free and name == first and value == free else None
                problems.append(hint or problem)
        problems += check_options(definitions, options, typed=typed, channel_type=self._channel_type)
        if problems:
            lines = [str(problem) for problem in problems]
            lines.append(f"(nothing sent: Discord's client does not send /{qualified} like this)")
            raise StepFailed("\n  ".join(lines))
        return options

    def _option_value(self, definition: dict[str, Any], text: str) -> Any:
        """The value sent for `text` typed into an option: numbers, true/false and choices as Discord's client
        checks them, files read from disk, channels, members and roles looked up by name."""
        kind = int(definition["type"])
        name = str(definition["name"])
        if kind == 11:
            path = Path(text).expanduser()
            try:
                return FileOption(path.name, path.read_bytes(), "text/markdown" if path.suffix == ".md" else None)
            except OSError as error:
                raise OptionProblem(name, f"cannot read {path}: {error.strerror or error}") from None
        if kind == 7:
            return self._lookup(name, self._channel_ids(), text.lstrip("#"), "channel")
        if kind == 6:
            return self._lookup(name, self.world.members, text.lstrip("@"), "member")
        if kind == 8:
            return self._lookup(name, self._role_ids(), text.lstrip("@").lower(), "role")
        if kind == 9:
            return self._lookup(name, self._role_ids() | self.world.members, text.lstrip("@").lower(), "member or role")
        return convert(definition, text)

    def _channel_ids(self) -> dict[str, int]:
        """The server's channels by name (the demo's, and any other a test or script added)."""
        found = {c.name: c.id for c in self.standin.state.channels.values() if c.guild_id == self.world.guild_id}
        return found | self.world.channels

    def _role_ids(self) -> dict[str, int]:
        """The server's roles by lowercased name without '@': `everyone` is the default role (its id is the
        server's), which Discord lets a member pick for a role option."""
        roles = self.standin.state.guild(self.world.guild_id).roles.values()
        return {role.name.lstrip("@").lower(): role.id for role in roles}

    def _channel_type(self, channel_id: int) -> int | None:
        channel = self.standin.state.channels.get(channel_id)
        return int(channel.type) if channel is not None else None

    @staticmethod
    def _lookup(option: str, known: dict[str, int], name: str, what: str) -> int:
        """`name` among `known`, in any capitalisation (as Discord's pickers find them)."""
        found = {key.lower(): value for key, value in known.items()}
        if name.lower() not in found:
            raise OptionProblem(option, f"there is no {what} {name!r}; there are: {', '.join(known)}")
        return found[name.lower()]

    # ----------------------------------------------------------------- interactions and rendering

    async def _interact(
        self,
        started: Awaitable[int],
        *,
        what: str,
        min_messages: int = 1,
        done: Callable[[list[Message]], bool] | None = None,
        quiet: float = SETTLE,
        patience: float | None = None,
    ) -> InteractionRecord:
        """Send an interaction and show what the bot answered, until the answer is complete."""
        sent_at = time.time()
        try:
            interaction_id = await started
        except ValueError as error:  # the stand-in refuses clicks Discord would refuse
            raise StepFailed(str(error)) from None
        try:
            record = await self.standin.wait_for_interaction_response(interaction_id, timeout=RESPONSE_TIMEOUT)
        except TimeoutError:
            raise StepFailed(
                f"the bot did not respond to {what} within 3 seconds (Discord shows “The application did not respond”)"
            ) from None
        if record.modal is not None:
            return record
        updated = record.response_type in (6, 7)

        def messages() -> list[Message]:
            if record.response_type == 6:
                # A deferred update: the message clicked is shown once it is edited, if it is.
                original = record.original
                if original is not None and any(edit.at >= sent_at for edit in original.edits):
                    return [original, *record.followups]
                return list(record.followups)
            return record.messages

        await self._follow(
            messages,
            what=f"the reply to {what}",
            min_messages=0 if record.response_type == 6 else min_messages,  # a silent acknowledgement
            done=done,
            quiet=quiet,
            updated={record.original.id} if updated and record.original else set(),
            patience=patience,
        )
        return record

    async def _follow(
        self,
        messages: Callable[[], list[Message]],
        *,
        what: str,
        min_messages: int = 1,
        done: Callable[[list[Message]], bool] | None = None,
        quiet: float = SETTLE,
        updated: set[int] | None = None,
        patience: float | None = None,
    ) -> list[Message]:
        """Render messages as they appear and grow, until they are finished.

        Fails when nothing changes for `patience` seconds (default: the answer timeout) before that."""
        limit = patience or self.answer_timeout
        views: dict[int, MessageView] = {}
        snapshot: tuple[Any, ...] | None = None
        changed = time.monotonic()
        while True:
            current = messages()
            now_snapshot = _snapshot(current)
            if now_snapshot != snapshot:
                snapshot, changed = now_snapshot, time.monotonic()
                for message in current:
                    view = views.get(message.id)
                    if view is None:
                        for earlier in views.values():
                            earlier.finish()  # a newer message means the earlier ones are complete
                        view = views[message.id] = MessageView(
                            self.console, message, updated=message.id in (updated or set())
                        )
                    elif view.finished and view.stale:
                        view = views[message.id] = MessageView(self.console, message, updated=True)
                    view.refresh()
            if len(current) >= min_messages and not any(is_writing(m) for m in current):
                if done is not None and done(current):
                    break
                if time.monotonic() - changed >= quiet:
                    break
            if time.monotonic() - changed > limit:
                for view in views.values():
                    view.finish()
                raise StepFailed(f"timed out after {limit:.0f}s waiting for {what}")
            with contextlib.suppress(TimeoutError):
                await self.standin.wait_for(_changed_from(messages, snapshot), timeout=0.1)
        for view in views.values():
            view.finish()
        return current

    # ----------------------------------------------------------------- other channels

    async def watch_channels(self, names: Sequence[str] = ("digest", "mod-log")) -> None:
        """Print one line for each new bot message in the other channels (digests, moderation log)."""
        ids = {self.world.channels[name]: name for name in names if name in self.world.channels}
        seen = {m.id for channel in ids for m in self.standin.channel_messages(channel)}

        def new() -> list[tuple[str, Message]]:
            return [
                (name, m)
                for channel, name in ids.items()
                for m in self.standin.bot_messages(channel)
                if m.id not in seen and not is_writing(m)
            ]

        while True:
            try:
                found = await self.standin.wait_for(new, timeout=60, what="messages in other channels")
            except TimeoutError:
                continue
            for name, message in found:
                seen.add(message.id)
                first = self.console.display(message.content).splitlines()[0] if message.content else ""
                titles = [str(e.get("title")) for e in message.embeds if e.get("title")]
                files = f" [{len(message.attachments)} file(s)]" if message.attachments else ""
                self.console.say(f"  [#{name}] {BOT_NAME}: {first or ' · '.join(titles)}{files}".rstrip())
                self._keep_files([message], indent="    ")


def _changed_from(messages: Callable[[], list[Message]], snapshot: tuple[Any, ...] | None) -> Callable[[], bool]:
    return lambda: _snapshot(messages()) != snapshot


def _snapshot(messages: Sequence[Message]) -> tuple[Any, ...]:
    return tuple(
        (m.id, m.content, m.flags, len(m.components), len(m.embeds), len(m.attachments), len(m.edits)) for m in messages
    )


def _replies_to(message: Message) -> int | None:
    reference = message.message_reference or {}
    value = reference.get("message_id")
    return int(value) if value is not None else None


def _answer_id(message: Message) -> int | None:
    for custom_id in custom_ids(message):
        match = re.fullmatch(r"cb:rate:(\d+):(?:\d:)?\d", custom_id)
        if match:
            return int(match.group(1))
    return None


def _has_rating_controls(messages: list[Message]) -> bool:
    return bool(messages) and _answer_id(messages[-1]) is not None


def _has_reasons(message: Message) -> bool:
    return any(i.startswith("cb:reasons:") for i in custom_ids(message))


def _consent_button(message: Message, level: str) -> str | None:
    return next((i for i in custom_ids(message) if i.startswith(f"cb:consent:{level}:")), None)


def _split_reasons(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _rating_button(answer: Message, word: str) -> str:
    """The custom id of the rating button the member means: fits/partly/no, or the scale's number."""
    buttons = {
        int(match.group(1)): custom_id
        for custom_id in custom_ids(answer)
        if (match := re.fullmatch(r"cb:rate:\d+:(?:\d:)?(\d)", custom_id))
    }
    if not buttons:
        raise StepFailed("the last answer has no rating buttons")
    values = sorted(buttons)
    if word.isdigit():
        value = int(word)
    elif word in RATING_WORDS:
        position = RATING_WORDS[word]
        value = values[-1] if position == "high" else values[0] if position == "low" else values[len(values) // 2]
    else:
        value = -1
    if value not in buttons:
        raise StepFailed(f"rate with fits, partly, no, or {values[0]}-{values[-1]} (not {word!r})")
    return buttons[value]


def _command_path(definition: dict[str, Any], args: str) -> tuple[list[str], dict[str, Any], str]:
    """`scope preview how do I…` → (["scope", "preview"], the leaf definition, "how do I…")."""
    path = [str(definition["name"])]
    leaf = definition
    rest = args
    while True:
        subs = {str(o["name"]): o for o in leaf.get("options") or [] if int(o["type"]) in (1, 2)}
        if not subs:
            return path, leaf, rest
        word, _, remainder = rest.partition(" ")
        if word not in subs:
            raise StepFailed(f"/{' '.join(path)} needs one of: {', '.join(subs)}")
        path.append(word)
        leaf, rest = subs[word], remainder.strip()


MEMBER_MESSAGE_LIMIT = 2000  # characters Discord takes in a member's message (4,000 with Nitro)


def _check_length(content: str) -> None:
    """Refuse what Discord would refuse to post: the stand-in takes members' messages of any length."""
    if len(content) > MEMBER_MESSAGE_LIMIT:
        raise StepFailed(
            f"Discord takes messages of up to {MEMBER_MESSAGE_LIMIT:,} characters and this one has {len(content):,}: "
            "shorten it, or ask in parts"
        )
