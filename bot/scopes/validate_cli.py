"""`culturebot scope validate PATH...`: check scope files and report every problem, one per line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.cli_paths import user_path
from bot.scopes.parser import read_scope_file, validate_scope
from bot.scopes.problems import ScopeProblem, ScopeValidationError


def _files(paths: Sequence[Path], problems: list[ScopeProblem]) -> list[Path]:
    """The files to check: each path as given; for a folder, its `*.md` files except `_*.md`
    (the blank template is a deliberately unfinished skeleton)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(child for child in path.glob("*.md") if not child.name.startswith("_"))
            if not found:
                problems.append(ScopeProblem(str(path), None, None, "the folder has no .md scope files", None))
            files.extend(found)
        else:
            files.append(path)
    return files


def _read_problem(path: Path, error: OSError) -> ScopeProblem:
    if isinstance(error, FileNotFoundError):
        return ScopeProblem(str(path), None, None, "no such file", "check the path")
    if isinstance(error, PermissionError):
        return ScopeProblem(str(path), None, None, "cannot be read: permission denied", "check the file's permissions")
    return ScopeProblem(str(path), None, None, f"cannot be read: {error.strerror or error}", None)


def validate_paths(paths: Sequence[Path]) -> tuple[bool, str]:
    """(whether every file is a valid scope, a report: one line per problem, then a count line).

    Missing or unreadable paths are problems too. Folders are checked file by file (see `_files`).
    """
    problems: list[ScopeProblem] = []
    files = _files(paths, problems)
    for path in files:
        try:
            data = read_scope_file(path)
        except ScopeValidationError as error:
            problems.extend(error.problems)
            continue
        except OSError as error:
            problems.append(_read_problem(path, error))
            continue
        problems.extend(validate_scope(data, source=str(path)))
    lines = [str(problem) for problem in problems]
    files_word = "file" if len(files) == 1 else "files"
    problems_word = "problem" if len(problems) == 1 else "problems"
    lines.append(f"{len(files)} {files_word} checked, {len(problems)} {problems_word}")
    return not problems, "\n".join(lines)


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """Add the PATH arguments to `parser` (e.g. the CLI's `scope validate` subparser) or a new one."""
    parser = parser or argparse.ArgumentParser(
        prog="culturebot scope validate", description="Check scope files and report every problem."
    )
    parser.add_argument(
        "paths",
        metavar="PATH",
        nargs="+",
        type=user_path,
        help="a scope file, or a folder whose *.md files are checked (except _*.md)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Print the report to stdout; exit status 0 when every file is valid, else 1."""
    args = build_parser().parse_args(argv)
    ok, report = validate_paths(args.paths)
    sys.stdout.write(report + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
