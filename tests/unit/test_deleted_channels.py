"""What deleted channels change in a server's settings (bot/deleted_channels.py's `cleanup`)."""

from __future__ import annotations

from bot.deleted_channels import cleanup, stored_channels
from bot.storage import GuildSettings

ASK, MORE, LOG, DIGEST = 11, 12, 13, 14
SETTINGS = GuildSettings(guild_id=1, answer_channels=(ASK, MORE), log_channel_id=LOG, digest_channel_id=DIGEST)


def test_every_channel_the_settings_name():
    assert stored_channels(SETTINGS) == {ASK, MORE, LOG, DIGEST}
    assert stored_channels(GuildSettings(guild_id=1)) == set()


def test_a_deleted_answer_channel_leaves_the_list():
    done = cleanup(SETTINGS, {ASK})
    assert done.changes == {"answer_channels": [MORE]}
    assert done.kept_answer_channels == () and done.digest_channel is None


def test_the_last_answer_channels_stay_so_that_the_bot_answers_nowhere():
    assert cleanup(SETTINGS, {ASK, MORE}).changes == {}
    assert cleanup(SETTINGS, {ASK, MORE}).kept_answer_channels == (ASK, MORE)


def test_the_log_channel_is_cleared_and_the_digest_channel_kept():
    done = cleanup(SETTINGS, {LOG, DIGEST, 99})
    assert done.changes == {"log_channel_id": None}
    assert done.digest_channel == DIGEST and done.kept_answer_channels == ()


def test_channels_the_settings_do_not_name_change_nothing():
    done = cleanup(SETTINGS, {99})
    assert done.changes == {} and done.kept_answer_channels == () and done.digest_channel is None
    assert cleanup(GuildSettings(guild_id=1), {99}).kept_answer_channels == ()
