import pytest

from bot.llm.reasoning import ReasoningFilter, strip_reasoning


def feed_all(chunks):
    reasoning_filter = ReasoningFilter()
    return "".join(reasoning_filter.feed(chunk) for chunk in chunks) + reasoning_filter.flush()


def test_plain_text_passes_through():
    assert feed_all(["Hello ", "world"]) == "Hello world"


def test_think_block_removed():
    assert strip_reasoning("<think>secret plan</think>\nThe answer.") == "The answer."


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7])
def test_tags_split_across_chunks(size):
    text = "Before <think>hidden\nreasoning</think>After <THINKING>x</THINKING>end"
    chunks = [text[i : i + size] for i in range(0, len(text), size)]
    assert feed_all(chunks) == "Before After end"


def test_unfinished_reasoning_is_dropped():
    assert feed_all(["Answer. <think>never", " closed"]) == "Answer. "


def test_angle_brackets_that_are_not_tags_survive():
    assert feed_all(["a <", "b> and <t", "able>"]) == "a <b> and <table>"


def test_text_is_released_as_soon_as_it_cannot_be_a_tag():
    reasoning_filter = ReasoningFilter()
    assert reasoning_filter.feed("Hello <th") == "Hello "
    assert reasoning_filter.feed("ere") == "<there"


def test_text_held_as_possible_reasoning_is_dropped_when_the_length_limit_cut_it():
    cut = ReasoningFilter(expect_reasoning=True)
    assert cut.feed("Let me think about who is older") == ""
    assert cut.flush(cut_off=True) == "" and cut.dropped_unfinished
    finished = ReasoningFilter(expect_reasoning=True)
    assert finished.feed("Greet the eldest first.") == ""
    assert finished.flush() == "Greet the eldest first." and not finished.dropped_unfinished
    shown = ReasoningFilter()  # not held back: released as it came, nothing left to drop
    assert shown.feed("An answer") == "An answer"
    assert shown.flush(cut_off=True) == "" and not shown.dropped_unfinished
