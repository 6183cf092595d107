"""The digest's Discord embed stays within Discord's limits whatever the digest holds: 6,000 characters in all
(title, description, field names and values, footer, author), 25 fields, 1,024 per field value, 256 per field
name and title, 4,096 for the description and 2,048 for the footer. Discord refuses the whole message otherwise,
so the digest would not be posted; the least important fields are left out first, with a pointer to the report."""

from __future__ import annotations

import dataclasses

import discord

from bot.digests.model import QualityNote
from bot.digests.stats import compute_digest
from bot.digests.summary import digest_embed
from tests.digests.test_comparisons import small_comparison
from tests.digests.test_report import period_rows

FOOTER = "culturebot digest #123456"
CUT = " … (cut here: the attached report has it all)"  # summary.CUT: how a cut field value ends


def assert_within_discords_limits(embed: discord.Embed) -> None:
    data = embed.to_dict()
    fields = data.get("fields", [])
    assert len(fields) <= 25
    for field in fields:
        assert 0 < len(field["name"]) <= 256
        assert 0 < len(field["value"]) <= 1024
    assert len(data.get("title", "")) <= 256
    assert len(data.get("description", "")) <= 4096
    assert len(data.get("footer", {}).get("text", "")) <= 2048
    total = sum(
        len(text)
        for text in (
            data.get("title", ""),
            data.get("description", ""),
            data.get("footer", {}).get("text", ""),
            data.get("author", {}).get("name", ""),
            *(field["name"] for field in fields),
            *(field["value"] for field in fields),
        )
    )
    assert total <= 6000
    assert len(embed) == total  # discord.py's own count agrees


def worst_case_digest():
    """A digest with every text the embed shows at its longest: a 100-character server name (Discord's most),
    twenty long data-quality notes, a long version note, two randomized comparisons, five themes with long
    labels and a long agreement sentence."""
    current, previous = period_rows()
    digest = compute_digest(current, previous, bootstrap=50)
    comparison = compute_digest(small_comparison(), None, bootstrap=50).comparisons[0]
    long = "ǅ" + "very long sentence, " * 200  # 4,001 characters
    theme = digest.themes.themes[0] if digest.themes.themes else None
    assert theme is not None
    return dataclasses.replace(
        digest,
        guild_name="ǅ" * 100,
        notes=tuple(QualityNote(f"note_{n}", f"Note {n}: " + "x" * 890) for n in range(20)),
        versions=dataclasses.replace(digest.versions, note=long),
        comparisons=(
            dataclasses.replace(comparison, comparison_id=1, note=long),
            dataclasses.replace(comparison, comparison_id=2, note=long),
        ),
        themes=dataclasses.replace(
            digest.themes, themes=tuple(dataclasses.replace(theme, label="t" * 250) for _ in range(5))
        ),
        disagreement=dataclasses.replace(digest.disagreement, alpha_sentence=long),
    )


PRIORITY = ["Themes in comments", "Agreement", "Randomized comparison #1", "Randomized comparison #2", "Scope versions"]


def left_out(embed: discord.Embed) -> list[str]:
    description = embed.description or ""
    if "Left out here" not in description:
        return []
    listed = description.split("Discord's size limits: ")[1].split("; the attached report has them.")[0]
    return listed.split(", ")


def test_a_worst_case_digest_fits_leaving_out_the_least_important_field_first():
    embed = digest_embed(worst_case_digest(), None, FOOTER)
    assert_within_discords_limits(embed)
    # Every value is cut to 1,024 characters: 7,000 in all; the themes (the least important) go, and that is enough.
    assert [field.name for field in embed.fields] == [
        "Answers",
        "Fit",
        "Scope versions",
        "Randomized comparison #1",
        "Randomized comparison #2",
        "Agreement",
        "Read with care",
    ]
    assert (embed.description or "").endswith(
        " Left out here to keep within Discord's size limits: Themes in comments; the attached report has them."
    )
    for field in embed.fields[2:]:
        assert field.value is not None
        assert field.value.endswith(CUT)
    assert len(next(field.value or "" for field in embed.fields if field.name == "Read with care")) == 1024
    assert embed.footer.text == FOOTER


def test_the_longer_the_rest_the_more_goes_in_order_of_importance():
    """A longer footer leaves less room: more fields go, always the least important first; Answers and Fit stay."""
    digest = worst_case_digest()
    gone: list[list[str]] = []
    for footer in ("f" * 500, "f" * 1500, "f" * 2048, "f" * 4000):
        embed = digest_embed(digest, None, footer)
        assert_within_discords_limits(embed)
        names = [field.name for field in embed.fields]
        assert names[:2] == ["Answers", "Fit"]
        gone.append(left_out(embed))
        # Named in the embed's order; always the least important ones (the notes only once all of these went).
        assert set(gone[-1]) == set(PRIORITY[: len(gone[-1])]) or set(gone[-1]) >= {*PRIORITY, "Read with care"}
    assert [len(names) for names in gone] == sorted(len(names) for names in gone)
    assert len(gone[-1]) >= 3


def test_a_digest_that_fits_loses_nothing_but_overlong_values():
    """Without the long notes the rest fits: no field goes, and the long ones are cut to 1,024 characters."""
    digest = dataclasses.replace(worst_case_digest(), notes=())
    embed = digest_embed(digest, None, FOOTER)
    assert_within_discords_limits(embed)
    assert left_out(embed) == []
    assert [field.name for field in embed.fields][2:] == [
        "Scope versions",
        "Randomized comparison #1",
        "Randomized comparison #2",
        "Themes in comments",
        "Agreement",
    ]
    versions = next(field.value or "" for field in embed.fields if field.name == "Scope versions")
    assert versions.endswith(CUT)


def test_an_ordinary_digest_is_left_as_it_is():
    current, previous = period_rows()
    embed = digest_embed(compute_digest(current, previous, bootstrap=50), None, FOOTER)
    assert_within_discords_limits(embed)
    assert "Left out here" not in (embed.description or "")
    assert not any((field.value or "").endswith(CUT) for field in embed.fields)
    assert [field.name for field in embed.fields][:2] == ["Answers", "Fit"]


def test_more_than_25_fields_and_a_huge_footer_are_brought_within_limits():
    from bot.digests.summary import within_limits  # new: imported here, not to fail the rest on old code

    embed = discord.Embed(title="t" * 300, description="Digest.")
    embed.add_field(name="Answers", value="3 answers")
    embed.add_field(name="Fit", value="Fit share: 50%")
    for n in range(30):
        embed.add_field(name=f"Extra {n}", value="v")
    embed.set_footer(text="f" * 5000)
    within_limits(embed)
    assert_within_discords_limits(embed)
    names = [field.name for field in embed.fields]
    assert len(names) == 25
    assert names[:2] == ["Answers", "Fit"]
    assert names[2:] == [f"Extra {n}" for n in range(7, 30)]  # the earliest extras went first
    assert "Extra 0, Extra 1" in (embed.description or "")
