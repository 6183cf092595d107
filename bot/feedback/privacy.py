"""A member's view of their research data: status, export, and deletion on request."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from bot.feedback.consent import CHOICE_LABELS, ConsentState, consent_state
from bot.pseudonyms import Pseudonymizer
from bot.storage import Storage


async def status_text(storage: Storage, pseudonyms: Pseudonymizer, guild_id: int, user_id: int) -> str:
    member = pseudonyms.member(user_id)
    settings = await storage.guild_settings(guild_id)
    consent = await storage.consent(guild_id, member)
    data = await storage.member_data(member)
    state = consent_state(consent, settings)
    if consent is None:
        choice = "You have not chosen yet: nothing you give is kept."
    elif state is ConsentState.ASK:
        choice = (
            f"You chose **{CHOICE_LABELS[consent.level].lower()}** under an older notice; the notice changed, so "
            "nothing new is kept until you choose again (`/privacy consent`)."
        )
    else:
        choice = f"Your choice here: **{CHOICE_LABELS[consent.level].lower()}** (since {consent.decided_at[:10]})."
    counts = {name: len(rows) for name, rows in data.items()}
    return (
        f"{choice}\n\nWhat culturebot holds about you, across servers, under your pseudonym: "
        f"{counts['ratings']} rating(s), {counts['rating_reasons']} reason tag(s), {counts['comments']} comment(s), "
        f"{counts['questions']} question(s) you asked, {counts['consent_history']} consent decision(s).\n"
        "`/privacy export` sends it all to you as a file; `/privacy forget` deletes it."
    )


async def export_member(storage: Storage, pseudonyms: Pseudonymizer, user_id: int) -> bytes:
    """Everything linked to the member, as JSON."""
    member = pseudonyms.member(user_id)
    document = {
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "pseudonym": member,
        "about": "Everything culturebot stores linked to you. Research tables hold only the pseudonym above.",
        **await storage.member_data(member),
    }
    return json.dumps(document, ensure_ascii=False, indent=2).encode()


async def forget_member(storage: Storage, pseudonyms: Pseudonymizer, user_id: int) -> str:
    """Delete the member's data everywhere; a sentence saying what was deleted."""
    counts = await storage.forget_member(pseudonyms.member(user_id))
    removed = [f"{count} {name}" for name, count in counts.items() if count]
    if not removed:
        return "There was nothing stored about you; nothing was deleted."
    return (
        "Deleted: " + ", ".join(removed) + ". Answers to your questions stay, without your question or any link to you."
    )
