"""AskCooldown: how often a member who reacts without having chosen is asked about consent."""

from __future__ import annotations

from bot.feedback.consent import AskCooldown


def test_a_member_is_asked_once_per_interval_in_each_server():
    cooldown = AskCooldown(600)
    assert cooldown.should_ask((1, 42), now=1000)
    assert not cooldown.should_ask((1, 42), now=1599)
    assert cooldown.should_ask((2, 42), now=1599), "another server asks on its own"
    assert cooldown.should_ask((1, 42), now=1600)
    assert not cooldown.should_ask((1, 42), now=1601)


def test_members_asked_long_ago_are_forgotten_as_the_table_grows():
    cooldown = AskCooldown(600, prune_at=100)
    for member in range(100):
        assert cooldown.should_ask((1, member), now=0)
    assert len(cooldown) == 100
    # Past the interval, the next insertion drops every expired entry instead of growing the table.
    assert cooldown.should_ask((1, 1000), now=700)
    assert len(cooldown) == 1
    assert not cooldown.should_ask((1, 1000), now=701)
    assert cooldown.should_ask((1, 5), now=701), "a forgotten member is asked again (the interval had passed)"


def test_entries_still_within_the_interval_survive_pruning():
    cooldown = AskCooldown(600, prune_at=3)
    for member, now in [(1, 0), (2, 500), (3, 550)]:
        assert cooldown.should_ask((1, member), now=now)
    assert cooldown.should_ask((1, 4), now=650)  # prunes member 1 only
    assert len(cooldown) == 3
    assert not cooldown.should_ask((1, 2), now=1000)
    assert not cooldown.should_ask((1, 3), now=1000)


def test_an_ask_that_was_not_delivered_is_tried_again_after_a_short_delay_not_the_whole_interval():
    cooldown = AskCooldown(600, retry_after=60)
    assert cooldown.should_ask((1, 42), now=1000)
    assert not cooldown.should_ask((1, 42), now=1001), "not twice while the first note is being sent"
    cooldown.failed((1, 42), asked_at=1000)  # Discord refused the note
    assert not cooldown.should_ask((1, 42), now=1059), "not again at every reaction where notes are refused"
    assert cooldown.should_ask((1, 42), now=1060)
    cooldown.failed((1, 42), asked_at=1000)  # a late report on the older ask leaves the newer one alone
    assert not cooldown.should_ask((1, 42), now=1659)
    assert cooldown.should_ask((1, 42), now=1660)
