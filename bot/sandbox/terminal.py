"""The sandbox's front ends: an interactive prompt (prompt_toolkit) and a script replayer.

Both feed lines to a `Session`. Interactively, a failed step is shown and the prompt comes back; a
script stops at the first failed step and the sandbox exits non-zero, which makes scripts usable as
end-to-end checks in CI.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from pathlib import Path

from bot.exit_status import EX_CONFIG
from bot.sandbox.session import Session, StepFailed


async def run_front_end(session: Session, script: Path | None) -> int:
    """Run the script or the prompt until it ends; the exit status."""
    watcher = asyncio.create_task(session.watch_channels(), name="sandbox-channel-watch")
    try:
        with session:
            if script is not None:
                return await run_script(session, script)
            return await run_interactive(session)
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


async def run_script(session: Session, path: Path) -> int:
    """Replay `path` line by line (blank lines and `#` comments skipped); 1 at the first failed step, EX_CONFIG when
    the file cannot be read."""
    try:
        text = await asyncio.to_thread(path.read_text, encoding="utf-8")
    except OSError as error:
        reason = error.strerror or error
        print(f"culturebot sandbox: cannot read the script {path}: {reason}", file=sys.stderr)  # noqa: T201
        return EX_CONFIG  # refused until the path is changed, as every command's
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        session.console.echo(f"{session.prompt}{line}")
        try:
            keep_going = await session.run(line, scripted=True)
        except StepFailed as failure:
            message = f"{path}:{number}: step failed: {line}\n  {failure}"
            session.console.echo(f"✗ {message}")
            print(f"culturebot sandbox: {message}", file=sys.stderr)  # noqa: T201
            return 1
        if not keep_going:
            break
    session.console.echo(f"✓ {path}: every step passed")
    return 0


async def run_interactive(session: Session) -> int:
    """Prompt until /quit or Ctrl-D; output printed meanwhile appears above the prompt."""
    try:
        import prompt_toolkit  # noqa: F401
    except ImportError:
        return await _run_plain(session)
    from prompt_toolkit import PromptSession
    from prompt_toolkit.completion import WordCompleter
    from prompt_toolkit.history import InMemoryHistory
    from prompt_toolkit.patch_stdout import patch_stdout

    words = [*session.commands, "/scope", "/privacy", "/culture", "/about", "/ask", "expect"]
    prompt: PromptSession[str] = PromptSession(
        history=InMemoryHistory(), completer=WordCompleter(words, WORD=True), complete_while_typing=False
    )
    with patch_stdout():
        while True:
            try:
                line = await prompt.prompt_async(session.prompt)
            except KeyboardInterrupt:
                continue  # Ctrl-C clears the line, as in a shell
            except EOFError:
                break
            if not await _interruptible_step(session, line):
                break
    return 0


async def _interruptible_step(session: Session, line: str) -> bool:
    """Run one line; Ctrl-C while it runs stops waiting for it and brings the prompt back."""
    step = asyncio.ensure_future(session.run(line))
    loop = asyncio.get_running_loop()
    previous = signal.getsignal(signal.SIGINT)
    installed = True
    try:
        loop.add_signal_handler(signal.SIGINT, step.cancel)
    except (NotImplementedError, RuntimeError):  # pragma: no cover - platforms without signal handlers
        installed = False
    try:
        return await step
    except StepFailed as failure:
        session.console.echo(f"✗ {failure}")
        return True
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise  # the sandbox itself is stopping
        session.console.echo("✗ interrupted (the bot may still finish in Discord)")
        return True
    finally:
        if installed:
            loop.remove_signal_handler(signal.SIGINT)
            signal.signal(signal.SIGINT, previous)


async def _run_plain(session: Session) -> int:
    """Without prompt_toolkit: a plain line reader (output may interleave with typing)."""
    while True:
        try:
            line = await asyncio.to_thread(input, session.prompt)
        except EOFError:
            break
        try:
            if not await session.run(line):
                break
        except StepFailed as failure:
            session.console.echo(f"✗ {failure}")
    return 0
