"""Themes in comments: TF-IDF terms, spherical k-means, themes labelled by their top terms.

Deliberately simple and inspectable (see `METHOD`), numpy only; documents are kept sparse (CSR arrays), so
20,000 comments cluster in well under a second and memory stays proportional to the words written.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from itertools import compress, count
from operator import not_
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from bot.digests.bootstrap import rng_for
from bot.wording import counted

MIN_DOCUMENTS = 8  # fewer comments with content words than this: no themes
MAX_THEMES = 8
MERGE_COSINE = 0.5  # clusters whose centres are this similar are one theme
MAX_ITERATIONS = 30
MAX_VOCABULARY = 5000
LABEL_TERMS = 3
TOP_TERMS = 10
MATCH_SHARED_TERMS = 3  # of the top terms, for "same theme as last period"
EXAMPLES = 3

METHOD = (
    "Themes are found by a transparent bag-of-words method. Each comment is split into words (runs of Unicode "
    "letters, digits and combining marks, NFC-normalised and case-folded; numbers alone are dropped; scripts "
    "written without spaces, such as Chinese, Japanese and Thai, into overlapping pairs of characters), and "
    "common function words in English, Indonesian/Malay, Vietnamese, Spanish, Portuguese, French and German "
    "are dropped. Words used in at least two comments (and, from 20 comments on, in at most half of them) are "
    "weighted by TF-IDF (1 + log of the count in the comment, times log((1 + comments) / (1 + comments with "
    "the word)) + 1), and each comment's vector is scaled to length one. The comments are grouped by "
    f"spherical k-means (cosine similarity) with k = √(comments / 2), rounded, between 2 and {MAX_THEMES}, "
    "started by k-means++ from a fixed seed so the grouping is reproducible; groups whose centres have a "
    f"cosine similarity of {MERGE_COSINE} or more are merged. A theme is labelled by the {LABEL_TERMS} "
    f"heaviest words of its centre, and described by its {TOP_TERMS} heaviest, among the words that at least two "
    "different members used in their comments, one of whom allowed quoting: a word only one member wrote (a name, "
    "a rare word) is never shown, since it could tell whose comments a theme rests on, nor one that only members "
    "who did not allow quoting wrote, and only members who allowed quoting are quoted. Its examples are the "
    "comments closest to the centre, and its cohesion is their mean cosine similarity to it (near 1: comments say "
    "much the same; low: a loose catch-all). A theme counts as new when "
    f"it shares fewer than {MATCH_SHARED_TERMS} of its top {TOP_TERMS} words (every word, shown or not) with "
    "every theme found the same way in the previous period. Comments with no remaining words are not grouped. "
    "Words are compared as written, whatever their language: comments in different languages share few words, so "
    "where members comment in more than one language the themes tend to group comments by language rather than "
    "by topic. Word groupings are a starting point for reading the comments, not a coding of them."
)

# Small stop-word lists: function words only, so that cultural vocabulary (e.g. "bapak", "anh", "formal")
# survives. Words shorter than 2 letters are dropped anyway.
_STOP_WORDS_TEXT = """
a about above after again against all also am an and any are as at be because been before being below
between both but by can could did do does doing down during each few for from further had has have having he
her here hers herself him himself his how i if in into is it its itself just me more most my myself no nor not
now of off on once only or other our ours ourselves out over own same she should so some such than that the
their theirs them themselves then there these they this those through to too under until up very was we were
what when where which while who whom why will with would you your yours yourself yourselves it's i'm don't
doesn't isn't can't won't i've that's there's
yang dan di ke dari ini itu dengan untuk pada adalah dalam tidak akan juga atau ada oleh saya kamu anda kami
kita mereka dia ia sudah belum bisa harus lebih karena jadi kalau jika tapi tetapi namun saja hanya sangat
seperti agar supaya bahwa lagi masih pun ya tak nya lah kah sih dong deh aja gak nggak enggak udah
và của là có không những các được cho một người này đã với để trong khi thì như cũng đó về rất nhưng hay
hoặc mà nên vì ở ra lại còn đang sẽ tôi bạn chúng họ nó ạ à nhé thế vậy từ theo bị
el la los las un una unos unas de del al y o que en es por para con sin se su sus lo le les como más pero
muy ya este esta esto ese esa no si sí fue ser está están hay mi me te nos
le la les un une des du de et ou que qui en est pour par avec sans ce cet cette ces il elle ils elles ne
pas plus mais très au aux son sa ses on nous vous je tu y se
der die das den dem des ein eine einer eines und oder aber nicht ist sind war mit für von zu im in auf an
es ich du er sie wir ihr auch noch nur sehr wie dass so
o os as um uma uns umas do da dos das e ou que em no na nos nas por para com sem se seu sua é são não mais
mas muito eu você ele ela
"""
STOP_WORDS = frozenset(unicodedata.normalize("NFC", word).casefold() for word in _STOP_WORDS_TEXT.split())

# Scripts written without spaces between words: split into overlapping character pairs.
_NO_SPACE_SCRIPTS = (
    "\u0e00-\u0e7f"  # Thai
    "\u0e80-\u0eff"  # Lao
    "\u1000-\u109f"  # Myanmar
    "\u1780-\u17ff"  # Khmer
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u3400-\u4dbf"  # CJK extension A
    "\u4e00-\u9fff"  # CJK unified ideographs
    "\uf900-\ufaff"  # CJK compatibility ideographs
)


def _mark_ranges() -> str:
    """A regex class body with every combining mark of the Basic Multilingual Plane, as ranges."""
    ranges: list[tuple[int, int]] = []
    for code in range(0x300, 0x10000):
        if unicodedata.category(chr(code)).startswith("M"):
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1] = (ranges[-1][0], code)
            else:
                ranges.append((code, code))
    return "".join(f"\\u{low:04x}-\\u{high:04x}" for low, high in ranges)


class _Patterns(NamedTuple):
    no_space: re.Pattern[str]  # any character of a space-less script
    mixed: re.Pattern[str]  # space-less runs (group 1) or words (group 2)
    non_word: re.Pattern[str]  # one character that is neither in a word, nor whitespace, nor an apostrophe
    stray_apostrophe: re.Pattern[str]  # an apostrophe without a word character on both sides


def _ranges_in(char_class: str) -> str:
    """The Basic Multilingual Plane characters of a regex class body, as a class body of explicit ranges."""
    plane = "".join(map(chr, range(0x10000)))
    return "".join(f"\\u{run.start():04x}-\\u{run.end() - 1:04x}" for run in re.finditer(f"[{char_class}]+", plane))


@cache
def _patterns() -> _Patterns:
    """The tokenising patterns, compiled once."""
    # Words are runs of word characters and combining marks (Python's \w omits marks such as Devanagari
    # vowel signs), with inner apostrophes. One character class is much faster than an alternation.
    marks = _mark_ranges()
    word = rf"\w{marks}"
    spaced = rf"(?:[^\W{_NO_SPACE_SCRIPTS}]|[{marks}])"
    # Replacing every character outside words by a space, then split(), finds the words 3 times faster than a
    # regex scan for them. The class lists the plane's kept characters again as explicit ranges: the engine
    # tests those with a table lookup before the slow Unicode tests of \w and \s, which then run only for the
    # rare others. A one-character pattern (no `+`) lets it skip ahead fast between matches.
    kept = rf"{word}\s'"
    return _Patterns(
        no_space=re.compile(f"[{_NO_SPACE_SCRIPTS}]"),
        mixed=re.compile(rf"([{_NO_SPACE_SCRIPTS}]+)|({spaced}+(?:'{spaced}+)*)"),
        non_word=re.compile(rf"[^{_ranges_in(kept)}{kept}]"),
        stray_apostrophe=re.compile(rf"'(?:(?<![{word}]')|(?![{word}]))"),
    )


_ASCII_WORD_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")  # \w in ASCII
# Every ASCII character that is neither a word character nor an apostrophe, to a space (translate runs at C
# speed; a regex scan took 3 times as long).
_ASCII_NON_WORD = str.maketrans({c: " " for c in map(chr, range(128)) if c not in _ASCII_WORD_CHARACTERS and c != "'"})
# Ends each text where texts are joined to be processed in one go: case-folded text has no capital letters, so
# this word never comes from a text.
_TEXT_END = "Q"
_SEPARATOR = f" {_TEXT_END} "
_CHUNK_TEXTS = 2000


def _fold(text: str) -> str:
    return unicodedata.normalize("NFC", text).casefold().replace("’", "'")


def _without_stray_apostrophes(spaced: str) -> str:
    return _patterns().stray_apostrophe.sub(" ", spaced) if "'" in spaced else spaced


def _spaced_ascii(lowered: str) -> str:
    return _without_stray_apostrophes(lowered.translate(_ASCII_NON_WORD))


def _spaced_folded(folded: str) -> str:
    """A folded text's words separated by whitespace, space-less runs as character pairs."""
    patterns = _patterns()
    if patterns.no_space.search(folded) is None:
        return _without_stray_apostrophes(patterns.non_word.sub(" ", folded))  # the common case
    tokens: list[str] = []
    for no_space, word in patterns.mixed.findall(folded):
        if no_space:
            tokens.extend(no_space[i : i + 2] for i in range(max(1, len(no_space) - 1)))
        else:
            tokens.append(word)
    return " ".join(tokens)


def _spaced(text: str) -> str:
    """A text case-folded, with whitespace between its words and nothing else: split() gives its words (every
    word, stop words included; space-less runs as character pairs)."""
    if text.isascii():
        return _spaced_ascii(text.lower())  # already NFC; lower() is casefold() for ASCII
    return _spaced_folded(_fold(text))


def _spaced_ascii_texts(texts: list[str]) -> list[str]:
    """`_spaced` of ASCII texts, in one call for all of them."""
    return _spaced_ascii(_SEPARATOR.join(map(str.lower, texts))).split(_SEPARATOR) if texts else []


def _spaced_other_texts(texts: list[str]) -> list[str]:
    """`_spaced` of texts that are not ASCII, in one call for all of them unless some need character pairs."""
    folded = list(map(_fold, texts))
    joined = _SEPARATOR.join(folded)
    if not texts or _patterns().no_space.search(joined) is not None:
        return list(map(_spaced_folded, folded))
    return _spaced_folded(joined).split(_SEPARATOR)


def _spaced_texts(texts: Sequence[str]) -> list[str]:
    """`_spaced` of every text. The texts are processed joined by _SEPARATOR, which no step changes, the ASCII
    ones and the others apart: per-text calls cost more than the work itself on short comments."""
    is_ascii = list(map(str.isascii, texts))
    ascii_rows = list(compress(range(len(texts)), is_ascii))
    other_rows = list(compress(range(len(texts)), map(not_, is_ascii)))
    pieces = _spaced_ascii_texts([texts[row] for row in ascii_rows])
    pieces += _spaced_other_texts([texts[row] for row in other_rows])
    spaced = [""] * len(texts)
    for row, piece in zip(ascii_rows + other_rows, pieces, strict=True):
        spaced[row] = piece
    return spaced


def _raw_words(text: str) -> list[str]:
    """Every word of a text, case-folded, stop words included; space-less runs as character pairs."""
    return _spaced(text).split()


def is_content_word(word: str) -> bool:
    return len(word) > 1 and word not in STOP_WORDS and not word.isdigit()


def tokenize(text: str) -> list[str]:
    """Content words of a comment, case-folded; runs of space-less scripts as character pairs."""
    return [word for word in _raw_words(text) if is_content_word(word)]


@dataclass(frozen=True, slots=True)
class SparseDocs:
    """L2-normalised TF-IDF rows in CSR form; every row has at least one term."""

    indptr: NDArray[np.int64]
    indices: NDArray[np.int64]
    data: NDArray[np.float64]
    vocabulary: tuple[str, ...]
    rows: tuple[int, ...]  # positions of these documents in the input

    @property
    def size(self) -> int:
        return len(self.rows)

    def row_of_entry(self) -> NDArray[np.int64]:
        return np.repeat(np.arange(self.size, dtype=np.int64), np.diff(self.indptr))

    def dot(self, dense: NDArray[np.float64]) -> NDArray[np.float64]:
        """Similarities of every document to each row of `dense` (centres × vocabulary): documents × centres."""
        # One contiguous row per stored entry (take: the same rows as indexing, gathered faster).
        products = np.ascontiguousarray(dense.T).take(self.indices, axis=0)
        products *= self.data[:, None]
        result: NDArray[np.float64] = np.add.reduceat(products, self.indptr[:-1], axis=0)
        return result


def _words_by_text(texts: Sequence[str]) -> tuple[NDArray[np.int64], NDArray[np.int64], list[str]]:
    """Every word of the texts in order: (term ids, text indices, terms by id), ids numbered by first use."""
    # The words of _CHUNK_TEXTS texts at a time in one list, each text's followed by _TEXT_END, mapped to ids in
    # one pass: joined work pays off on short comments, and a big server's words are never all strings at once
    # (that raised a 20,000-comment digest's peak memory by 15 MB).
    term_ids: defaultdict[str, int] = defaultdict(count(-1).__next__)  # a new word gets the next id
    end_id = term_ids[_TEXT_END]  # -1, so that words are numbered from 0
    chunks = []
    for start in range(0, len(texts), _CHUNK_TEXTS):
        words = _SEPARATOR.join(_spaced_texts(texts[start : start + _CHUNK_TEXTS])).split()
        words.append(_TEXT_END)  # the chunk's last text ends too
        chunks.append(np.fromiter(map(term_ids.__getitem__, words), dtype=np.int64, count=len(words)))
        del words
    ids = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int64)
    ends = ids == end_id
    text = np.cumsum(ends)[~ends]  # the number of text ends before a word is the index of its text
    return ids[~ends], text, list(term_ids)[1:]


def tfidf(texts: Sequence[str]) -> SparseDocs:
    """TF-IDF rows of the texts (see METHOD), built with integer term ids and numpy, not per-word Python."""
    n_docs = len(texts)
    term, doc, terms = _words_by_text(texts)
    content = np.fromiter(map(is_content_word, terms), dtype=np.bool_, count=len(terms))
    keep = content[term] if term.size else np.zeros(0, dtype=np.bool_)
    # Distinct (document, term) pairs and their counts, ordered by document.
    pairs, term_count = np.unique(doc[keep] * max(len(terms), 1) + term[keep], return_counts=True)
    pair_doc, pair_term = np.divmod(pairs, max(len(terms), 1))
    frequency = np.bincount(pair_term, minlength=len(terms))
    max_df = n_docs // 2 if n_docs >= 20 else n_docs
    candidates = np.flatnonzero((frequency >= 2) & (frequency <= max_df)).tolist()
    counts = frequency.tolist()  # Python ints: quicker to look up one at a time
    candidates.sort(key=lambda i: (-counts[i], terms[i]))
    chosen = sorted(candidates[:MAX_VOCABULARY], key=terms.__getitem__)  # the vocabulary in word order
    position = np.full(len(terms), -1, dtype=np.int64)
    position[chosen] = np.arange(len(chosen))
    selected = position[pair_term] >= 0
    pair_doc, pair_column, term_count = pair_doc[selected], position[pair_term[selected]], term_count[selected]
    idf = np.log((1 + n_docs) / (1 + frequency[chosen])) + 1.0
    weight = (1.0 + np.log(term_count)) * idf[pair_column]
    norm = np.sqrt(np.bincount(pair_doc, weights=weight * weight, minlength=n_docs))
    weight = weight / norm[pair_doc]
    per_doc = np.bincount(pair_doc, minlength=n_docs)
    rows = np.flatnonzero(per_doc)
    indptr = np.concatenate([[0], np.cumsum(per_doc[rows])]).astype(np.int64)
    return SparseDocs(
        indptr,
        pair_column.astype(np.int64),
        weight.astype(np.float64),
        tuple(terms[i] for i in chosen),
        tuple(rows.tolist()),
    )


def choose_k(n_docs: int) -> int:
    return max(2, min(MAX_THEMES, round(math.sqrt(n_docs / 2))))


def _centres(docs: SparseDocs, labels: NDArray[np.int64], k: int) -> NDArray[np.float64]:
    vocabulary = len(docs.vocabulary)
    flat = labels[docs.row_of_entry()] * vocabulary + docs.indices
    sums = np.bincount(flat, weights=docs.data, minlength=k * vocabulary).reshape(k, vocabulary)
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    result: NDArray[np.float64] = np.divide(sums, norms, out=np.zeros_like(sums), where=norms > 0)
    return result


def _dense_row(docs: SparseDocs, row: int) -> NDArray[np.float64]:
    vector = np.zeros(len(docs.vocabulary))
    start, stop = docs.indptr[row], docs.indptr[row + 1]
    vector[docs.indices[start:stop]] = docs.data[start:stop]
    return vector


def spherical_kmeans(docs: SparseDocs, k: int, rng: np.random.Generator) -> NDArray[np.int64]:
    """Cluster labels (0..k'-1, k' <= k) by cosine k-means with k-means++ seeding, then centre merging."""
    # k-means++: each next centre is a document drawn with probability proportional to its squared cosine
    # distance from the nearest centre chosen so far.
    centres = [_dense_row(docs, int(rng.integers(docs.size)))]
    nearest = docs.dot(centres[0][None, :])[:, 0]
    for _ in range(1, k):
        distance = np.clip(1.0 - nearest, 0.0, None) ** 2
        total = float(distance.sum())
        if total <= 1e-12:
            break  # every document coincides with a centre: fewer distinct groups than k
        choice = int(rng.choice(docs.size, p=distance / total))
        centres.append(_dense_row(docs, choice))
        nearest = np.maximum(nearest, docs.dot(centres[-1][None, :])[:, 0])
    centre_matrix = np.vstack(centres)
    labels = np.full(docs.size, -1, dtype=np.int64)
    for _ in range(MAX_ITERATIONS):
        new_labels = docs.dot(centre_matrix).argmax(axis=1).astype(np.int64)
        if np.array_equal(new_labels, labels):
            break
        labels = new_labels
        centre_matrix = _centres(docs, labels, centre_matrix.shape[0])
    return _merge_similar(docs, labels)


def _merge_similar(docs: SparseDocs, labels: NDArray[np.int64]) -> NDArray[np.int64]:
    """Join clusters whose centres are close (union-find over centre pairs), then number them 0..k'-1."""
    used = np.unique(labels)
    labels = np.searchsorted(used, labels).astype(np.int64)
    k = used.size
    centres = _centres(docs, labels, k)
    similarity = centres @ centres.T
    parent = list(range(k))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for i in range(k):
        for j in range(i + 1, k):
            if similarity[i, j] >= MERGE_COSINE:
                parent[max(root(i), root(j))] = min(root(i), root(j))
    roots = np.array([root(i) for i in range(k)], dtype=np.int64)
    merged = roots[labels]
    _, renumbered = np.unique(merged, return_inverse=True)
    result: NDArray[np.int64] = renumbered.astype(np.int64)
    return result


@dataclass(frozen=True, slots=True)
class FoundTheme:
    terms: tuple[str, ...]  # top terms, heaviest first: what matching with the previous period's themes compares
    # The heaviest terms that comments of at least two different members hold, one of them a member who allowed
    # quoting, heaviest first: the only ones shown (a label, the top words), so that no word of one member's alone,
    # nor one only members who did not allow quoting wrote, reaches a report.
    shared_terms: tuple[str, ...]
    members: tuple[int, ...]  # input positions, closest to the centre first
    similarities: tuple[float, ...]  # cosine to the centre, same order
    cohesion: float


@dataclass(frozen=True, slots=True)
class ThemeFinding:
    themes: tuple[FoundTheme, ...]  # largest first
    documents: int  # input documents
    clustered: int  # documents with at least one vocabulary term
    vocabulary: int
    reason: str | None  # why there are no themes, when there are none


def shared_by_members(docs: SparseDocs, authors: Sequence[str]) -> NDArray[np.bool_]:
    """Per vocabulary term: whether comments of at least two different authors (`authors[i]` wrote text i) hold
    it. One pass over the stored entries: a term is shared when any of its entries has another author than its
    first one."""
    codes: defaultdict[str, int] = defaultdict(count().__next__)  # a new author gets the next code
    author = np.fromiter(map(codes.__getitem__, authors), np.int64, count=len(authors))
    entry_author = author[np.asarray(docs.rows, dtype=np.int64)][docs.row_of_entry()]
    first = np.full(len(docs.vocabulary), -1, dtype=np.int64)
    first[docs.indices[::-1]] = entry_author[::-1]  # the last assignment to a term wins: its first entry's author
    other = np.bincount(docs.indices[entry_author != first[docs.indices]], minlength=len(docs.vocabulary))
    result: NDArray[np.bool_] = other > 0
    return result


def used_in(docs: SparseDocs, chosen: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """Per vocabulary term: whether any of the chosen texts (`chosen[i]` for text i) holds it."""
    entry_chosen = chosen[np.asarray(docs.rows, dtype=np.int64)][docs.row_of_entry()]
    result: NDArray[np.bool_] = np.bincount(docs.indices[entry_chosen], minlength=len(docs.vocabulary)) > 0
    return result


def find_themes(
    texts: Sequence[str],
    *,
    authors: Sequence[str],
    seed: int,
    label: str = "themes",
    quotable: Sequence[bool] | None = None,
) -> ThemeFinding:
    """Themes among `texts` (input order matters only for ties); deterministic for a seed. `authors[i]`: who wrote
    text i (a member's pseudonym), so that a theme shows only words at least two members used; `quotable[i]`:
    whether that member allowed quoting, so that it shows only words one such member used too (all, when None).
    The themes themselves are found from every text: only the words shown are limited."""
    if len(authors) != len(texts) or (quotable is not None and len(quotable) != len(texts)):
        raise ValueError("one author (and one quotable flag) per text")
    docs = tfidf(texts)
    if docs.size < MIN_DOCUMENTS:
        reason = (
            f"Too few comments to look for themes: it needs at least {MIN_DOCUMENTS} comments that share a content "
            f"word with another comment (here: {docs.size} of {counted(len(texts), 'comment')})."
        )
        return ThemeFinding((), len(texts), docs.size, len(docs.vocabulary), reason)
    labels = spherical_kmeans(docs, choose_k(docs.size), rng_for(seed, label))
    k = int(labels.max()) + 1
    centres = _centres(docs, labels, k)
    similarity = docs.dot(centres)[np.arange(docs.size), labels]
    rows = np.asarray(docs.rows, dtype=np.int64)
    shared = shared_by_members(docs, authors)
    if quotable is not None:
        shared &= used_in(docs, np.asarray(quotable, dtype=np.bool_))
    themes: list[FoundTheme] = []
    for cluster in range(k):
        members = np.flatnonzero(labels == cluster)
        order = members[np.lexsort((members, -similarity[members]))]
        heaviest = np.argsort(-centres[cluster], kind="stable")
        heaviest = heaviest[centres[cluster, heaviest] > 0]
        themes.append(
            FoundTheme(
                terms=tuple(docs.vocabulary[i] for i in heaviest[:TOP_TERMS].tolist()),
                shared_terms=tuple(docs.vocabulary[i] for i in heaviest[shared[heaviest]][:TOP_TERMS].tolist()),
                members=tuple(rows[order].tolist()),
                similarities=tuple(similarity[order].tolist()),
                cohesion=float(similarity[members].mean()),
            )
        )
    themes.sort(key=lambda theme: (-len(theme.members), theme.terms))
    return ThemeFinding(tuple(themes), len(texts), docs.size, len(docs.vocabulary), None)


def match_previous(current: FoundTheme, previous: Sequence[FoundTheme]) -> int | None:
    """Index of the previous theme sharing the most top terms (at least MATCH_SHARED_TERMS, or all of the
    shorter theme's terms when a theme has fewer: short comments make themes of one or two terms), else None."""
    best: int | None = None
    best_shared = 0
    terms = set(current.terms)
    for index, theme in enumerate(previous):
        shared = len(terms & set(theme.terms))
        needed = min(MATCH_SHARED_TERMS, len(terms), len(theme.terms))
        if shared >= max(needed, 1) and shared > best_shared:
            best, best_shared = index, shared
    return best
