"""Every consent choice answers the click before it is stored, so that a slow privacy request cannot make it fail.

Storing a choice takes the turn every privacy request shares (bot/feedback/privacy_requests.py), which a
/privacy forget holds while it deletes a member's data; Discord fails a click not answered within three seconds
("This interaction failed"), even when the choice is stored after. Through the stand-in, which refuses an answer
given later, like Discord: another member's /privacy forget stopped in the database while budi chooses.
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from bot.feedback.views import COMMENT_GIVEN_BACK, DECLINED_REPLY
from bot.pseudonyms import Pseudonymizer
from tests.e2e.test_consent_integrity import choice
from tests.e2e.test_feedback import ask, button, button_labeled, click, rows
from tests.e2e.test_scope_commands import run

DEFERRED_UPDATE, MODAL = 6, 9
CONSENTS = "SELECT level FROM consents WHERE member_hash = ?"
DECLINED = (
    "Understood: none of your ratings or comments will be stored, and I won't ask again. "
    "`/privacy consent` changes this any time."
)


def member_hash(user_id):
    return Pseudonymizer(b"k" * 32).member(user_id)


@contextlib.asynccontextmanager
async def forget_stopped_in_the_database(world, bot, monkeypatch):
    """ayu asks to be forgotten; her deletion stops in the database (in the privacy requests' turn, which storing
    a consent choice waits for) until the block ends, and is done when it returns."""
    started, go_on = asyncio.Event(), asyncio.Event()
    forget_member = bot.storage.forget_member

    async def forget_member_slowly(*args, **kwargs):
        started.set()
        await go_on.wait()
        return await forget_member(*args, **kwargs)

    monkeypatch.setattr(bot.storage, "forget_member", forget_member_slowly)
    confirm = await run(world, world.asker_id, "privacy forget")
    asked = confirm.original
    await click(world, asked, world.asker_id, button_labeled(asked, "Delete everything"))
    await asyncio.wait_for(started.wait(), 5)
    try:
        yield
    finally:
        go_on.set()
    summary = await world.standin.wait_for(
        lambda: (m := world.standin.message(asked.id)).content.startswith("Deleted:") and m, what="the forget done"
    )
    assert not summary.components


async def notice_after_rating(world, answer):
    """budi, who has not chosen, clicks Fits: the notice, with the rating waiting in its buttons."""
    return (await click(world, answer, world.member_id, button(answer, "cb:rate:"))).original


async def notice_of_privacy_consent(world, answer):
    return (await run(world, world.member_id, "privacy consent")).original


@pytest.mark.parametrize(
    ("opened_by", "level", "saved"),
    [
        (notice_after_rating, "declined", DECLINED),
        (notice_of_privacy_consent, "declined", DECLINED),
        (notice_of_privacy_consent, "ratings", "Saved your choice: **ratings only**. `/privacy` shows or changes it."),
        (notice_after_rating, "comments", "Saved your choice: **ratings and comments**."),
    ],
    ids=["refusal carrying a rating", "refusal", "agreement", "agreement carrying a rating"],
)
async def test_a_choice_is_answered_while_a_forget_holds_the_privacy_turn(
    world, run_bot, monkeypatch, opened_by, level, saved
):
    budi = world.member_id
    async with run_bot() as bot:
        answer = await ask(world)
        notice = await opened_by(world, answer)
        async with forget_stopped_in_the_database(world, bot, monkeypatch):
            clicked = await world.standin.click_button(notice.channel_id, notice.id, budi, choice(notice, level))
            chosen = await world.standin.wait_for_interaction_response(clicked)
            # Answered within Discord's deadline, while the choice waits for the forget's turn.
            assert chosen.response_type == DEFERRED_UPDATE
            assert world.standin.message(notice.id).components, "the notice is as it was, until the choice is stored"
            assert rows(world, CONSENTS, (member_hash(budi),)) == []
        edited = await world.standin.wait_for(
            lambda: not (m := world.standin.message(notice.id)).components and m, what="the notice edited"
        )
        assert edited.content == saved
        assert rows(world, CONSENTS, (member_hash(budi),)) == [(level,)]
        if level == "comments":
            thanks = await world.standin.wait_for_followup(chosen.id)
            assert "you rated this answer **Fits**" in thanks.content
            assert rows(world, "SELECT value, source FROM ratings") == [(3, "button")]
        else:
            assert rows(world, "SELECT * FROM ratings") == []
            assert not chosen.followups


async def test_the_comment_form_opens_at_once_and_its_comment_waits_for_the_agreement(world, run_bot, monkeypatch):
    budi = world.member_id
    async with run_bot() as bot:
        answer = await ask(world)
        notice = (await click(world, answer, budi, button(answer, "cb:comment:"))).original
        async with forget_stopped_in_the_database(world, bot, monkeypatch):
            clicked = await world.standin.click_button(notice.channel_id, notice.id, budi, choice(notice, "comments"))
            opened = await world.standin.wait_for_interaction_response(clicked)
            # The form is the click's answer, shown while the agreement waits for the forget's turn.
            assert opened.response_type == MODAL
            assert opened.modal is not None and opened.modal["title"] == "Comment on this answer"
            assert rows(world, CONSENTS, (member_hash(budi),)) == []
            # budi sends the form before the agreement is stored: the submission is answered ("thinking") and the
            # comment waits for the agreement, neither refused for want of one nor stored without it.
            [text_input] = [c for row in opened.modal["components"] for c in row["components"]]
            submitted = await world.standin.submit_modal(
                opened, budi, values={text_input["custom_id"]: "Younger managers prefer first names."}
            )
            sent = await world.standin.wait_for_interaction_response(submitted)
            # The form came from the notice: its submission is answered by an update of the notice, which says
            # what was stored once it is, as every other choice on it does.
            assert sent.response_type == DEFERRED_UPDATE and sent.original.id == notice.id
            assert rows(world, "SELECT * FROM comments") == []
            assert not sent.followups
        reply = await world.standin.wait_for_followup(submitted)
        assert reply.content == "Thanks, your comment is saved." and reply.ephemeral
        assert rows(world, CONSENTS, (member_hash(budi),)) == [("comments",)]
        assert rows(world, "SELECT text, source FROM comments") == [("Younger managers prefer first names.", "modal")]
        edited = world.standin.message(notice.id)
        assert edited.content == "Saved your choice: **ratings and comments**. `/privacy` shows or changes it."
        assert not edited.components, "the notice's choices are taken away once one is stored"

        # With no choice being stored, a form is answered at once, as before.
        opened = await click(world, answer, budi, button(answer, "cb:comment:"))
        [text_input] = [c for row in opened.modal["components"] for c in row["components"]]
        submitted = await world.standin.submit_modal(opened, budi, values={text_input["custom_id"]: "Also: Mas."})
        again = await world.standin.wait_for_interaction_response(submitted)
        assert again.response_data["content"] == "Thanks, your comment is saved."


async def test_a_refused_comment_form_agreement_is_not_kept_waiting(world, run_bot):
    """A form sent after the member declined elsewhere meanwhile is answered with the refusal, once the agreement
    it came with is stored (the later choice wins, as for any comment)."""
    budi = world.member_id
    async with run_bot():
        answer = await ask(world)
        notice = (await click(world, answer, budi, button(answer, "cb:comment:"))).original
        opened = await click(world, notice, budi, choice(notice, "comments"))
        assert opened.response_type == MODAL
        refusal = (await run(world, budi, "privacy consent")).original
        declined = await click(world, refusal, budi, choice(refusal, "declined"))
        await world.standin.wait_for(
            lambda: not world.standin.message(refusal.id).components, what="the refusal stored"
        )
        assert declined.response_type == DEFERRED_UPDATE
        [text_input] = [c for row in opened.modal["components"] for c in row["components"]]
        submitted = await world.standin.submit_modal(opened, budi, values={text_input["custom_id"]: "Too late."})
        reply = await world.standin.wait_for_followup(submitted)
        assert reply.content == DECLINED_REPLY + COMMENT_GIVEN_BACK and reply.ephemeral
        assert [attachment.data for attachment in reply.attachments] == [b"Too late."], "the text comes back"
        assert rows(world, "SELECT * FROM comments") == []
        assert world.standin.message(notice.id).components, "the notice does not claim the agreement still holds"
