import time
from dataclasses import replace
from pathlib import Path

import pytest

from bot.answers.retrieval import RELATIVE_FLOOR, rank_sections, section_chars, select_sections, tokenize
from bot.scopes import parse_scope
from bot.scopes.document import ScopeDocument, ScopeSection

HEADER = '''+++
id = "large-test-scope"
title = "Office and family life in Surabaya (large test scope)"
summary = """A large made-up scope for retrieval tests: twenty sections on different topics, \
each long enough that the whole scope does not fit a prompt."""
community = "Test writers in Surabaya"
setting = "Offices, homes and ceremonies"
languages = ["id", "en"]
not_covered = ["anything real"]
authors = ["culturebot test suite"]
+++
'''

# (title, distinctive text). Each section is padded with text every section shares, as real scopes share
# vocabulary ("community", "people", "respect"), so that retrieval has to tell them apart.
TOPICS: list[tuple[str, str]] = [
    (
        "Funerals and mourning",
        "At a funeral (pemakaman) mourners arrive quietly, greet the bereaved family with a soft handshake and "
        "condolences, and bring an envelope of money for the funeral costs. The body is buried quickly, often "
        "the same day. Mourning gatherings (tahlilan) follow on the third, seventh and fortieth days.",
    ),
    (
        "Weddings and receptions",
        "Wedding receptions (resepsi) can have a thousand guests. Guests queue to congratulate the bride and "
        "groom on the stage, drop an envelope into the box and eat from the buffet; a wedding invitation "
        "printed on card signals formality.",
    ),
    (
        "Business cards and introductions",
        "Business cards are offered with the right hand or both hands, read briefly and placed on the table. "
        "Introductions name the company first and the job title second.",
    ),
    (
        "Email and written messages",
        "Formal email opens with Yth. and the recipient's title; WhatsApp messages to a manager still begin "
        "with a greeting and an apology for disturbing. Replies may be slow during prayer times.",
    ),
    (
        "Meetings and decisions",
        "Meetings (rapat) start late and seek consensus (musyawarah); disagreement is voiced indirectly, and "
        "decisions are often settled later in private with the most senior person present.",
    ),
    (
        "Food and hospitality at home",
        "Hosts offer food and drink more than once; guests accept at least a little. Eating with the right "
        "hand, sharing rice dishes and praising the cooking are expected at home visits.",
    ),
    (
        "Gifts and souvenirs",
        "Oleh-oleh, souvenirs brought back from a trip, are shared with colleagues; gift wrapping colours "
        "matter less than the gesture, and expensive gifts can embarrass the receiver.",
    ),
    (
        "Religious holidays",
        "Lebaran (Idul Fitri) ends the fasting month: people ask forgiveness from elders, travel home (mudik) "
        "and receive holiday bonuses (THR). Christmas and Nyepi are observed by other communities.",
    ),
    (
        "Dress and appearance",
        "Batik shirts are worn on Fridays and at formal events; sleeveless tops are avoided in offices and "
        "places of worship. Shoes come off at the door of a house.",
    ),
    (
        "Money, salaries and debts",
        "Salaries are rarely discussed openly. Lending money to relatives is common and repayment is seldom "
        "demanded; arisan savings groups pool contributions monthly.",
    ),
    (
        "Humour and teasing",
        "Teasing about weight or marriage plans is common among friends and can hurt; self-deprecating jokes "
        "are safer with superiors, and sarcasm is easily misread in writing.",
    ),
    (
        "Time and punctuality",
        "Jam karet, rubber time: informal events start late, but job interviews, flights and meetings with "
        "foreign partners are expected to start on the clock.",
    ),
    (
        "Transport and commuting",
        "Commuters ride motorbike taxis (ojek) booked by app, trains and buses; traffic jams excuse lateness "
        "and carpooling with colleagues builds friendships.",
    ),
    (
        "Education and schooling",
        "Parents invest heavily in tutoring and school fees; teachers are addressed as Bu Guru or Pak Guru "
        "and graduation ceremonies are family occasions.",
    ),
    (
        "Health and illness",
        "Visiting a sick colleague in hospital (besuk) is a duty; visitors bring fruit or biscuits and pray "
        "for recovery. Traditional remedies (jamu) sit alongside doctors' advice.",
    ),
    (
        "Sports and leisure",
        "Badminton and football are the favourite sports; company futsal tournaments mix ranks, and weekend "
        "cycling groups are a place to meet managers informally.",
    ),
    (
        "Housing and neighbours",
        "Neighbourhood associations (RT and RW) organise night watches and cleaning days (kerja bakti); new "
        "residents introduce themselves to the RT head with a small gift of food.",
    ),
    (
        "Language choice",
        "Bahasa Indonesia is the office language; Javanese (Suroboyoan) is spoken among friends in Surabaya, "
        "and English words signal a multinational workplace.",
    ),
    (
        "Children and parenting",
        "Children kiss the back of an elder's hand (salim) when greeting; grandparents often care for "
        "children while both parents work.",
    ),
    (
        "Glossary",
        "- **ngopi**: going for coffee together, a way to talk things through informally (casual)\n"
        "- **sungkan**: reluctance to impose on someone of higher status (explains indirect requests)\n"
        "- **bố mẹ**: parents, in Vietnamese (the odd one out in this scope, for folding tests)",
    ),
]

SHARED = (
    "As everywhere in this community, people differ by generation, religion, region and family background, "
    "and individual preference matters; members should read these notes as a starting point and ask someone "
    "they trust when unsure. "
)


def build_scope(topics: list[tuple[str, str]] = TOPICS, pad_to: int = 2200) -> ScopeDocument:
    parts = [HEADER]
    for title, text in topics:
        body = text
        while len(body) < pad_to:
            body += "\n\n" + SHARED
        parts.append(f"\n## {title}\n\n{body}\n")
    return parse_scope("".join(parts))


@pytest.fixture(scope="module")
def scope() -> ScopeDocument:
    document = build_scope()
    assert len(document.sections) == 20
    assert len(document.source_text.encode()) >= 40_000
    return document


def titles(sections: list[ScopeSection]) -> list[str]:
    return [section.title for section in sections]


def test_funeral_question_selects_the_funeral_section_before_unrelated_ones(scope):
    question = "How should I greet my boss's father at his funeral in Surabaya?"
    by_title = {section.title: section for section in scope.sections}
    room = section_chars(by_title["Funerals and mourning"]) + section_chars(by_title["Language choice"])
    assert titles(select_sections(question, scope, room)) == ["Funerals and mourning", "Language choice"]
    # With room to spare, it is filled with other sections: the glossary first (`FILL_FIRST`), as none matches.
    chosen = titles(select_sections(question, scope, 8000))
    assert chosen == ["Funerals and mourning", "Language choice", "Glossary"]


def test_ranking_puts_the_topic_first(scope):
    ranked = rank_sections("What happens at a wedding reception? Do guests bring an envelope?", scope.sections)
    assert ranked[0].section.title == "Weddings and receptions"
    assert ranked[0].score > ranked[1].score
    assert len(ranked) == len(scope.sections)
    assert [item.score for item in ranked] == sorted((item.score for item in ranked), reverse=True)


def test_plural_and_case_do_not_matter(scope):
    first = rank_sections("FUNERALS", scope.sections)[0]
    assert first.section.title == "Funerals and mourning"


def test_glossary_term_makes_its_section_relevant_even_with_a_low_score(scope):
    # Every other word points at meetings; "ngopi" only at the glossary, which BM25 alone would rank far
    # below the cut.
    question = "Before the meeting, should decisions about the meeting agenda and meeting consensus wait for ngopi?"
    ranked = {item.section.title: item for item in rank_sections(question, scope.sections)}
    assert ranked["Glossary"].terms == ("ngopi",)
    assert ranked["Glossary"].score < 0.3 * ranked["Meetings and decisions"].score
    chosen = titles(select_sections(question, scope, 8000))
    assert "Meetings and decisions" in chosen
    assert "Glossary" in chosen


def test_without_the_bold_term_the_same_section_is_left_out(scope):
    # Not a valid glossary any more, so the sections are swapped in without the parser's checks.
    plain = tuple(replace(section, body=section.body.replace("**ngopi**:", "ngopi:")) for section in scope.sections)
    document = replace(scope, sections=plain)
    question = "Before the meeting, should decisions about the meeting agenda and meeting consensus wait for ngopi?"
    ranked = rank_sections(question, document.sections)
    relevant = [item.section for item in ranked if item.named or item.score >= RELATIVE_FLOOR * ranked[0].score]
    room = sum(map(section_chars, relevant))
    assert "Glossary" not in titles(select_sections(question, document, room))


def test_bolded_terms_in_prose_count_too():
    document = parse_scope(
        HEADER + "\n## Norms\n\n- **Jam karet.** Informal events start late.\n\n## Food\n\nRice, always rice.\n"
        "Rice at breakfast, rice at lunch, and rice at dinner; a meal without rice is a snack.\n"
    )
    ranked = rank_sections(
        "is jam karet rude? and what about rice at lunch and dinner, is rice a meal?", document.sections
    )
    by_title = {item.section.title: item for item in ranked}
    assert by_title["Norms"].terms == ("Jam karet",)
    assert "Norms" in titles(
        select_sections("is jam karet rude? and what about rice at lunch and dinner, is rice a meal?", document, 8000)
    )


def test_multi_word_terms_need_the_whole_phrase(scope):
    ranked = {item.section.title: item for item in rank_sections("My bố is strict", scope.sections)}
    assert ranked["Glossary"].terms == ()  # "bố" alone is not the term "bố mẹ"


def test_diacritics_are_folded(scope):
    ranked = {item.section.title: item for item in rank_sections("what does bo me mean", scope.sections)}
    assert ranked["Glossary"].terms == ("bố mẹ",)
    assert ranked["Glossary"].score > 0
    assert tokenize("Việt kiều, ĐÁM GIỖ") == tokenize("viet kieu, dam gio") == ["viet", "kieu", "dam", "gio"]


def test_stop_words_are_dropped_before_folding():
    # "có" (has) is a Vietnamese stop word; "cô" (aunt, teacher) is not, though both fold to "co".
    assert tokenize("có") == []
    assert tokenize("cô") == ["co"]
    assert tokenize("the and yang và") == []


def test_cjk_is_indexed_by_bigrams():
    document = parse_scope(HEADER + "\n## 敬語\n\n上司には敬語を使います。\n\n## Food\n\nRice and noodles at lunch.\n")
    ranked = rank_sections("敬語の使い方", document.sections)
    assert ranked[0].section.title == "敬語"
    assert ranked[0].score > 0
    assert ranked[1].score == 0


@pytest.mark.parametrize(
    ("sections", "question", "expected"),
    [
        (
            # Thai: the question is two clauses of no spaces ("temple fair in Chiang Mai", "how should I dress").
            [
                ("ประวัติความเป็นมา", "งานวัดเป็นประเพณีของชุมชนที่สืบทอดกันมานาน"),
                ("อาหาร", "อาหารในงานวัดมีหลายอย่าง ทั้งขนมและก๋วยเตี๋ยว"),
                ("การแต่งกาย", "ควรแต่งกายสุภาพเมื่อไปวัด ใส่เสื้อมีแขนและกระโปรงยาว"),
            ],
            "งานวัดในเชียงใหม่ ควรแต่งกายอย่างไร",
            "การแต่งกาย",
        ),
        (
            # Khmer: "what should I wear to the pagoda" against greetings and dress.
            [
                ("ការគោរព", "ការសំពះមនុស្សចាស់"),
                ("សំលៀកបំពាក់", "ពេលទៅវត្តត្រូវស្លៀកពាក់សមរម្យ"),
            ],
            "ទៅវត្តគួរស្លៀកពាក់យ៉ាងម៉េច",
            "សំលៀកបំពាក់",
        ),
    ],
)
def test_scripts_written_without_spaces_are_indexed_by_bigrams(sections, question, expected):
    text = "".join(f"\n## {title}\n\n{body}\n" for title, body in sections)
    document = parse_scope(HEADER + text)
    ranked = rank_sections(question, document.sections)
    assert ranked[0].section.title == expected and ranked[0].score > 0
    # With room for one section only, the one the question is about is chosen, not the first in order.
    room = section_chars(ranked[0].section)
    assert [section.title for section in select_sections(question, document, room)] == [expected]


def test_no_bigram_spans_a_sentence_mark_of_thai_or_khmer():
    assert "ด๚" not in tokenize("งานวัด๚ควรแต่งกาย") and "ดค" not in tokenize("งานวัด๚ควรแต่งกาย")
    assert "ត។" not in tokenize("ទៅវត្ត។ស្លៀក") and "តស" not in tokenize("ទៅវត្ត។ស្លៀក")


def test_no_match_falls_back_to_the_sections_in_order_within_the_budget(scope):
    assert all(item.score == 0 for item in rank_sections("hello", scope.sections))
    chosen = select_sections("hello", scope, 7000)
    assert chosen
    assert chosen == [section for section in scope.sections if section in chosen]
    assert chosen[0] == scope.sections[0]
    assert sum(section_chars(section) for section in chosen) <= 7000
    # Every section left out would have overrun the budget.
    room = 7000 - sum(section_chars(section) for section in chosen)
    assert all(section_chars(section) > room for section in scope.sections if section not in chosen)


@pytest.mark.parametrize("budget", [0, 100, 2300, 5000, 12_000, 100_000])
def test_budget_is_respected_and_order_preserved(scope, budget):
    question = "How do I greet elders at Lebaran and at a funeral, and what food should I bring to their home?"
    chosen = select_sections(question, scope, budget)
    assert sum(section_chars(section) for section in chosen) <= budget
    positions = [scope.sections.index(section) for section in chosen]
    assert positions == sorted(positions)


def test_cutting_to_the_budget_keeps_the_best(scope):
    question = "Funeral condolences: what do mourners bring to the funeral, and is a wedding envelope the same?"
    ranked = rank_sections(question, scope.sections)
    assert ranked[0].section.title == "Funerals and mourning"
    one = section_chars(ranked[0].section)
    assert titles(select_sections(question, scope, one)) == ["Funerals and mourning"]
    both = titles(select_sections(question, scope, one + section_chars(ranked[1].section)))
    assert both == [title for title in titles(list(scope.sections)) if title in both]  # document order
    assert set(both) == {"Funerals and mourning", ranked[1].section.title}


def test_context_weighs_less_than_the_question(scope):
    follow_up = rank_sections("and what dress is best?", scope.sections, context="my boss's father's funeral")
    top = [item.section.title for item in follow_up[:2]]
    assert "Dress and appearance" in top
    assert "Funerals and mourning" in top
    alone = {item.section.title: item.score for item in rank_sections("funeral", scope.sections)}
    as_context = {item.section.title: item.score for item in rank_sections("", scope.sections, context="funeral")}
    assert as_context["Funerals and mourning"] == pytest.approx(alone["Funerals and mourning"] / 2)
    # Terms are only taken from the question: context is what was said before, not what is asked now.
    assert all(not item.terms for item in rank_sections("what is it?", scope.sections, context="ngopi"))


def test_ties_keep_the_document_order():
    document = parse_scope(
        HEADER + "\n## First\n\nCoffee breaks.\n\n## Second\n\nCoffee breaks.\n\n## Third\n\nTea breaks.\n"
    )
    ranked = rank_sections("coffee", document.sections)
    assert [item.section.title for item in ranked] == ["First", "Second", "Third"]
    assert ranked[0].score == ranked[1].score > 0


def test_empty_scope_and_empty_question():
    assert rank_sections("anything", []) == []
    document = build_scope(TOPICS[:3])
    assert titles(select_sections("", document, 100_000)) == titles(list(document.sections))


def test_templates_shipped_with_the_bot_retrieve_sensibly():
    scopes = Path(__file__).resolve().parents[2] / "scopes"
    vietnamese = parse_scope((scopes / "vietnamese-family-households.md").read_text())
    chosen = titles(select_sections("How do I address my mother-in-law?", vietnamese, 6000))
    assert "Forms of address, formality and hierarchy" in chosen
    assert "Notes for reviewers" not in chosen
    jakarta = parse_scope((scopes / "indonesian-business-jakarta.md").read_text())
    ranked = {item.section.key: item for item in rank_sections("Apa itu sungkan?", jakarta.sections)}
    assert ranked["glossary"].terms


@pytest.mark.parametrize(
    ("question", "section"),
    [
        ("上司への敬語の使い方を教えてください", "Forms of address, formality and hierarchy"),
        ("飲み会に行かなくてもいいですか", "Norms and etiquette"),
        ("パワハラを受けたらどうすればいいですか", "Sensitive topics and how to handle them"),
    ],
)
def test_the_japanese_template_is_found_by_questions_in_japanese(question, section):
    # It was written in romaji only: a question in Japanese script shared no term with it.
    scopes = Path(__file__).resolve().parents[2] / "scopes"
    tokyo = parse_scope((scopes / "japanese-workplace-tokyo.md").read_text())
    ranked = [item.section.title for item in rank_sections(question, tokyo.sections) if item.score > 0]
    assert section in ranked


def test_ranking_a_64_kb_scope_is_fast():
    # Sections near the 4,000-character limit, 16 of them: the 64 KB maximum.
    document = build_scope(TOPICS[:16], pad_to=3700)
    assert len(document.source_text.encode()) > 60_000
    question = "How should I greet my boss's father at his funeral in Surabaya?"
    started = time.perf_counter()
    rank_sections(question, document.sections)  # builds and memoises the index
    cold = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(20):
        rank_sections(question, document.sections)
    warm = (time.perf_counter() - started) / 20
    # Generous bounds so a busy machine does not fail the suite; typical figures are far lower.
    assert warm < 0.005 * 5
    assert cold < 0.5


def test_section_cost_is_what_the_prompt_renders_without_editor_comments():
    document = parse_scope(
        HEADER + "\n## Norms\n\n<!-- A long note for reviewers that the model never sees. -->\nGreet elders first.\n"
    )
    section = document.sections[0]
    assert section_chars(section) == len(f"\n\n## {section.title}\n{section.prose}")
    assert "reviewers" not in section.prose
    assert section_chars(section) < len(section.title) + len(section.body)
    # Comments are not searched either.
    assert rank_sections("reviewers", document.sections)[0].score == 0


@pytest.mark.parametrize(
    ("template", "question"),
    [
        (
            "vietnamese-family-households",
            "My husband hits me when his mother says I disrespect her. Is this normal in Vietnamese families?",
        ),
        ("vietnamese-family-households", "How do I tell my parents I'm gay?"),
        ("indonesian-business-jakarta", "Can I ask a colleague how much she earns?"),
    ],
)
def test_the_communitys_sensitive_topic_rules_and_variation_reach_every_prompt(template, question):
    """A question about abuse or coming out rarely shares words with the rule the community wrote for it."""
    scopes = Path(__file__).resolve().parents[2] / "scopes"
    document = parse_scope((scopes / f"{template}.md").read_text())
    chosen = [section.key for section in select_sections(question, document, 8000)]
    assert "sensitive-topics" in chosen and "variation" in chosen
    assert "notes-for-reviewers" not in chosen
    # Budget first: with room for one of them, the sensitive-topics rules.
    [rules] = [section for section in document.sections if section.key == "sensitive-topics"]
    tight = select_sections(question, document, section_chars(rules))
    assert [section.key for section in tight] == ["sensitive-topics"]


def test_a_general_question_gets_no_notes_for_reviewers():
    scopes = Path(__file__).resolve().parents[2] / "scopes"
    document = parse_scope((scopes / "vietnamese-family-households.md").read_text())
    chosen = [section.key for section in select_sections("Qwerty zxcv?", document, 100_000)]  # matches nothing
    assert "notes-for-reviewers" not in chosen and "context-and-history" in chosen


def test_notes_for_reviewers_never_reach_the_prompt_even_when_their_words_match():
    from bot.scopes.templates import load_template

    tokyo = load_template("japanese-workplace-tokyo")
    question = "What are Tokyo offices really like for foreigners? Is it rude to leave the office before my boss?"
    assert "notes-for-reviewers" in {section.key for section in tokyo.sections}
    assert "notes-for-reviewers" not in {section.key for section in select_sections(question, tokyo, 100_000)}


def test_a_question_in_the_communitys_own_language_still_gets_the_sections_it_needs():
    """The scope is written mostly in English: an Indonesian question matches a few local words, and the budget left
    is filled with the other sections rather than left empty (here the norms, on eating while others fast)."""
    from bot.scopes.templates import load_template

    jakarta = load_template("indonesian-business-jakarta")
    question = "Atasan saya mengajak makan siang bersama tim, tapi saya sedang puasa. Gimana sebaiknya?"
    assert "Norms and etiquette" in titles(select_sections(question, jakarta, 8000))
