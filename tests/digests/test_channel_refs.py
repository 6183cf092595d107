"""Discord tags in the digest's files: channels read "channel 123" (as the by-channel table names them), roles in
moderator actions "role 456", members "@member" (never their id), in Markdown, HTML and digest.json alike."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from bot.digests.report import render_html, render_json, render_markdown
from bot.digests.rows import AuditRow
from bot.digests.stats import compute_digest
from bot.digests.summary import digest_embed
from bot.digests.text import audit_text, channel_label, safe_text
from tests.digests.test_stats import answer, comment, rating, rows

MEMBER_ID = "987654321098765432"
CHANNEL_ID = "123456789012345678"
ROLE_ID = "555444333222111000"
SETTINGS_CHANGE = (
    f"answers: answer_channels <#{CHANNEL_ID}>, <#100> → every channel I can read; "
    f"research_role_id none → <@&{ROLE_ID}>; research_contact none → “Ask <@{MEMBER_ID}> or <@!{MEMBER_ID}>”"
)


def test_channel_tags_read_as_the_by_channel_table_names_channels():
    assert channel_label(100) == "channel 100"
    assert safe_text(f"see <#{CHANNEL_ID}> and <#100>") == f"see channel {CHANNEL_ID} and channel 100"
    assert safe_text("not a tag: <#general> <# 12>") == "not a tag: <#general> <# 12>"


def test_a_moderator_action_names_channels_and_roles_by_id_and_members_by_none():
    assert audit_text(SETTINGS_CHANGE) == (
        f"answers: answer_channels channel {CHANNEL_ID}, channel 100 → every channel I can read; "
        f"research_role_id none → role {ROLE_ID}; research_contact none → “Ask @member or @member”"
    )


@pytest.mark.parametrize(
    ("cut", "shown"),
    [
        (f"contact “x <@{MEMBER_ID[:7]}…”", "contact “x @member…”"),
        (f"contact “x <@!{MEMBER_ID[:3]}…”", "contact “x @member…”"),
        (f"note “x <@&{ROLE_ID[:5]}…”", "note “x role…”"),
        (f"answer_channels <#{CHANNEL_ID[:9]}…", "answer_channels channel…"),
        ("contact “x <@…”", "contact “x @member…”"),
    ],
)
def test_a_tag_an_excerpt_cut_short_loses_its_partial_id(cut: str, shown: str):
    """The moderation log shortens long setting texts before they are audited, and may cut a tag."""
    assert audit_text(cut) == shown


def digest_with_tags():
    scope_change = f"version 2 (kopi): greetings for <#{CHANNEL_ID}> by <@{MEMBER_ID}>"
    audit = [
        AuditRow("settings.update", SETTINGS_CHANGE, "2026-11-19T08:00:00.000Z"),
        AuditRow("scope.edit", scope_change, "2026-11-18T08:00:00.000Z"),
    ]
    # Asked in public by a member who allows quoting: the reports show the question (with its tag made readable).
    asked = answer(1, channel=int(CHANNEL_ID), question=f"How do we greet in <#{CHANNEL_ID}>?")
    answers = [replace(asked, question_quotable=True)]
    comments = [comment(1, 1, "ana", f"In <#{CHANNEL_ID}> we say Pak")]
    return compute_digest(rows(answers, [rating(1, "ana", 1)], comments=comments, audit=audit), None)


def test_the_files_show_no_discord_markup_and_no_member_id():
    digest = digest_with_tags()
    [action] = digest.moderator_actions
    assert f"research_role_id none → role {ROLE_ID}" in action.detail
    assert digest.scope_changes[0].detail == f"version 2 (kopi): greetings for channel {CHANNEL_ID} by @member"
    channels = digest.breakdown("channel")
    assert channels is not None and [group.label for group in channels.groups] == [f"channel {CHANNEL_ID}"]
    [note] = digest.lowest_fit
    assert note.question == f"How do we greet in channel {CHANNEL_ID}?"
    assert [quote.text for quote in digest.quotes] == [f"In channel {CHANNEL_ID} we say Pak"]

    markdown, page, document = render_markdown(digest), render_html(digest), render_json(digest)
    assert f"Asked 2026-11-17 10:00 UTC in channel {CHANNEL_ID};" in markdown
    assert f"answer\\_channels channel {CHANNEL_ID}, channel 100 → every channel I can read" in markdown
    assert f"greetings for channel {CHANNEL_ID} by @member" in page
    assert json.loads(document)["moderator_actions"][0]["detail"] == action.detail
    for text in (markdown, page, document):
        assert "<#" not in text and "&lt;#" not in text and "\\<\\#" not in text
        assert MEMBER_ID not in text


def test_the_embed_shows_no_member_id():
    """The embed shows the headline numbers, not moderator actions or the by-channel table: nothing there to
    mention; and no member's id either."""
    embed = digest_embed(digest_with_tags(), None, "footer")
    shown = json.dumps(embed.to_dict(), ensure_ascii=False)
    assert MEMBER_ID not in shown
    assert CHANNEL_ID not in shown
