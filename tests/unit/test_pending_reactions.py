"""PendingReactions: the rating reactions of members who have not chosen, waiting in memory for their choice."""

from __future__ import annotations

from bot.feedback.consent import PendingReactions


def test_a_members_reactions_wait_per_server_and_are_taken_once():
    pending = PendingReactions(keep_for=600)
    pending.note((1, 42), answer_id=7, value=3, now=0)
    pending.note((1, 42), answer_id=8, value=1, now=1)
    pending.note((1, 42), answer_id=7, value=2, now=2)  # another emoji on the same answer: the latest counts
    pending.note((2, 42), answer_id=9, value=3, now=2)  # another server keeps its own
    assert pending.take((1, 42), now=3) == {8: 1, 7: 2}
    assert pending.take((1, 42), now=3) == {}, "taken once"
    assert pending.take((2, 42), now=3) == {9: 3}


def test_a_refusal_drops_them():
    pending = PendingReactions(keep_for=600)
    pending.note((1, 42), answer_id=7, value=3, now=0)
    pending.drop((1, 42))
    pending.drop((1, 43))  # nothing pending: nothing to do
    assert pending.take((1, 42), now=1) == {}
    assert len(pending) == 0


def test_a_forgotten_member_loses_them_in_every_server():
    pending = PendingReactions(keep_for=600)
    pending.note((1, 42), answer_id=7, value=3, now=0)
    pending.note((2, 42), answer_id=9, value=1, now=0)
    pending.note((1, 43), answer_id=7, value=2, now=0)
    pending.drop_member(42)
    assert (pending.take((1, 42), now=1), pending.take((2, 42), now=1)) == ({}, {})
    assert pending.take((1, 43), now=1) == {7: 2}, "other members keep theirs"


def test_old_reactions_expire_and_a_member_keeps_only_their_newest_answers():
    pending = PendingReactions(keep_for=600, per_member=3)
    for answer in range(5):
        pending.note((1, 42), answer_id=answer, value=3, now=answer * 100)
    # Answers 0 and 1 were pushed out by newer ones; at 850, answer 2 (noted at 200) is too old.
    assert pending.take((1, 42), now=850) == {3: 3, 4: 3}


def test_members_whose_reactions_all_expired_are_dropped_as_the_table_grows():
    pending = PendingReactions(keep_for=600, prune_at=3)
    pending.note((1, 1), answer_id=1, value=3, now=0)
    pending.note((1, 2), answer_id=1, value=3, now=500)
    pending.note((1, 3), answer_id=1, value=3, now=550)
    pending.note((1, 4), answer_id=1, value=3, now=650)  # prunes member 1 only
    assert len(pending) == 3
    assert pending.take((1, 2), now=700) == {1: 3}
    pending.note((1, 3), answer_id=2, value=1, now=700)  # a member already in the table does not prune
    assert pending.take((1, 3), now=700) == {1: 3, 2: 1}
