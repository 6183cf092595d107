"""PendingReactions: the rating reactions of members who have not chosen, waiting in memory for their choice."""

from __future__ import annotations

from bot.feedback.consent import PendingReactions


def test_a_members_reactions_wait_per_server_and_are_taken_once():
    pending = PendingReactions(keep_for=600)
    pending.note((1, 42), answer_id=7, value=3, now=0)
    pending.note((1, 42), answer_id=8, value=1, now=1)
    pending.note((1, 42), answer_id=7, value=2, now=2)  # another emoji on the same answer: the latest last
    pending.note((2, 42), answer_id=9, value=3, now=2)  # another server keeps its own
    assert pending.take((1, 42), now=3) == {8: (1,), 7: (3, 2)}
    assert pending.take((1, 42), now=3) == {}, "taken once"
    assert pending.take((2, 42), now=3) == {9: (3,)}


def test_a_refusal_drops_them():
    pending = PendingReactions(keep_for=600)
    pending.note((1, 42), answer_id=7, value=3, now=0)
    pending.drop((1, 42))
    pending.drop((1, 43))  # nothing pending: nothing to do
    assert pending.take((1, 42), now=1) == {}
    assert len(pending) == 0


def test_one_answer_s_reaction_can_be_discarded():
    pending = PendingReactions(keep_for=600)
    pending.note((1, 42), answer_id=7, value=3, now=0)
    pending.note((1, 42), answer_id=8, value=1, now=0)
    pending.discard((1, 42), 7)
    pending.discard((1, 42), 9)  # nothing waits there: nothing to do
    pending.discard((1, 43), 7)
    assert pending.take((1, 42), now=1) == {8: (1,)}
    pending.note((1, 42), answer_id=8, value=1, now=2)
    pending.discard((1, 42), 8)
    assert len(pending) == 0, "a member left with none is dropped"


def test_a_forgotten_member_loses_them_in_every_server():
    pending = PendingReactions(keep_for=600)
    pending.note((1, 42), answer_id=7, value=3, now=0)
    pending.note((2, 42), answer_id=9, value=1, now=0)
    pending.note((1, 43), answer_id=7, value=2, now=0)
    pending.drop_member(42)
    assert (pending.take((1, 42), now=1), pending.take((2, 42), now=1)) == ({}, {})
    assert pending.take((1, 43), now=1) == {7: (2,)}, "other members keep theirs"


def test_old_reactions_expire_and_a_member_keeps_only_their_newest_answers():
    pending = PendingReactions(keep_for=600, per_member=3)
    for answer in range(5):
        pending.note((1, 42), answer_id=answer, value=3, now=answer * 100)
    # Answers 0 and 1 were pushed out by newer ones; at 850, answer 2 (noted at 200) is too old.
    assert pending.take((1, 42), now=850) == {3: (3,), 4: (3,)}


def test_members_whose_reactions_all_expired_are_dropped_as_the_table_grows():
    pending = PendingReactions(keep_for=600, prune_at=3)
    pending.note((1, 1), answer_id=1, value=3, now=0)
    pending.note((1, 2), answer_id=1, value=3, now=500)
    pending.note((1, 3), answer_id=1, value=3, now=550)
    pending.note((1, 4), answer_id=1, value=3, now=650)  # prunes member 1 only
    assert len(pending) == 3
    assert pending.take((1, 2), now=700) == {1: (3,)}
    pending.note((1, 3), answer_id=2, value=1, now=700)  # a member already in the table does not prune
    assert pending.take((1, 3), now=700) == {1: (3,), 2: (1,)}


def test_prune_forgets_expired_reactions_and_the_members_left_with_none():
    pending = PendingReactions(keep_for=600)
    pending.note((1, 1), answer_id=1, value=3, now=0)
    pending.note((1, 2), answer_id=1, value=3, now=0)
    pending.note((1, 2), answer_id=2, value=1, now=500)
    pending.prune(now=600)  # 600 after the first two: expired, as take() would see them
    assert len(pending) == 1
    assert pending._pending == {(1, 2): {2: ((1,), 500)}}, "the expired answer is gone from memory, not only unused"
    pending.prune(now=1100)
    assert len(pending) == 0


def test_noting_forgets_the_members_own_expired_reactions_and_prunes_the_others_at_most_every_prune_every():
    pending = PendingReactions(keep_for=600, prune_every=3600)
    pending.note((1, 1), answer_id=1, value=3, now=0)  # the first note prunes (nothing yet)
    pending.note((1, 2), answer_id=1, value=3, now=0)
    pending.note((1, 1), answer_id=2, value=2, now=3200)  # member 1's own expired answer goes at once
    assert pending._pending[(1, 1)] == {2: ((2,), 3200)}
    assert (1, 2) in pending._pending, "the others wait for the next prune, an hour after the last"
    pending.note((1, 3), answer_id=1, value=1, now=3600)  # an hour since the last prune: member 2 goes
    assert set(pending._pending) == {(1, 1), (1, 3)}


def test_the_values_waiting_for_an_answer_are_read_without_taking_them():
    pending = PendingReactions(keep_for=600)
    pending.note((1, 42), answer_id=7, value=3, now=0)
    pending.note((1, 42), answer_id=7, value=2, now=100)  # the latest rating emoji on the answer
    assert pending.values((1, 42), 7, now=200) == (3, 2)
    assert pending.values((1, 42), 8, now=200) == ()
    assert pending.values((1, 43), 7, now=200) == ()
    assert pending.values((1, 42), 7, now=700) == (), "expired"
    assert pending.take((1, 42), now=200) == {7: (3, 2)}, "still there to take"


def test_a_reaction_taken_back_before_choosing_is_not_kept():
    pending = PendingReactions(keep_for=600)
    pending.note((1, 42), answer_id=7, value=3, now=0)
    pending.note((1, 42), answer_id=7, value=2, now=10)
    pending.note((1, 42), answer_id=7, value=3, now=20)  # added again: the latest once more, not twice
    assert pending.values((1, 42), 7, now=30) == (2, 3)
    pending.taken_back((1, 42), 7, 3)
    assert pending.values((1, 42), 7, now=30) == (2,)
    pending.taken_back((1, 42), 7, 1)  # never noted: nothing to do
    pending.taken_back((1, 42), 8, 2)
    pending.taken_back((1, 43), 7, 2)
    pending.taken_back((1, 42), 7, 2)
    assert pending.take((1, 42), now=30) == {}
    assert len(pending) == 0, "a member left with none is dropped"
