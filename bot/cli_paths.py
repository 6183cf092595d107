"""Paths given on the command line, read as a shell would have expanded them.

A shell expands `~` only at the start of a word: `--db ~/bot.sqlite3` reaches the program expanded, but
`--db=~/bot.sqlite3`, a quoted `'~/bot.sqlite3'` or a path from a script does not, and was read as a folder named
`~` in the current one (a backup even made one). Every path option of `culturebot` goes through `user_path`.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def user_path(text: str) -> Path:
    """`text` as a path, with a leading `~` or `~user` expanded to that home folder (an argument error, as argparse
    reports it in one line, when there is no such user or home folder)."""
    try:
        return Path(text).expanduser()
    except RuntimeError:
        user = text[1:].split("/", 1)[0]
        whose = f"the user {user}" if user else "this user (HOME is not set)"
        raise argparse.ArgumentTypeError(
            f"{text}: cannot find the home folder of {whose}; give the full path"
        ) from None
