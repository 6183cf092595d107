"""Settings: one pydantic-settings class read from the environment and `.env`.

Every field here has a line in `.env.example` and a row in the README's configuration table.
`load_settings()` turns pydantic's validation errors into one line per problem naming the
environment variable, so start-up can fail with a clear message instead of a traceback.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
import urllib.parse
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Self

from dotenv import dotenv_values
from pydantic import (
    AnyHttpUrl,
    AnyWebsocketUrl,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.llm.gguf import is_gguf

ENV_PREFIX = "CULTUREBOT_"

DISCORD_API_BASE = "https://discord.com/api/v10"
DISCORD_GATEWAY_URL = "wss://gateway.discord.gg/"


class SettingsError(Exception):
    """Raised when the configuration is invalid; the message is meant for the operator as is."""


class CommandSync(StrEnum):
    """Where application (slash) commands are registered at start-up."""

    GLOBAL = "global"  # every server; Discord may take a while to show changes
    GUILD = "guild"  # only the servers in CULTUREBOT_DEV_GUILD_IDS, instantly (development)
    OFF = "off"  # never sync; commands stay as last registered


class DatabaseBackend(StrEnum):
    """Storage backends; only SQLite exists today, PostgreSQL is the planned second."""

    SQLITE = "sqlite"


class LogLevel(StrEnum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"


class Settings(BaseSettings):
    """All of culturebot's configuration. Field names map to CULTUREBOT_<NAME> variables."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
        # `.env.example` lists every variable: a copied file carries empty values, which mean "unset".
        env_ignore_empty=True,
    )

    # Discord
    discord_token: SecretStr | None = Field(default=None, description="Bot token from the Discord developer portal.")
    discord_api_base: AnyHttpUrl = Field(
        default=AnyHttpUrl(DISCORD_API_BASE),
        description="REST base URL; point it at a Discord-compatible server (Spacebar, the stand-in).",
    )
    discord_gateway_url: AnyWebsocketUrl = Field(
        default=AnyWebsocketUrl(DISCORD_GATEWAY_URL), description="Gateway websocket URL."
    )
    command_sync: CommandSync = Field(
        default=CommandSync.GLOBAL, description="Where slash commands are synced at start-up."
    )
    dev_guild_ids: Annotated[list[int], NoDecode] = Field(
        default_factory=list, description="Comma-separated server ids for command_sync=guild."
    )
    guild_ready_timeout: float = Field(
        default=2.0, ge=0, le=60, description="Seconds to wait for servers to stream in before ready."
    )

    # Storage
    database_backend: DatabaseBackend = Field(default=DatabaseBackend.SQLITE, description="Storage backend.")
    database_path: Path = Field(default=Path("data/culturebot.sqlite3"), description="SQLite database file.")
    digest_dir: Path = Field(
        default=Path("data/digests"), description="Where digest reports, charts and data files are kept."
    )
    pseudonym_key: SecretStr | None = Field(
        default=None,
        description="Key for pseudonymising members in research data; if unset, read or created at pseudonym_key_file.",
    )
    pseudonym_key_file: Path = Field(
        default=Path("data/pseudonym.key"),
        description="File holding the pseudonymisation key (created with mode 600 if missing).",
    )
    privacy_log_file: Path | None = Field(
        default=None,
        description="Members' consent decisions and forget requests, re-applied after a database restore; "
        "empty: beside the database, <its name>.privacy-requests.jsonl.",
    )
    privacy_log_days: int = Field(
        default=400, ge=30, le=3660, description="Days the privacy log keeps a request: restore no older backup."
    )

    # Model
    model_base_url: AnyHttpUrl | None = Field(
        default=None,
        description="OpenAI-compatible endpoint; empty starts the embedded local model.",
    )
    model_api_key: SecretStr | None = Field(default=None, description="API key for the endpoint.")
    model_name: str = Field(default="gpt-4o-mini", min_length=1, description="Model name at the endpoint.")
    model_timeout_seconds: float = Field(default=60.0, gt=0, description="Per-request timeout.")
    model_max_retries: int = Field(default=3, ge=0, le=10, description="Retries on 429, 5xx, timeouts.")
    model_max_tokens: int = Field(default=700, gt=0, description="Upper bound on tokens per answer.")
    model_temperature: float = Field(default=0.4, ge=0, le=2, description="Sampling temperature.")
    local_model_path: Path | None = Field(
        default=None, description="GGUF file for the embedded model; empty uses SmolLM2-135M-Instruct."
    )
    local_model_context: int = Field(default=4096, ge=256, description="Context window of the local model.")
    local_model_threads: int | None = Field(default=None, ge=1, description="CPU threads for the local model.")

    # Answers
    max_answer_chars: int = Field(default=6000, ge=200, le=40000, description="Longest answer posted, across messages.")
    scope_prompt_chars: int = Field(
        default=8000, ge=500, le=200_000, description="Most scope text put in one prompt, in characters."
    )
    stream_edit_interval: float = Field(
        default=1.0, ge=0.2, le=10, description="Seconds between edits of a streaming message."
    )
    comment_prefix: str = Field(
        default="fit:",
        min_length=1,
        max_length=20,
        description="A reply to an answer starting with this is stored as a comment on it.",
    )
    privacy_url: AnyHttpUrl | None = Field(default=None, description="Link to the privacy notice shown to members.")
    message_content_intent: bool = Field(
        default=False,
        description="Ask for Discord's privileged Message Content intent (enable it in the Developer Portal too), "
        "so that members continue a conversation in the bot's thread, or reply to an answer without pinging, "
        "without mentioning the bot; without it Discord sends the bot no text of messages that do not mention it.",
    )
    reaction_catch_up_answers: int = Field(
        default=200,
        ge=0,
        le=10_000,
        description="On each new gateway session, how many of the newest answers have their rating reactions "
        "read back, for reactions made while the bot was offline, and how many of the newest reply comments have "
        "their messages read back, for deletions and edits (0: off).",
    )
    reaction_catch_up_hours: float = Field(
        default=72.0, gt=0, le=24 * 30, description="Only answers and comments from this many hours back are read back."
    )

    # Operations
    log_level: LogLevel = Field(default=LogLevel.INFO, description="Logging level.")
    shutdown_grace_seconds: float = Field(
        default=20.0, ge=0, le=300, description="How long SIGTERM waits for in-flight answers."
    )

    @field_validator("dev_guild_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: Any) -> Any:
        if isinstance(value, str):
            parts = [part.strip() for part in value.split(",") if part.strip()]
            bad = [part for part in parts if not part.isdigit()]
            if bad:
                raise ValueError(f"expected comma-separated numeric server ids, got {bad[0]!r}")
            return [int(part) for part in parts]
        return value

    @field_validator(
        "model_base_url",
        "model_api_key",
        "discord_token",
        "local_model_path",
        "privacy_url",
        "privacy_log_file",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        # `.env.example` lists every variable, so copied files carry empty values that mean "unset".
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator(
        "database_path", "digest_dir", "pseudonym_key_file", "privacy_log_file", "local_model_path", mode="before"
    )
    @classmethod
    def _home_expanded(cls, value: Any) -> Any:
        # `~/culturebot/db.sqlite3` means the home folder, as in a shell; not a folder named `~` here.
        return Path(value).expanduser() if isinstance(value, str | Path) and str(value).startswith("~") else value

    @field_validator("model_base_url", mode="before")
    @classmethod
    def _endpoint_url_usable(cls, value: Any) -> Any:
        # Checked as typed: pydantic reads http:///v1 as the host "v1", and keeps a user:password@ that the model
        # client cannot send (it sends CULTUREBOT_MODEL_API_KEY in the Authorization header; aiohttp refuses both).
        if not isinstance(value, str) or not value.strip():
            return value
        try:
            parts = urllib.parse.urlsplit(value.strip())
        except ValueError:
            return value  # pydantic says what is wrong (e.g. an unclosed IPv6 address)
        if parts.scheme not in ("http", "https"):
            return value  # pydantic's message: the scheme should be http or https
        if not parts.hostname:
            raise ValueError(
                f"has no host: write it as {parts.scheme}://HOST:PORT/v1, e.g. http://localhost:11434/v1 (Ollama)"
            )
        if "@" in parts.netloc:
            host = parts.netloc.rpartition("@")[2]
            without = urllib.parse.urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
            raise ValueError(
                "holds a user name or password (before the @), which the model client cannot send: it authenticates "
                f"with CULTUREBOT_MODEL_API_KEY (sent as a Bearer token). Set CULTUREBOT_MODEL_BASE_URL={without} "
                "and put the key in CULTUREBOT_MODEL_API_KEY"
            )
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_in_any_case(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("database_path")
    @classmethod
    def _database_path_usable(cls, path: Path) -> Path:
        if (problem := database_path_problem(path)) is not None:
            raise ValueError(problem)
        return path

    @field_validator("digest_dir")
    @classmethod
    def _digest_dir_usable(cls, path: Path) -> Path:
        # Checked now: otherwise the first digest, up to a week later, would find out.
        if path.exists():
            if not path.is_dir():
                raise ValueError(
                    f"{path} is a file, not a folder; give the folder digests are written to (created if missing), "
                    "such as data/digests"
                )
            if (problem := _unwritable(path)) is not None:
                raise ValueError(f"digests are written to {path}, which {problem}")
            return path
        parent = _nearest_existing_parent(path)
        if not parent.is_dir():
            raise ValueError(f"cannot create the folder {path}: {parent} is a file; give another folder")
        if (problem := _unwritable(parent)) is not None:
            raise ValueError(f"cannot create the folder {path}: {parent} {problem}")
        return path

    @field_validator("privacy_log_file")
    @classmethod
    def _privacy_log_usable(cls, path: Path | None) -> Path | None:
        # Checked now: a log the bot cannot write would leave every consent decision and forget request out of it,
        # silently, until a database restore needed them.
        if path is not None and (problem := privacy_log_problem(path)) is not None:
            raise ValueError(problem)
        return path

    @field_validator("comment_prefix")
    @classmethod
    def _prefix_visible(cls, prefix: str) -> str:
        # Replies are compared after their leading spaces go: a prefix of spaces would match no reply.
        if not prefix.strip():
            raise ValueError("must contain a visible character, e.g. fit:")
        return prefix.strip()

    @field_validator("pseudonym_key")
    @classmethod
    def _key_long_enough(cls, key: SecretStr | None) -> SecretStr | None:
        # Checked here rather than when the key is first used, so that the message names the variable.
        if key is not None and len(key.get_secret_value().encode()) < 16:
            raise ValueError(
                "must be at least 16 bytes long; make one with "
                "python3 -c 'import secrets; print(secrets.token_hex(32))' (or leave it empty to use the key file)"
            )
        return key

    @field_validator("local_model_path")
    @classmethod
    def _gguf_exists(cls, path: Path | None) -> Path | None:
        if path is not None and not path.is_file():
            raise ValueError(f"no file at {path}; give the path of a .gguf model file or leave it empty")
        if path is not None and os.access(path, os.R_OK) and not is_gguf(path):
            raise ValueError(f"{path} is not a GGUF model file; give the path of a .gguf model file or leave it empty")
        return path

    @model_validator(mode="after")
    def _default_privacy_log_usable(self) -> Self:
        # The default beside the database: its folder is checked with the database; the file itself, here.
        if self.privacy_log_file is None and (problem := privacy_log_problem(self.privacy_log_path)) is not None:
            raise ValueError(
                f"CULTUREBOT_PRIVACY_LOG_FILE (unset: the privacy log beside the database): {problem}; or set "
                "CULTUREBOT_PRIVACY_LOG_FILE to another file"
            )
        return self

    @model_validator(mode="after")
    def _guild_sync_needs_ids(self) -> Self:
        if self.command_sync is CommandSync.GUILD and not self.dev_guild_ids:
            raise ValueError(
                "CULTUREBOT_COMMAND_SYNC=guild needs CULTUREBOT_DEV_GUILD_IDS (comma-separated server ids)"
            )
        return self

    @property
    def privacy_log_path(self) -> Path:
        """`privacy_log_file`, or beside the database (data/culturebot.privacy-requests.jsonl by default)."""
        return self.privacy_log_file if self.privacy_log_file is not None else default_privacy_log(self.database_path)

    @property
    def uses_embedded_model(self) -> bool:
        return self.model_base_url is None

    @property
    def answer_time_limit(self) -> float:
        """Seconds an answer can take at most: every try of the model request timing out, plus room for the
        retries' back-off and the last edits."""
        return self.model_timeout_seconds * (self.model_max_retries + 1) + 30


def database_path_problem(path: Path) -> str | None:
    """What stops the bot using `path` as its database (an existing file it can read and write, in a folder it can
    write in; or one it can create), with the fix; None if nothing does."""
    if path.exists():
        if path.is_dir():
            return f"{path} is a directory; give a file path such as {path / 'culturebot.sqlite3'}"
        if _on_read_only_filesystem(path):
            return (
                f"{path} is on a read-only filesystem; the bot writes to its database: mount it read-write, "
                "or move the database to a writable one"
            )
        if not os.access(path, os.R_OK | os.W_OK):
            return f"{path} is not readable and writable by this user; give it to the user the bot runs as (chown)"
        folder = path.absolute().parent
        if not os.access(folder, os.W_OK | os.X_OK):
            return (
                f"{path} is writable but its folder {folder} is not: SQLite writes its -wal and -shm files beside "
                "the database, so the folder must be writable by this user too"
            )
        return None
    return _cannot_create(path)


def privacy_log_problem(path: Path) -> str | None:
    """What stops the bot keeping its privacy log at `path` (appended to, and rewritten beside itself when old
    requests are dropped), with the fix; None if nothing does."""
    folder = path.absolute().parent
    if path.exists():
        if path.is_dir():
            return f"{path} is a folder; give a file path such as {path / 'privacy-requests.jsonl'}"
        if not os.access(path, os.R_OK | os.W_OK):
            return f"{path} is not readable and writable by this user; give it to the user the bot runs as"
        if (problem := _unwritable(folder)) is not None:
            return f"{path} is rewritten beside itself when old requests are dropped, but {folder} {problem}"
        return None
    return _cannot_create(path)


def _cannot_create(path: Path) -> str | None:
    """Why the file `path`, not there yet, cannot be created (with the fix), or None."""
    parent = _nearest_existing_parent(path)
    if not parent.is_dir():
        return f"cannot create {path}: {parent} is a file, not a folder; give another path"
    if (problem := _unwritable(parent)) is not None:
        return f"cannot create {path}: {parent} {problem}"
    return None


def _unwritable(directory: Path) -> str | None:
    """Why this user cannot create files in an existing directory, with the fix; None if it can."""
    if _on_read_only_filesystem(directory):
        return "is on a read-only filesystem: give a folder on a writable one"
    if not os.access(directory, os.W_OK | os.X_OK):
        return "is not writable by this user: give it to the user the bot runs as (chown), or give another folder"
    return None


def _on_read_only_filesystem(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):  # no statvfs (Windows): os.access says enough
        return False


def _nearest_existing_parent(path: Path) -> Path:
    parent = path.absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    return parent


def env_name(field: str) -> str:
    """The environment variable that sets a field, e.g. `model_name` -> `CULTUREBOT_MODEL_NAME`."""
    return f"{ENV_PREFIX}{field.upper()}"


def describe_errors(error: ValidationError) -> list[str]:
    """One operator-facing line per problem, naming the variable and what is wrong."""
    lines = []
    for problem in error.errors():
        location = [str(part) for part in problem["loc"] if isinstance(part, str)]
        message = problem["msg"].removeprefix("Value error, ")
        if location:
            value = problem.get("input")
            shown = (
                "" if isinstance(value, dict) or value is None else f" (got {without_credentials(str(value))[:60]!r})"
            )
            if location[0] in Settings.model_fields and Settings.model_fields[location[0]].annotation in (
                SecretStr,
                SecretStr | None,
            ):
                shown = ""  # never echo a secret back
            lines.append(f"{env_name(location[0])}: {message}{shown}")
        else:
            lines.append(message)
    return lines


log = logging.getLogger(__name__)

# A URL's user name and password: `user:password@` after the scheme, up to its last @ (the password may hold one).
_CREDENTIALS = re.compile(r"(?<=://)[^/?#]*@")


def without_credentials(text: str) -> str:
    """The text with a URL's user name and password replaced by `…` (never echoed back)."""
    return _CREDENTIALS.sub("…@", text)


def default_privacy_log(database: Path) -> Path:
    """The privacy log beside a database: data/culturebot.sqlite3 has data/culturebot.privacy-requests.jsonl."""
    return database.with_name(database.stem + ".privacy-requests.jsonl")


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment and `.env`; raise SettingsError with one line per problem. Variables
    with the CULTUREBOT_ prefix that name no setting are logged as warnings (`unknown_variables`)."""
    env_file = overrides.get("_env_file", ".env")
    try:
        settings = Settings(**overrides)
    except ValidationError as error:
        raise SettingsError("invalid configuration: " + "; ".join(describe_errors(error))) from None
    except UnicodeDecodeError as error:
        raise SettingsError(
            f"invalid configuration: {env_file} is not UTF-8 text (byte {error.start} is not): save it as UTF-8"
        ) from None
    except OSError as error:
        raise SettingsError(f"invalid configuration: cannot read {env_file}: {error.strerror or error}") from None
    for problem in unknown_variables(env_file):
        log.warning("%s", problem)
    return settings


def unknown_variables(env_file: str | Path | None = ".env") -> list[str]:
    """CULTUREBOT_ variables in the environment or in `env_file` that name no setting, each said with the setting
    it most likely meant: a misspelt name is otherwise ignored, and its setting silently keeps its default."""
    names = {name for name in os.environ if name.upper().startswith(ENV_PREFIX)}
    if env_file is not None and Path(env_file).is_file():
        names |= {name for name in dotenv_values(env_file, encoding="utf-8") if name.upper().startswith(ENV_PREFIX)}
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    problems = []
    for name in sorted(name for name in names if name.upper() not in known):
        # Compared without the prefix, which every name shares.
        bare = [known_name.removeprefix(ENV_PREFIX) for known_name in known]
        close = difflib.get_close_matches(name.upper().removeprefix(ENV_PREFIX), bare, n=1, cutoff=0.75)
        where = "the environment" if name in os.environ else str(env_file)
        hint = f"did you mean {ENV_PREFIX}{close[0]}?" if close else "see .env.example for the settings"
        problems.append(f"{name} (in {where}) is not a culturebot setting and is ignored: {hint}")
    return problems
