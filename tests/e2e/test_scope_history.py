"""`/scope history` pages through every version (whole lines, each with who, when and what changed) instead of
stopping at the newest twenty."""

from __future__ import annotations

from bot.scopes.render import history_pages
from tests.e2e.conftest import SCOPE_FIXTURE
from tests.e2e.test_scope_commands import insert_versions, run


def buttons(message):
    return {c["label"]: c for row in message.components for c in row["components"]}


def summary(number):
    return "the greetings section reworded, " * 6 + f"change {number}"


async def test_history_pages_through_all_fifty_versions(world, run_bot, moderator):
    text = SCOPE_FIXTURE.read_text()
    await insert_versions(world, [text + f"\n<!-- {n} -->\n" for n in range(1, 51)], summary)
    async with run_bot(scope=None):
        history = await run(world, moderator, "scope history")
        assert history.ephemeral
        embed = history.response_data["embeds"][0]
        pages = int(embed["footer"]["text"].rsplit(" ", 1)[-1])
        assert pages > 1
        shown = [embed["description"]]
        message = history.original
        assert buttons(message)["Previous"].get("disabled")
        for page in range(2, pages + 1):
            clicked = await world.standin.click_button(
                message.channel_id, message.id, moderator, buttons(message)["Next"]["custom_id"]
            )
            turned = await world.standin.wait_for_interaction_response(clicked)
            [embed] = turned.response_data["embeds"]
            assert embed["footer"]["text"] == f"Page {page} of {pages}"
            shown.append(embed["description"])
            message = world.standin.message(message.id)
        assert buttons(message)["Next"].get("disabled")

        # Every version once, newest first, each line with its number, time, author and summary.
        listed = [line for page in shown for line in page.splitlines() if line.startswith("**v")]
        assert [line.split("**")[1] for line in listed] == [f"v{n}" for n in range(50, 0, -1)]
        for line, number in zip(listed, range(50, 0, -1), strict=True):
            assert " UTC · upload · <@1> · " in line and line.endswith(summary(number)), line
        # A page with more after it says so; the last says nothing is left out.
        first_count = sum(1 for line in shown[0].splitlines() if line.startswith("**v"))
        assert shown[0].splitlines()[-1] == (
            f"*…and {50 - first_count} older versions (v1–v{50 - first_count}): on the next pages (Next).*"
        )
        assert shown[-1].splitlines()[-1].startswith("**v1** ")
        assert all(len(page) <= 4096 for page in shown)


def test_a_page_holds_whole_lines_and_the_versions_not_read_are_named():
    lines = [f"**v{n}** · " + "word " * 60 for n in range(300, 100, -1)]
    pages = history_pages(lines, total=300)
    assert all(len(page) <= 4096 for page in pages)
    listed = [line for page in pages for line in page.splitlines() if line.startswith("**v")]
    assert listed == lines, "no line is cut or lost"
    assert pages[-1].splitlines()[-1] == (
        "*…and 100 older versions (v1–v100): not listed here; `/scope show`, `/scope diff` and `/scope download` "
        "take a number.*"
    )
    # A page with more after it names only the versions the next pages list (v101 on), not v1–v100 too.
    last_on_first = int(pages[0].splitlines()[-2].split("**")[1][1:])
    assert pages[0].splitlines()[-1] == (
        f"*…and {last_on_first - 1 - 100} older versions (v101–v{last_on_first - 1}): on the next pages (Next).*"
    )
    # A single line longer than a page is cut rather than left out.
    [page] = history_pages(["**v1** · " + "x" * 5000], total=1)
    assert page.startswith("**v1** · x") and page.endswith("…") and len(page) <= 4096
