"""Lexical retrieval: which sections of a scope are relevant to a member's question.

Okapi BM25 over the sections (title and prose), plus one rule BM25 cannot express: members name practices
by the scope's own terms, so a section is also relevant when the question mentions one of its glossary
terms (`- **term**: meaning`) or any other bolded term. `select_sections` then keeps the relevant sections
that fit a character budget, best first, and returns them in the document's order so the prompt reads
like the scope.

Tokens are Unicode words, case-folded, with Latin diacritics removed ("bo me" finds "bố mẹ") and a light
plural-s stripping; Han, kana and Hangul runs become character bigrams. Stop words are dropped before
folding, so the Vietnamese "có" (has) is a stop word but "cô" (aunt, teacher) is not. No dependency, no I/O;
the per-section index is memoised because scopes change rarely and are asked about often.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import chain

from bot.folding import without_diacritics
from bot.scopes.document import ScopeDocument, ScopeSection

BM25_K1 = 1.5
BM25_B = 0.75
# Title words count this many times: a heading names what the whole section is about.
TITLE_WEIGHT = 2
# Words only in earlier turns of the conversation weigh this much relative to the question's own words.
CONTEXT_WEIGHT = 0.5
# A section whose score is below this fraction of the best score is noise (one incidental shared word),
# not relevant, unless the question names one of its terms.
RELATIVE_FLOOR = 0.3
# Bolded runs longer than this are emphasis, not terms.
MAX_TERM_TOKENS = 6


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Short stop-word lists, compared before diacritics are removed. Kept short on purpose: BM25's idf already
# discounts common words, and a word dropped here can never match. Pronouns that are also kin terms in
# Vietnamese ("anh", "em", "con", "me" for "mẹ" typed without marks) are deliberately not listed.
STOP_WORDS: dict[str, frozenset[str]] = {
    "en": _words(
        "a an the and or but if of to in on at by for with from as about into is are was were be been being "
        "am do does did have has had i you he she it we they my your his her its our their this that these "
        "those what which who whom how when where why should would could can will shall may might must "
        "not no so than then there here just very also some any"
    ),
    "id": _words(
        "yang dan atau di ke dari ini itu untuk dengan pada dalam saya aku kamu apa bagaimana gimana "
        "kenapa mengapa tidak nggak gak ada akan bisa harus juga kalau jika sudah udah mau ya dong sih "
        "kok lah nya pun agar supaya karena oleh sebagai tentang"
    ),
    "vi": _words(
        "là của và có cho những các một thì không được này đó với để trong khi nào gì như làm sao thế "
        "mà nhưng hay hoặc rất cũng đã đang sẽ ở tại bị vì nên"
    ),
}
_STOP: frozenset[str] = frozenset().union(*STOP_WORDS.values())

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
# Scripts written without spaces between words: Thai, Lao, Myanmar and Khmer (their vowel and tone marks and
# repetition signs included; their digits and sentence marks, such as ๚ and ។, left out, so that no bigram spans
# two sentences). A clause of them is one "word" to the regex below, so they are indexed by bigrams, like CJK.
_UNSPACED = "\u0e01-\u0e4e\u0e81-\u0ece\u0edc-\u0edf\u1000-\u103f\u1050-\u109f\u1780-\u17d3\u17d7\u17dc\u17dd"
_BIGRAM_RUN = re.compile(f"[{_CJK}{_UNSPACED}]+")
# Word characters plus combining marks of scripts that write vowels as marks (Indic, Thai, Arabic vowel
# signs, kana voicing), which `\w` alone would split words at.
_WORD = re.compile(
    rf"[\w\u0300-\u036f\u064b-\u065f\u0900-\u0dff{_UNSPACED}\u3099\u309a]+",
    re.UNICODE,
)
_BOLD = re.compile(r"\*\*([^*\n]+?)\*\*")
_TERM_SEPARATORS = re.compile(r"[/,;()\[\]]|\s+or\s+")


@dataclass(frozen=True, slots=True)
class ScoredSection:
    """A section, its BM25 score for the question, and the glossary or bolded terms the question named."""

    section: ScopeSection
    score: float
    terms: tuple[str, ...] = field(default=())

    @property
    def named(self) -> bool:
        """Whether the question names one of the section's terms."""
        return bool(self.terms)


def _singular(word: str) -> str:
    # "funerals" ~ "funeral", "elders" ~ "elder"; applied to text and question alike, so stray
    # collisions ("tugas" ~ "tuga") cost nothing.
    if len(word) > 3 and word[-1] == "s" and word[-2] != "s":
        return word[:-1]
    return word


@lru_cache(maxsize=65536)
def _terms_of_word(word: str) -> tuple[str, ...]:
    """The terms of one case-folded word: none for a stop word or stray letter, bigrams for CJK, Thai and other
    scripts written without spaces."""
    if word.isascii():
        if word in _STOP:
            return ()
        word = _singular(word)
        return (word,) if len(word) > 1 or word.isdigit() else ()  # not the "s" of "boss's"
    # Normalised per word rather than per text: NFC over a whole scope costs more than all the rest.
    word = unicodedata.normalize("NFC", word)
    if word in _STOP:
        return ()
    if _BIGRAM_RUN.search(word):
        # CJK, Thai and the like are written without spaces: index overlapping character bigrams of each run,
        # and the other letters of the word as they are.
        out: list[str] = []
        position = 0
        for run in _BIGRAM_RUN.finditer(word):
            if run.start() > position:
                out.extend(_terms_of_word(word[position : run.start()]))
            chars = run.group()
            out.extend([chars] if len(chars) == 1 else [chars[i : i + 2] for i in range(len(chars) - 1)])
            position = run.end()
        if position < len(word):
            out.extend(_terms_of_word(word[position:]))
        return tuple(out)
    folded = _singular(without_diacritics(word))
    return (folded,) if len(folded) > 1 or folded.isdigit() else ()


@lru_cache(maxsize=65536)
def _terms_of_chunk(chunk: str) -> tuple[str, ...]:
    """The terms of a whitespace-separated chunk such as `"boss's"` or `"(ngopi):"`."""
    if chunk.isalnum():  # a plain word, the common case
        return _terms_of_word(chunk)
    return tuple(chain.from_iterable(map(_terms_of_word, _WORD.findall(chunk))))


def tokenize(text: str) -> list[str]:
    """The index terms of `text`, in order: folded words without stop words, CJK bigrams."""
    # Splitting on whitespace and caching per chunk keeps the loop in C: words never contain whitespace,
    # and a scope repeats most of its chunks, so the regex runs once per distinct chunk, not per word.
    return list(chain.from_iterable(map(_terms_of_chunk, text.casefold().split())))


def _term_variants(bolded: str) -> list[tuple[str, ...]]:
    """The token sequences a bolded term can be mentioned by: "Tết (Tết Nguyên Đán)" gives "tet" and
    "tet nguyen dan"; "hiếu / hiếu thảo" gives both; emphasis sentences and stop words give nothing."""
    variants = []
    for part in _TERM_SEPARATORS.split(bolded):
        tokens = tuple(tokenize(part))
        if tokens and len(tokens) <= MAX_TERM_TOKENS and tokens not in variants:
            variants.append(tokens)
    return variants


@dataclass(frozen=True, slots=True)
class _Index:
    """BM25 statistics of a tuple of sections."""

    frequencies: tuple[Counter[str], ...]
    lengths: tuple[int, ...]
    average_length: float
    document_frequency: Counter[str]
    # Per section: (display term, token sequence) for every bolded term.
    terms: tuple[tuple[tuple[str, tuple[str, ...]], ...], ...]


@lru_cache(maxsize=64)
def _index(sections: tuple[ScopeSection, ...]) -> _Index:
    frequencies = []
    document_frequency: Counter[str] = Counter()
    terms = []
    for section in sections:
        prose = section.prose
        counts = Counter(tokenize(prose))
        for token in tokenize(section.title):
            counts[token] += TITLE_WEIGHT
        frequencies.append(counts)
        document_frequency.update(counts.keys())
        section_terms: list[tuple[str, tuple[str, ...]]] = []
        for match in _BOLD.finditer(prose):
            display = match.group(1).strip().rstrip(".:").strip()
            section_terms.extend((display, variant) for variant in _term_variants(display))
        terms.append(tuple(section_terms))
    lengths = tuple(sum(counts.values()) for counts in frequencies)
    average = sum(lengths) / len(lengths) if lengths else 0.0
    return _Index(tuple(frequencies), lengths, average or 1.0, document_frequency, tuple(terms))


def _query_weights(question: str, context: str) -> dict[str, float]:
    weights = dict.fromkeys(tokenize(context), CONTEXT_WEIGHT)
    weights.update(dict.fromkeys(tokenize(question), 1.0))
    return weights


def _ngrams(tokens: Sequence[str], longest: int) -> set[tuple[str, ...]]:
    return {tuple(tokens[i : i + n]) for n in range(1, longest + 1) for i in range(len(tokens) - n + 1)}


def rank_sections(question: str, sections: Sequence[ScopeSection], *, context: str = "") -> list[ScoredSection]:
    """Every section with its BM25 score for `question` (and, at lower weight, `context`: earlier turns),
    best first; ties keep the sections' order. `terms` lists the section's glossary or bolded terms that
    the question (not the context) mentions.
    """
    ordered = tuple(sections)
    if not ordered:
        return []
    index = _index(ordered)
    weights = _query_weights(question, context)
    count = len(ordered)
    idf = {
        token: math.log(1 + (count - index.document_frequency[token] + 0.5) / (index.document_frequency[token] + 0.5))
        for token in weights
        if index.document_frequency[token]
    }
    mentioned = _ngrams(tokenize(question), MAX_TERM_TOKENS)
    scored = []
    for position, section in enumerate(ordered):
        counts = index.frequencies[position]
        norm = BM25_K1 * (1 - BM25_B + BM25_B * index.lengths[position] / index.average_length)
        score = 0.0
        for token, token_idf in idf.items():
            frequency = counts.get(token, 0)
            if frequency:
                score += weights[token] * token_idf * frequency * (BM25_K1 + 1) / (frequency + norm)
        named = dict.fromkeys(display for display, variant in index.terms[position] if variant in mentioned)
        scored.append((position, ScoredSection(section, score, tuple(named))))
    scored.sort(key=lambda item: (-item[1].score, item[0]))
    return [item for _, item in scored]


# Sections every prompt carries when they fit (in this order of priority): the community's rules for sensitive
# topics, and how it varies within itself.
ALWAYS_SECTIONS = ("sensitive-topics", "variation")
# The budget left after the relevant sections is filled with the others, these well-known ones first (the practices
# themselves before the background), then the rest in the document's order.
FILL_FIRST = ("norms-and-etiquette", "forms-of-address", "values-and-tensions", "example-questions", "glossary")
# Never put in a prompt: notes for the people reviewing answers, not for answering (the templates' last section).
NEVER_IN_PROMPT = frozenset({"notes-for-reviewers"})


def section_chars(section: ScopeSection) -> int:
    """What a section costs against the budget: its block as the prompt renders it, `## title\\nprose`
    (editors' comments left out), and the blank line that separates it from the block before."""
    return len(section.title) + len(section.prose) + 6


def select_sections(
    question: str, document: ScopeDocument, budget_chars: int, *, context: str = ""
) -> list[ScopeSection]:
    """The sections relevant to `question` that fit in `budget_chars`, in the document's order.

    Relevant: scoring at least `RELATIVE_FLOOR` of the best score, or naming one of the section's terms.
    When the budget cannot hold them all, the best-scoring are kept (a section that does not fit is
    skipped and smaller ones after it may still fit). The budget left is filled with the other sections, best
    ranked first, then `FILL_FIRST`, then in the document's order: a question in the community's own language
    shares few words with a scope written mostly in English, and a section it needs must not be left out while
    room is left.

    The community's sensitive-topics rules and its variation come first, whatever the question's words
    (`ALWAYS_SECTIONS`): a question about abuse, coming out or money rarely shares words with the rule
    written for it, and every answer should know how the community varies.
    """
    sections = [section for section in document.sections if section.key not in NEVER_IN_PROMPT]
    ranked = rank_sections(question, sections, context=context)
    best = ranked[0].score if ranked else 0.0
    relevant = [item.section for item in ranked if item.named or (best > 0 and item.score >= RELATIVE_FLOOR * best)]
    always = [section for key in ALWAYS_SECTIONS for section in sections if section.key == key]
    # Then the rest: by score, ties (every section, when nothing matched) well-known practical sections first.
    fill = {key: rank for rank, key in enumerate(FILL_FIRST)}
    rest = [
        item.section
        for _, item in sorted(
            enumerate(ranked), key=lambda pair: (-pair[1].score, fill.get(pair[1].section.key, len(fill)), pair[0])
        )
    ]
    chosen: set[int] = set()
    used = 0
    positions = {id(section): position for position, section in enumerate(sections)}
    for section in (*always, *relevant, *rest):
        cost = section_chars(section)
        if positions[id(section)] not in chosen and used + cost <= budget_chars:
            chosen.add(positions[id(section)])
            used += cost
    return [sections[position] for position in sorted(chosen)]
