"""themes.py tokenises all comments in a few joined passes for speed; these tests hold it to the plain
text-by-text definition: the words a regex scan finds in each folded comment, numbered by first use."""

from __future__ import annotations

import random
import re
import unicodedata
from collections import defaultdict
from functools import cache
from itertools import count

import numpy as np
import pytest

from bot.digests import themes

# ---------------------------------------------------------------------------------------------- reference


@cache
def _reference_patterns() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    marks = themes._mark_ranges()
    no_space = themes._NO_SPACE_SCRIPTS
    spaced = rf"(?:[^\W{no_space}]|[{marks}])"
    return (
        re.compile(f"[{no_space}]"),
        re.compile(rf"[\w{marks}]+(?:'[\w{marks}]+)*"),
        re.compile(rf"([{no_space}]+)|({spaced}+(?:'{spaced}+)*)"),
    )


def reference_words(text: str) -> list[str]:
    """Words as the METHOD describes them, found by one regex scan of the folded text."""
    any_no_space, words, mixed = _reference_patterns()
    folded = unicodedata.normalize("NFC", text).casefold().replace("’", "'")
    if any_no_space.search(folded) is None:
        return words.findall(folded)
    tokens: list[str] = []
    for no_space, word in mixed.findall(folded):
        if no_space:
            tokens.extend(no_space[i : i + 2] for i in range(max(1, len(no_space) - 1)))
        else:
            tokens.append(word)
    return tokens


def reference_words_by_text(texts: list[str]) -> tuple[list[int], list[int], list[str]]:
    """(term ids, text indices, terms by id), one text at a time."""
    term_ids: defaultdict[str, int] = defaultdict(count().__next__)
    ids: list[int] = []
    rows: list[int] = []
    for row, text in enumerate(texts):
        words = reference_words(text)
        ids.extend(map(term_ids.__getitem__, words))
        rows.extend([row] * len(words))
    return ids, rows, list(term_ids)


# ---------------------------------------------------------------------------------------------- texts

POOLS = {
    "ascii": list("abcdefXYZ0123456789_'.,;:!?-()[]<>@#&*+=/\\|\"~` \t\n\r\x00\x1c\x7fQq"),
    "words": ["the", "and", "yang", "và", "bapak", "formal", "it's", "don't", "members'", "'quoted'", "Q", "q", "QQ"],
    "vietnamese": [*"ăâđêôơưĐàáảãạằắẳẵặềếểễệờớởỡợừứửữự", "e\u0301", "a\u0306\u0301", "\u0301", "\u0300x"],
    "symbols": [*"’‘“”—…·€ßſΣσςΆἀﬁﬂǄǅİıĳŉ½\u00a0\u2028\u3000\u200b\ufeff", *"Ꭰꭰ𝒜𠀀🙏", "👍🏽", "١٢٣"],
    "indic": ["नमस्ते", "दुनिया", "क्", "ि", "\u094d"],
    "spaceless": [*"敬語は難しいカタカナ・゠ー฿๏\u0e31", "ภาษาไทย", "ง่าย", "ລາວ", "မြန်မာ", "ខ្មែរ", "가나다"],
}

EDGE_TEXTS = [
    "",
    "   ",
    "🙏😅!! (hmm) ?",
    "it's the members' 'quoted' words''here a'-'b",
    "it’s ‘quoted’ twice’’",
    unicodedata.normalize("NFD", "Xưng HÔ với Sếp"),
    "\u0301 starts with a mark",
    "Straße STRASSE 2024 1st Q q",
    "敬語は難しい・カタカナ formal",
    "tabs\tnew\nlines\r\nand\x1ccontrol\x00characters\x7fhere",
    ("spicy sambal rice, too formal! " * 200)[:4000],
]


def random_text(rng: random.Random, kinds: list[str]) -> str:
    parts: list[str] = []
    for _ in range(rng.randint(0, 20)):
        parts.append(rng.choice(POOLS[rng.choice(kinds)]))
        if rng.random() < 0.6:
            parts.append(" ")
    text = "".join(parts)
    return unicodedata.normalize("NFD", text) if rng.random() < 0.1 else text


def random_corpora(seed: int, number: int) -> list[list[str]]:
    rng = random.Random(seed)
    corpora = []
    for _ in range(number):
        kinds = rng.sample(sorted(POOLS), rng.randint(1, 3))
        corpora.append([random_text(rng, kinds) for _ in range(rng.randint(0, 30))])
    return corpora


CORPORA = [
    [],
    [""],
    EDGE_TEXTS,
    [text for text in EDGE_TEXTS if text.isascii()],
    [text for text in EDGE_TEXTS if not text.isascii()],
    ["敬語は難しい", "plain ascii", "tiếng Việt"],  # character pairs among the non-ASCII texts
    *random_corpora(20261123, 150),
]


# ---------------------------------------------------------------------------------------------- tests


@pytest.mark.parametrize("text", [*EDGE_TEXTS, *(text for corpus in random_corpora(7, 40) for text in corpus)])
def test_words_are_what_a_regex_scan_of_the_folded_text_finds(text: str):
    assert themes._raw_words(text) == reference_words(text)


@pytest.mark.parametrize("texts", CORPORA)
def test_words_found_together_are_those_found_text_by_text(texts: list[str]):
    assert themes._spaced_texts(texts) == [themes._spaced(text) for text in texts]
    term, rows, terms = themes._words_by_text(texts)
    assert (term.tolist(), rows.tolist(), terms) == reference_words_by_text(texts)
    assert term.dtype == rows.dtype == np.int64


@pytest.mark.parametrize("chunk", [1, 2, 7])
def test_texts_tokenised_a_chunk_at_a_time_give_the_same_words(monkeypatch, chunk: int):
    texts = [text for corpus in CORPORA[2:12] for text in corpus]
    expected = reference_words_by_text(texts)
    monkeypatch.setattr(themes, "_CHUNK_TEXTS", chunk)
    term, rows, terms = themes._words_by_text(texts)
    assert (term.tolist(), rows.tolist(), terms) == expected


def test_dot_is_bit_identical_to_indexed_products():
    texts = [f"{a} {b} {c} shared" for a in ("spicy", "sambal", "rice") for b in ("formal", "bapak") for c in "xyz"]
    docs = themes.tfidf([text.replace("x", "extra words here") for text in texts])
    dense = np.random.default_rng(0).random((3, len(docs.vocabulary)))
    products = np.ascontiguousarray(dense.T)[docs.indices] * docs.data[:, None]
    expected = np.add.reduceat(products, docs.indptr[:-1], axis=0)
    assert docs.dot(dense).tobytes() == expected.tobytes()
