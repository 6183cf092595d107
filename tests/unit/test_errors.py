from discord import app_commands

from bot.errors import UserFacingError, describe_error


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
