import pytest

from bot.answers.prompt import Turn
from bot.answers.tokens import (
    MIN_SHORTENED_TOKENS,
    SHORTENED,
    TURN_OVERHEAD_TOKENS,
    count_tokens,
    trim_history,
    turn_tokens,
)

MIXED = (
    "How should I greet my boss's father? Bagaimana cara menyapa atasan?\n\n"
    "Làm sao để chào bố mẹ của bạn trai? 上司には敬語を使います。 상사에게 인사하기 "
    "Как поздороваться? สวัสดีครับ नमस्ते 2024-02-10 👋🏽 — “quotes”, ok."
)


def test_empty_text_costs_nothing():
    assert count_tokens("") == 0
    assert count_tokens("   ") == 0


def test_latin_is_about_four_characters_a_token():
    assert count_tokens("internationalization") == 5
    assert count_tokens("cat") == 1
    sentence = "How should I greet my boss's father at his funeral in Surabaya?"
    # A BPE tokenizer gives 15 or so; the estimate may be higher, never far lower.
    assert 15 <= count_tokens(sentence) <= 25


def test_punctuation_counts():
    assert count_tokens("ok") == 1
    assert count_tokens("ok!!!") == 4
    assert count_tokens("a, b; c.") == 6


def test_cjk_is_at_least_one_token_per_character():
    for text in ("上司には敬語を使います", "我应该怎么跟老板说", "상사에게인사하기"):
        assert count_tokens(text) >= len(text)


def test_other_scripts_are_counted_conservatively():
    thai = "สวัสดีครับ"
    assert count_tokens(thai) >= len(thai)
    russian = "поздороваться"
    assert count_tokens(russian) >= len(russian) // 2
    # Vietnamese with its diacritics costs more than the same letters without them.
    assert count_tokens("Làm sao để chào bố mẹ") > count_tokens("Lam sao de chao bo me")


def test_emoji_cost_more_than_ascii_symbols():
    assert count_tokens("👋") == 2
    assert count_tokens("#") == 1


def test_the_estimate_never_decreases_as_text_grows():
    counts = [count_tokens(MIXED[:end]) for end in range(len(MIXED) + 1)]
    assert counts == sorted(counts)
    assert counts[-1] > 0


def test_decomposed_text_is_counted_like_composed_text():
    assert count_tokens("Vie\u0302\u0323t") == count_tokens("Việt")


def turns(*roles_and_texts: tuple[str, str]) -> list[Turn]:
    return [Turn(role, text) for role, text in roles_and_texts]


CONVERSATION = turns(
    ("user", "How do I greet my boss's father at his funeral?"),
    ("assistant", "It depends on a few things. " * 10),
    ("user", "He is Javanese and Muslim."),
    ("assistant", "Then a quiet handshake and 'turut berduka cita' is usual. " * 5),
    ("user", "And what should I bring?"),
)


def cost(history: list[Turn]) -> int:
    return sum(turn_tokens(turn) for turn in history)


def test_history_that_fits_is_kept_whole():
    assert trim_history(CONVERSATION, 10_000) == CONVERSATION
    assert trim_history(CONVERSATION, cost(CONVERSATION)) == CONVERSATION


def test_turns_cost_their_text_plus_overhead():
    assert turn_tokens(Turn("user", "")) == TURN_OVERHEAD_TOKENS
    assert turn_tokens(Turn("user", "internationalization")) == 5 + TURN_OVERHEAD_TOKENS


@pytest.mark.parametrize("budget", [*range(0, 260, 7), *range(19, 42, 2)])
def test_oldest_turns_go_first_and_the_budget_holds(budget):
    kept = trim_history(CONVERSATION, budget)
    assert cost(kept) <= budget
    newest = CONVERSATION[len(CONVERSATION) - len(kept) :]
    if budget >= turn_tokens(CONVERSATION[-1]):  # about 12 tokens
        # What is kept is the newest part of the conversation, turn for turn.
        assert all(a is b for a, b in zip(kept, newest, strict=True))
    else:
        # Not even the newest question fits whole: it is kept shortened, or left out when too little room is left.
        assert kept == [] if budget - TURN_OVERHEAD_TOKENS < MIN_SHORTENED_TOKENS else len(kept) == 1
        assert all(turn.text.endswith(SHORTENED) for turn in kept)
    # Never starts with an answer whose question was dropped.
    assert not kept or kept[0].role == "user"


@pytest.mark.parametrize("budget", [40, 60, 100])
def test_a_history_ending_on_an_answer_keeps_its_last_exchange_within_the_budget(budget):
    """As the pipeline's histories do (question and answer pairs): the newest pair, shortened if it must be."""
    history = CONVERSATION[:4]
    assert history[-1].role == "assistant" and cost(history[2:]) > 100
    question, answer = trim_history(history, budget)
    assert cost([question, answer]) <= budget
    assert (question.role, answer.role) == ("user", "assistant")
    assert history[2].text.startswith(question.text.removesuffix(SHORTENED))
    assert answer.text.endswith(SHORTENED) and history[3].text.startswith(answer.text.removesuffix(SHORTENED))


def test_a_leading_assistant_turn_is_dropped_even_when_it_would_fit():
    dropped_first = CONVERSATION[1:]
    assert dropped_first[0].role == "assistant"
    kept = trim_history(dropped_first, 10_000)
    assert kept == CONVERSATION[2:]


def test_dropping_stops_as_soon_as_the_rest_fits():
    # Without the first two turns (a question and its answer) the rest fits exactly.
    budget = cost(CONVERSATION[2:])
    assert trim_history(CONVERSATION, budget) == CONVERSATION[2:]
    assert trim_history(CONVERSATION, budget - 1) == CONVERSATION[4:]


def test_a_newest_turn_larger_than_the_budget_is_shortened_to_fit():
    [kept] = trim_history(turns(("user", "word " * 1000)), 50)
    assert kept.role == "user" and kept.text == "word " * (len(kept.text) // 5 - 1) + "word" + SHORTENED
    assert 50 - 4 <= cost([kept]) <= 50, "as much as fits"
    assert trim_history(turns(("user", "word " * 1000)), 4 + MIN_SHORTENED_TOKENS - 1) == [], "too little room"
    assert trim_history([], 100) == []


THAI_ANSWER = "การไหว้ผู้ใหญ่ควรก้มศีรษะเล็กน้อยและพนมมือให้สูงระดับจมูก " * 18  # about 1,000 characters


def test_the_last_exchange_is_kept_shortened_when_its_answer_alone_is_over_the_budget():
    """A Thai answer of about 1,000 characters is estimated at about 2,000 tokens: over the 1,500 of the history,
    which kept nothing, so the follow-up lost its topic. The question and the answer's beginning are kept."""
    exchange = turns(("user", "ควรทักทายคุณยายของแฟนอย่างไร"), ("assistant", THAI_ANSWER))
    assert count_tokens(THAI_ANSWER) > 1500
    question, answer = trim_history(
        [*turns(("user", "An older question"), ("assistant", "An answer.")), *exchange], 1500
    )
    assert question == exchange[0], "a short question stays whole"
    assert answer.role == "assistant" and answer.text.endswith(SHORTENED)
    assert THAI_ANSWER.startswith(answer.text.removesuffix(SHORTENED))
    assert 1350 <= cost([question, answer]) <= 1500, "most of the room (the cut is at a space)"


def test_a_long_question_takes_at_most_half_the_room_of_its_exchange():
    question, answer = trim_history(turns(("user", "why " * 2000), ("assistant", "because " * 2000)), 1000)
    assert question.text.endswith(SHORTENED) and answer.text.endswith(SHORTENED)
    assert cost([question]) <= 500 + 4 and cost([question, answer]) <= 1000
    assert cost([answer]) > 450
    assert trim_history(CONVERSATION, -5) == []


def test_input_is_not_modified_and_a_list_is_returned():
    history = tuple(CONVERSATION)
    kept = trim_history(history, 60)
    assert isinstance(kept, list)
    assert history == tuple(CONVERSATION)
