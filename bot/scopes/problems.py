"""What is wrong with a scope file: one `ScopeProblem` per fault, all raised together."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ScopeProblem:
    """One fault: where (file, line, metadata field or section), what is wrong, and how to fix it."""

    source: str
    line: int | None
    field: str | None
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        what = self.message if self.field is None else f"{self.field}: {self.message}"
        fix = "" if self.hint is None else f" (fix: {self.hint})"
        return f"{where}: {what}{fix}"


class ScopeValidationError(ValueError):
    """A scope file that cannot be used; `problems` lists every fault found, in file order."""

    def __init__(self, problems: Iterable[ScopeProblem]) -> None:
        self.problems = list(problems)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(str(problem) for problem in self.problems)
