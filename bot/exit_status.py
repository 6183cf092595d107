"""The exit statuses of every `culturebot` command (README, Deployment): whether running it again as it is may help.

A supervisor restarts the bot after EXIT_FAILED (as after a crash's traceback, which exits 1 too); the README's
systemd unit does not after EX_CONFIG (RestartPreventExitStatus=78): restarting cannot help there.
"""

from __future__ import annotations

EXIT_FAILED = 1  # a later try may succeed with nothing changed; also `scope validate` finding problems
EX_CONFIG = 78  # sysexits.h: refused until the configuration, an option or a file is changed
EXIT_INTERRUPTED = 130  # Ctrl-C


def exit_status(*, retry: bool) -> int:
    """EXIT_FAILED for a failure that running the command again as it is may get past, else EX_CONFIG."""
    return EXIT_FAILED if retry else EX_CONFIG
