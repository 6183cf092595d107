import pytest

from bot.answers.splitting import open_fence_at, split_message, take_message


def test_short_text_is_one_message():
    assert split_message("hello") == ["hello"]


def test_ten_thousand_characters_split_on_word_boundaries():
    words = [f"word{i}" for i in range(1500)]
    text = " ".join(words)
    assert len(text) > 10_000
    parts = split_message(text)
    assert len(parts) >= 6
    assert all(len(part) <= 2000 for part in parts)
    # No word is cut: the words of all parts, in order, are the original words.
    assert " ".join(parts).split() == words


def test_prefers_paragraph_breaks():
    text = "a" * 1500 + "\n\n" + "b " * 400
    head, rest = take_message(text)
    assert head == "a" * 1500
    assert rest.startswith("b b")


def test_open_code_block_is_closed_and_reopened():
    code = "\n".join(f"print({i})  # line" for i in range(200))
    text = "Here is code:\n```python\n" + code + "\n```\nDone."
    parts = split_message(text)
    assert len(parts) > 1
    for part in parts:
        assert len(part) <= 2000
        assert open_fence_at(part) is None, "each part must render its code block completely"
    assert parts[1].startswith("```python\n")
    joined = "\n".join(parts)
    for i in range(200):
        assert f"print({i})" in joined


def test_closed_fence_is_not_reopened():
    text = "```\ncode\n```\n" + "word " * 500
    _, rest = take_message(text)
    assert not rest.startswith("```")


def test_single_giant_word_is_cut_at_the_limit():
    text = "x" * 4500
    parts = split_message(text)
    assert [len(part) for part in parts] == [1992, 1992, 516]


@pytest.mark.parametrize("limit", [50, 200, 2000])
def test_parts_never_exceed_limit(limit):
    text = ("Some sentence here. " * 40 + "\n\n```\n" + "code line\n" * 30 + "```\n") * 5
    assert all(len(part) <= limit for part in split_message(text, limit))


def test_text_without_spaces_is_split_at_a_sentence_end():
    from bot.answers.splitting import split_point

    sentence = "我们在办公室里称呼上司时要用姓加职位。"  # one Chinese sentence, ending with 。
    text = sentence * 12
    cut = split_point(text, 100)
    assert text[:cut].endswith("。") and cut > 100 // 3


@pytest.mark.parametrize(
    ("unit", "why"),
    [
        ("👨\u200d👩\u200d👧", "an emoji sequence joined by zero-width joiners"),
        ("e\u0301", "a letter with a combining accent"),
        ("👍🏽", "an emoji with a skin tone"),
        ("🇮🇩", "a flag's two regional letters"),
        ("กำ\u0e49", "a Thai consonant with its vowel and tone marks"),
        ("क्ष", "a Devanagari conjunct: consonant, virama, consonant"),
        ("क्षि", "a Devanagari conjunct with its vowel sign"),
        ("\u1100\u1161\u11a8", "a Hangul syllable written in jamo"),
        ("\u06001", "an Arabic number sign prepended to its digit"),
        ("🏳\ufe0f\u200d🌈", "an emoji with a variation selector in a ZWJ sequence"),
    ],
)
def test_a_cut_inside_a_word_never_splits_one_visible_character(unit, why):
    from bot.answers.splitting import take_message

    # No space, no sentence end: the cut falls inside the "word", near 2,000 unless that splits a unit ("x" first
    # puts the cut inside one for every unit here).
    text = "x" + unit * (2500 // len(unit))
    head, rest = take_message(text, 2000)
    assert 1900 < len(head) <= 2000
    assert head + rest == text
    assert (len(head) - 1) % len(unit) == 0, why  # whole units only


def test_flags_pair_from_the_start_of_their_run_however_far_back_it_begins():
    from bot.answers.splitting import grapheme_cut

    flags = "🇮🇩🇻🇳" * 30  # 120 regional letters, pairs from the first
    text = "ab" + flags
    for index in range(3, len(text)):
        cut = grapheme_cut(text, index)
        assert (cut - 2) % 2 == 0 and index - 1 <= cut <= index, index  # never between a flag's two letters


def test_a_cluster_longer_than_the_window_is_cut_where_asked():
    from bot.answers.splitting import grapheme_cut

    text = "a" + "\u0301" * 100  # one letter with a hundred accents: no visible break to move back to
    assert grapheme_cut(text, 50) == 50
    # Nor is a head left empty: the first character's accent is cut from it rather than nothing sent.
    assert grapheme_cut("e\u0301x", 1) == 1
    assert grapheme_cut("xe\u0301", 2) == 1


def test_excerpts_and_shortened_texts_never_split_a_flag_or_an_emoji_sequence():
    from bot.digests.text import excerpt
    from bot.errors import shortened

    assert excerpt("见见见见见见🇻🇳🇨🇳见见", 8) == "见见见见见见…"
    assert excerpt("xx 👩\u200d👩\u200d👧 yy zz", 6) == "xx…"
    assert shortened("ab🇻🇳cd", 4) == "ab…"
    assert excerpt("Tôi muốn hỏi về đám cưới", 13) == "Tôi muốn hỏi…"


@pytest.mark.parametrize("mark", ["။", "។"])
def test_burmese_and_khmer_sentence_marks_are_break_points(mark):
    from bot.answers.splitting import split_point

    sentence = "ကကကကကကကကကက" if mark == "။" else "កកកកកកកកកក"
    text = (sentence + mark) * 30
    cut = split_point(text, 100)
    assert text[cut - 1] == mark


def test_a_crash_note_is_never_shown_as_code():
    from bot.answers.interrupted import CRASH_NOTE, mended
    from bot.answers.splitting import open_fence_at
    from bot.answers.streaming import CURSOR

    for body in ("xin chào", "x" * 1990):
        note = mended("Try:\n```text\n" + body + CURSOR)
        assert note is not None and note.endswith(CRASH_NOTE) and len(note) <= 2000
        assert open_fence_at(note[: -len(CRASH_NOTE)]) is None
