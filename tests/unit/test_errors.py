from discord import app_commands

from bot.errors import UserFacingError, describe_error, problem_list
from bot.scopes.problems import ScopeProblem, ScopeValidationError


def test_missing_permission_names_it():
    reply = describe_error(app_commands.MissingPermissions(["manage_guild"]))
    assert reply.message == "You need the Manage Server permission to use this command."
    assert reply.reference is None


def test_unexpected_error_gets_a_reference_and_no_details():
    reply = describe_error(RuntimeError("database exploded"))
    assert reply.reference is not None
    assert reply.reference in reply.message
    assert "exploded" not in reply.message


def test_user_facing_error_shown_as_is():
    assert describe_error(UserFacingError("Pick a scope first.")).message == "Pick a scope first."


def test_a_long_user_facing_error_fits_a_message():
    message = describe_error(UserFacingError("x" * 2500)).message
    assert len(message) == 2000 and message.endswith("…")


def test_problem_list_shows_whole_bullets_and_counts_the_rest():
    def problem(n: int, long: bool = True) -> ScopeProblem:
        text = "a long explanation of what is wrong and how to fix it " * 3 if long else "short"
        return ScopeProblem("scope.md", n, None, text.strip())

    message = describe_error(ScopeValidationError([problem(n) for n in range(13)])).message
    lines = message.splitlines()
    assert lines[0] == "Nothing was changed: the scope has 13 problems to fix."
    bullets = lines[1:-1]
    assert len(message) <= 2000
    assert [line[2:] for line in bullets] == [str(problem(n)) for n in range(len(bullets))], "no bullet is cut"
    assert lines[-1] == f"…and {13 - len(bullets)} more: fix these and upload again to see the rest."
    few = describe_error(ScopeValidationError([problem(1), problem(2)])).message
    assert few.splitlines()[1:] == [f"• {problem(1)}", f"• {problem(2)}"]
    many_short = describe_error(ScopeValidationError([problem(n, long=False) for n in range(20)])).message
    assert many_short.splitlines()[-1].startswith("…and 8 more")


def test_problem_list_with_a_way_out_keeps_it_whole():
    problems = [ScopeProblem("version 2", n, None, "what is wrong, at length " * 18) for n in range(40)]
    fix = "Get its file with `/scope download version:2`, fix it, and upload it with `/scope upload`. " * 3
    message = problem_list(problems, heading="Version 2 no longer passes validation:", fix=fix)
    lines = message.splitlines()
    assert len(message) <= 2000
    assert lines[0] == "Version 2 no longer passes validation:"
    assert lines[-1] == fix, "the way out is never cut"
    shown = [line for line in lines if line.startswith("• ")]
    assert shown and lines[len(shown) + 1] == f"…and {40 - len(shown)} more."
    assert problem_list(problems[:1], heading="H", fix="F") == f"H\n• {problems[0]}\nF"
