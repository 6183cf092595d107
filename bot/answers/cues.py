"""Cues from the member's own words: the rules pass of cue extraction.

Thick answers follow what the member said about their situation: their language, who they will talk to
(and so the relationship), the setting, the formality they want, and any cultural identifiers they named.
This module finds those cues with word lists and a few patterns. They are heuristics, and deliberately
modest: small lists in English, Indonesian and Vietnamese (with a few Malay words, and Vietnamese typed
without diacritics), so a cue is often missed and occasionally wrong, and nothing is guessed from too
little text. What was *not* stated is reported too, so the model knows when to ask instead of assuming; in
a language the lists do not cover, nothing is reported as not stated, since the lists could not have seen it.
An optional model pass with structured output can refine these; it lives elsewhere.

Every value in a `Cues` comes from the lists below (canonical labels, or the listed relation words the
member used), never free text from the message, so `to_prompt` cannot carry a member's instructions into
the system prompt.

Lists are written as comma-separated strings to keep them compact and easy to review.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


def _items(text: str) -> tuple[str, ...]:
    """`"a, b c, d"` → `("a", "b c", "d")`, in NFC as the messages they are matched against."""
    return tuple(unicodedata.normalize("NFC", item.strip()) for item in text.split(",") if item.strip())


# ---------------------------------------------------------------------------------------------------------
# Language

# (tag, first code point, last code point) of scripts that identify a language, or nearly: Arabic script
# may be Persian or Urdu and Cyrillic may be Ukrainian or Serbian, refined by their distinctive letters.
_SCRIPT_RANGES: tuple[tuple[str, int, int], ...] = (
    ("ko", 0x1100, 0x11FF),
    ("ko", 0x3130, 0x318F),
    ("ko", 0xAC00, 0xD7AF),
    ("kana", 0x3040, 0x30FF),
    ("kana", 0xFF66, 0xFF9F),
    ("han", 0x3400, 0x4DBF),
    ("han", 0x4E00, 0x9FFF),
    ("han", 0xF900, 0xFAFF),
    ("th", 0x0E00, 0x0E7F),
    ("lo", 0x0E80, 0x0EFF),
    ("km", 0x1780, 0x17FF),
    ("my", 0x1000, 0x109F),
    ("ar", 0x0600, 0x06FF),
    ("ar", 0x0750, 0x077F),
    ("he", 0x0590, 0x05FF),
    ("ru", 0x0400, 0x04FF),
    ("el", 0x0370, 0x03FF),
    ("hi", 0x0900, 0x097F),
    ("bn", 0x0980, 0x09FF),
    ("pa", 0x0A00, 0x0A7F),
    ("gu", 0x0A80, 0x0AFF),
    ("ta", 0x0B80, 0x0BFF),
    ("te", 0x0C00, 0x0C7F),
    ("kn", 0x0C80, 0x0CFF),
    ("ml", 0x0D00, 0x0D7F),
    ("si", 0x0D80, 0x0DFF),
    ("ka", 0x10A0, 0x10FF),
    ("hy", 0x0530, 0x058F),
    ("am", 0x1200, 0x137F),
)
_PERSIAN_LETTERS = frozenset("پچژگ")
_URDU_LETTERS = frozenset("ٹڈڑںے")
_UKRAINIAN_LETTERS = frozenset("іїєґ")
_SERBIAN_LETTERS = frozenset("ђјљњћџ")
# Latin letters of Vietnamese: ă ơ ư đ, and the vowels with tone marks (U+1EA0 to U+1EF9). Yoruba and Igbo
# write ẹ ọ ị ụ too, so those four count only beside a letter no other language uses; and Yoruba's ṣ, or a
# tone mark NFC leaves apart (ọ̀, ẹ́: Vietnamese has a precomposed letter for each of its own), rules it out.
_VIETNAMESE_LETTERS = frozenset("ăơưđ") | frozenset(chr(code) for code in range(0x1EA0, 0x1EFA))
_DOTTED_VOWELS = frozenset("ẹọịụ")
_ONLY_VIETNAMESE_LETTERS = _VIETNAMESE_LETTERS - _DOTTED_VOWELS
_NOT_VIETNAMESE_SIGNS = frozenset("ṣ\u0300\u0301\u0304")

# Function words that vote for a Latin-script language (case-folded, with their diacritics); a word listed
# under several languages splits its vote. Vietnamese is also listed without diacritics, as typed without
# a Vietnamese keyboard, but only in forms that are not common words of the other languages.
LANGUAGE_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset(
        _items(
            "the, and, is, are, to, of, my, i, how, what, should, do, does, can, with, for, you, it, this, that, "
            "in, at, a, an, his, her, their, when, why, not, be, would, will, was, have, has, me, our, your, we, "
            "they, she, he, on, about, from, or, if, there, which, who"
        )
    ),
    "id": frozenset(
        _items(
            "yang, dan, di, ke, dari, ini, itu, untuk, dengan, saya, aku, apa, bagaimana, gimana, tidak, nggak, "
            "gak, enggak, ada, akan, bisa, harus, atau, juga, kalau, sudah, udah, mau, ya, dong, sih, kok, kamu, "
            "kami, kita, mereka, kenapa, mengapa, tolong, cara, sebaiknya, boleh, pada, dalam, agar, supaya, "
            "karena, tapi, tetapi, belum, lagi, sama, jadi, buat, gue, lo, bagaimanakah"
        )
    ),
    "ms": frozenset(
        _items(
            "yang, dan, di, ke, dari, ini, itu, untuk, dengan, saya, aku, apa, bagaimana, tidak, ada, akan, "
            "boleh, atau, juga, kalau, sudah, kami, kita, mereka, kenapa, pada, dalam, agar, tapi, belum, lagi, "
            "jadi, tak, nak, awak, kerana, sahaja, mahu, ialah, hendak, bagaimanakah, macam, mana, ni, camne, pasal"
        )
    ),
    "vi": frozenset(
        _items(
            "là, của, và, có, cho, những, các, một, thì, không, được, này, đó, với, để, trong, khi, nào, gì, "
            "như, làm, sao, thế, mà, nhưng, rất, cũng, đã, đang, sẽ, ở, tôi, mình, em, anh, chị, ạ, nhé, ơi, "
            "người, bạn, vậy, nên, phải, "
            "khong, duoc, nhung, cua, voi, nao, toi, minh, nguoi, nhe, vay, roi, chua, cung, nhu, phai"
        )
    ),
    "es": frozenset(
        _items(
            "el, la, los, las, de, que, y, en, es, por, con, una, un, a, para, como, cómo, qué, mi, mis, su, "
            "está, son, pero, se, lo, le, del, al, muy, hay, yo, usted, tú"
        )
    ),
    "pt": frozenset(
        _items(
            "o, a, os, as, de, do, da, dos, das, que, e, é, não, em, um, uma, para, com, como, meu, minha, você, "
            "por, se, mais, mas, ao, no, na"
        )
    ),
    "fr": frozenset(
        _items(
            "le, la, les, de, des, du, et, est, je, vous, tu, une, un, a, pour, avec, dans, pas, ne, que, qui, "
            "comment, mon, ma, mes, sur, ce, cette, il, elle, au, aux, suis"
        )
    ),
    "de": frozenset(
        _items(
            "der, die, das, und, ist, ich, nicht, mit, wie, ein, eine, zu, mein, meine, meinem, meiner, sie, "
            "den, dem, auf, für, es, sich, auch, was, soll, sollte, kann, bei, oder, aber, in"
        )
    ),
    "nl": frozenset(
        _items(
            "de, het, een, en, ik, niet, met, van, hoe, mijn, is, zijn, voor, op, wat, je, dat, die, er, te, "
            "aan, ook, maar, moet, kan, in"
        )
    ),
    "it": frozenset(
        _items("il, lo, gli, di, che, e, è, non, per, con, un, una, a, come, mio, mia, sono, ho, della, del")
    ),
    "tl": frozenset(
        _items(
            "ang, ng, mga, sa, ko, ba, po, naman, hindi, ako, siya, ito, paano, kasi, na, ay, ano, bakit, niya, "
            "lang, din, rin, yung, kung, opo"
        )
    ),
    "yo": frozenset(
        _items(
            "ni, ní, ti, tí, sí, sì, mo, wa, fún, àti, pé, ṣe, ṣé, bí, kí, àwọn, wọn, rẹ, láti, kò, jẹ́, náà, yìí, "
            "báwo, tàbí, ẹ, ó, lè, mi, ń, fẹ́, gbọ́dọ̀, "
            # Typed without tone marks, as on most keyboards ("fun" and "je" are left out: English, French).
            "bawo, ati, awon, lati, naa, yii, tabi, gbodo, ki, bi"
        )
    ),
    # Javanese, ngoko and krama (words Indonesian shares, such as "aku", are left out).
    "jv": frozenset(
        _items(
            "piye, kepiye, carane, marang, nalika, karo, ora, kowe, panjenengan, kula, dhateng, ingkang, menawi, "
            "mboten, boten, sampun, wis, arep, badhe, neng, ning, saka, iki, kuwi, niki, niku, kanggo, amarga, "
            "nek, opo, ugi, lan"
        )
    ),
}
# Each listed word → the languages listing it, in LANGUAGE_WORDS' order: one look-up per word of a message.
_LANGUAGES_OF_WORD: dict[str, tuple[str, ...]] = {
    word: tuple(language for language, listed in LANGUAGE_WORDS.items() if word in listed)
    for word in set().union(*LANGUAGE_WORDS.values())
}
# Close relatives that share most function words: one's votes do not make the other unsure, and a tie goes
# to the first listed.
_LANGUAGE_FAMILIES: tuple[tuple[str, ...], ...] = (("id", "ms"),)
# Fewer words than this are not enough to guess a Latin-script language ("ok thanks", "noted, will do").
MIN_WORDS_FOR_LANGUAGE = 3
# The winner needs this many votes, and twice the votes of any other language (outside its family).
MIN_LANGUAGE_VOTES = 1.5

# Words, with the combining marks NFC leaves on their letters (Yoruba's ọ̀): those are not word characters.
_WORDS = re.compile(r"[^\W\d_](?:[^\W\d_]|[\u0300-\u036f])*")


_FIRST_LISTED_SCRIPT = min(first for _, first, _ in _SCRIPT_RANGES)
_FIRST_LISTED_CHAR = chr(_FIRST_LISTED_SCRIPT)


def _script_of(char: str) -> str | None:
    code = ord(char)
    if code < _FIRST_LISTED_SCRIPT:
        return None  # Latin and other letters below Greek: most of what members write
    for tag, first, last in _SCRIPT_RANGES:
        if first <= code <= last:
            return tag
    return None


def _script_language(text: str) -> str | None:
    if text.isascii() or max(text) < _FIRST_LISTED_CHAR:
        return None  # no letter of a listed script (most messages): skip the count, character by character
    counts: Counter[str] = Counter()
    other = 0  # Latin letters, and letters of scripts not listed
    for char in text:
        if char.isalpha():
            script = _script_of(char)
            if script is None:
                other += 1
            else:
                counts[script] += 1
    kana, han = counts.pop("kana", 0), counts.pop("han", 0)
    if kana:
        counts["ja"] = kana + han  # Japanese mixes kana and kanji; kana alone marks it
    elif han:
        counts["zh"] = han
    if not counts:
        return None
    script, count = counts.most_common(1)[0]
    # One Han, kana or Hangul character carries about as much as a short Latin word.
    weight = 3 if script in ("ja", "zh", "ko") else 1
    if count < 2 or count * weight < other:
        return None
    letters = set(text)
    if script == "ar":
        return "ur" if letters & _URDU_LETTERS else "fa" if letters & _PERSIAN_LETTERS else "ar"
    if script == "ru":
        return "uk" if letters & _UKRAINIAN_LETTERS else "sr" if letters & _SERBIAN_LETTERS else "ru"
    return script


def _vietnamese_marked(words: Sequence[str]) -> int:
    """How many of `words` carry Vietnamese letters (see `_VIETNAMESE_LETTERS` for the dotted vowels)."""
    if any(_NOT_VIETNAMESE_SIGNS.intersection(word) for word in words):
        return 0
    if not any(_ONLY_VIETNAMESE_LETTERS.intersection(word) for word in words):
        return 0
    return sum(1 for word in words if _VIETNAMESE_LETTERS.intersection(word))


def _latin_language(words: Sequence[str]) -> str | None:
    if len(words) < MIN_WORDS_FOR_LANGUAGE:
        return None
    # Tone marks on a good share of the words are Vietnamese; one "Tết" in an English sentence is not.
    if _vietnamese_marked(words) >= max(2, 0.3 * len(words)):
        return "vi"
    votes = _word_votes(words)
    if not votes:
        return None
    best = max(votes, key=lambda language: votes[language])
    family = next((members for members in _LANGUAGE_FAMILIES if best in members), (best,))
    best = max(family, key=lambda member: (votes[member], -family.index(member)))
    rival = max((count for language, count in votes.items() if language not in family), default=0.0)
    if votes[best] < MIN_LANGUAGE_VOTES or votes[best] < 2 * rival:
        return None
    return best


def _word_votes(words: Iterable[str]) -> defaultdict[str, float]:
    """Each language's votes: a listed function word gives one, shared among the languages listing it."""
    votes: defaultdict[str, float] = defaultdict(float)
    for word in words:
        languages = _LANGUAGES_OF_WORD.get(word, ())
        for language in languages:
            votes[language] += 1 / len(languages)
    return votes


def _words_of(text: str) -> list[str]:
    """The words of `text` as the function-word lists are written: composed (NFC) and case-folded."""
    return _WORDS.findall(unicodedata.normalize("NFC", text).casefold())


def detect_language(text: str) -> str | None:
    """A language tag for `text`, by script and then by function-word votes; None when unsure."""
    text = unicodedata.normalize("NFC", text)
    return _script_language(text) or _latin_language(_words_of(text))


# ---------------------------------------------------------------------------------------------------------
# Who the member will talk to, and the relationship

# Relationship → language → relation words. Plurals are listed where people use them. Vietnamese kin terms
# that double as everyday pronouns ("anh", "em", "con", "cháu", "cô", "chú", "bác") are left out.
ADDRESSEES: dict[str, dict[str, tuple[str, ...]]] = {
    "senior": {
        "en": _items(
            "boss, manager, supervisor, director, ceo, superior, senior colleague, team lead, team leader, "
            "department head, head of department, employer, professor, lecturer, teacher, principal, elder, "
            "elders, older relatives, priest, imam, pastor, monk"
        ),
        "id": _items(
            "atasan, bos, manajer, direktur, pimpinan, kepala bagian, kepala divisi, dosen, guru, ustaz, ustadz, "
            "pendeta, romo, kyai, kiai, sesepuh, orang yang lebih tua"
        ),
        "vi": _items(
            "sếp, giám đốc, trưởng phòng, cấp trên, thầy giáo, cô giáo, thầy cô, giáo viên, người lớn tuổi, "
            "tiền bối, linh mục, cha xứ, sư thầy, giam doc, truong phong"
        ),
    },
    "junior": {
        "en": _items(
            "subordinate, subordinates, intern, junior colleague, juniors, staff, employee, employees, student, "
            "students, mentee, driver, maid, housekeeper, nanny"
        ),
        "id": _items(
            "bawahan, anak buah, staf, karyawan, pegawai, anak magang, sopir, supir, pembantu, "
            "asisten rumah tangga, murid, siswa, mahasiswa"
        ),
        "vi": _items("nhân viên, cấp dưới, học sinh, sinh viên, thực tập sinh"),
    },
    "peer": {
        "en": _items(
            "colleague, colleagues, coworker, coworkers, co-worker, co-workers, teammate, teammates, classmate, "
            "classmates, friend, friends, roommate, flatmate, neighbour, neighbor, neighbours, neighbors"
        ),
        "id": _items("rekan kerja, rekan, kolega, teman kerja, teman kantor, teman, kawan, sahabat, tetangga"),
        "vi": _items("đồng nghiệp, bạn bè, bạn thân, bạn cùng lớp, bạn cùng phòng, hàng xóm, dong nghiep, hang xom"),
    },
    "family": {
        "en": _items(
            "mother, mom, mum, mama, father, dad, papa, parents, mother-in-law, father-in-law, in-laws, "
            "parents-in-law, sister-in-law, brother-in-law, daughter-in-law, son-in-law, grandmother, grandma, "
            "grandfather, grandpa, grandparents, uncle, aunt, auntie, cousin, cousins, brother, sister, "
            "siblings, son, daughter, child, children, kids, nephew, niece, relatives, family, husband, wife, "
            "spouse"
        ),
        "id": _items(
            "ibu mertua, bapak mertua, ayah mertua, mertua, calon mertua, orang tua, orangtua, ortu, ibu saya, "
            "ibuku, mama saya, ayah, ayahku, bapak saya, bapakku, kakek, nenek, paman, bibi, tante, kakak, adik, "
            "sepupu, keponakan, anak saya, anakku, suami, istri, keluarga, saudara, ipar, kakak ipar, "
            "adik ipar, menantu, besan"
        ),
        "vi": _items(
            "bố mẹ, ba mẹ, cha mẹ, ba má, bố, mẹ, ông bà, ông nội, bà nội, ông ngoại, bà ngoại, mẹ chồng, "
            "bố chồng, mẹ vợ, bố vợ, nhà chồng, nhà vợ, bố mẹ chồng, bố mẹ vợ, chồng, vợ, anh trai, chị gái, "
            "em trai, em gái, con trai, con gái, con dâu, con rể, họ hàng, gia đình, "
            "bo me, ba me, cha me, ong ba, me chong, bo chong, me vo, bo vo, ho hang"
        ),
    },
    "romantic": {
        "en": _items("boyfriend, girlfriend, partner, fiancé, fiancée, fiance, fiancee, crush"),
        "id": _items("pacar, tunangan, calon suami, calon istri, gebetan"),
        "vi": _items("người yêu, bạn trai, bạn gái, nguoi yeu, ban trai, ban gai"),
    },
    "customer": {
        "en": _items("client, clients, customer, customers"),
        "id": _items("klien, pelanggan"),
        "vi": _items("khách hàng, khach hang"),
    },
    "business": {
        "en": _items("vendor, supplier, business partner, investor"),
        "id": _items("mitra bisnis, mitra, rekanan, pemasok"),
        "vi": _items("đối tác"),
    },
    "host": {"en": _items("host, hosts, host family"), "id": _items("tuan rumah"), "vi": _items("chủ nhà")},
    "guest": {"en": _items("guest, guests"), "id": _items("tamu"), "vi": _items("khách")},
    "stranger": {
        "en": _items("stranger, strangers, acquaintance"),
        "id": _items("orang asing"),
        "vi": _items("người lạ"),
    },
}
RELATIONSHIPS: tuple[str, ...] = tuple(ADDRESSEES)
# Kin a generation or more above the speaker: "my friend's mother" is someone senior to them.
_ELDER_KIN = frozenset(
    _items(
        "mother, mom, mum, mama, father, dad, papa, parents, grandmother, grandma, grandfather, grandpa, "
        "grandparents, uncle, aunt, auntie, elder, elders, ayah, kakek, nenek, paman, bibi, tante, orang tua, "
        "orangtua, ortu, bố, mẹ, bố mẹ, ba mẹ, cha mẹ, ba má, ông bà, bo me, ba me, cha me, ong ba"
    )
)
# Verbs of speaking, writing, greeting or meeting: relation words right after one ("tell my boss") name
# who the member will talk to, rather than someone they talk about. English verbs also count in their -ing
# form ("I'm emailing my boss"); past and third-person forms do not, as their subject is often someone
# else ("my boss told my colleague").
_ADDRESSING_EN = _items(
    "tell, ask, greet, address, call, talk to, talk with, speak to, speak with, say to, write to, email, "
    "message, text, reply to, respond to, thank, apologise to, apologize to, invite, refuse, decline, meet, "
    "visit, give, bring, congratulate, console, comfort, convince, explain to, approach"
)
_ADDRESSING = _ADDRESSING_EN + _items(
    "bilang ke, bilang sama, ngomong ke, ngomong sama, bicara dengan, berbicara dengan, menyapa, sapa, "
    "memanggil, panggil, minta, meminta, kasih tahu, memberi tahu, memberitahu, menolak, mengundang, bertemu, "
    "ketemu, menemui, mengunjungi, kirim, kepada, "
    "nói với, chào, gọi, hỏi, xưng hô với, mời, cảm ơn, nhắn, gửi, gặp, thăm, từ chối, thưa"
)


def _ing_form(verb: str) -> str:
    """The -ing form: "write to" → "writing to", "meet" → "meeting"."""
    head, space, rest = verb.partition(" ")
    stem = head[:-1] if head.endswith("e") and not head.endswith("ee") else head
    return f"{stem}ing{space}{rest}"


# Words that, right before a relation word, say it is not the one meant: "not my boss, my colleague".
_NEGATED = re.compile(
    r"(?<!\w)(?:not(?!\s+(?:only|just)\b)|bukan(?!\s+(?:hanya|cuma|saja)\b)|không phải|khong phai)"
    r"(?:\s+(?:to|for|with|about|my|our|his|her|their|the|a|an|your|saya|kami|ku|là|cho|với))*\s+$"
)
# Right after a relation word, a verb of saying: "my husband says…" quotes them; they are not the addressee.
_QUOTED = re.compile(
    r"(?:\s+(?:saya|aku|tôi|mình|em))?\s+(?:says|said|thinks|told me|tells me|suggests|suggested|insists|"
    r"wants me|keeps telling me|bilang|kata|bảo|nói|khuyên)(?!\w)"
)

# ---------------------------------------------------------------------------------------------------------
# Setting, formality, identifiers

# Label → phrases, in order of priority: when several match, the occasion wins over the medium and the
# medium over the general place ("an email to my boss about Lebaran" is about Lebaran). Words with a
# common unrelated sense ("wake", "chat", "solo") are left out.
SETTINGS: dict[str, tuple[str, ...]] = {
    "funeral": _items(
        "funeral, funerals, burial, memorial, condolence, condolences, mourning, passed away, "
        "pemakaman, melayat, layat, takziah, berduka, dukacita, duka cita, ucapan duka, tahlilan, meninggal, "
        "đám tang, đám ma, tang lễ, viếng, chia buồn, phúng viếng, qua đời, dam tang, dam ma"
    ),
    "death anniversary": _items("death anniversary, đám giỗ, ngày giỗ, giỗ, dam gio, nyadran"),
    "wedding": _items(
        "wedding, weddings, wedding reception, engagement, engagement ceremony, "
        "pernikahan, nikahan, kondangan, resepsi, lamaran, akad nikah, "
        "đám cưới, lễ cưới, đám hỏi, ăn hỏi, dam cuoi"
    ),
    "religious service": _items(
        "church, mass, mosque, friday prayers, temple, pagoda, prayer meeting, "
        "masjid, gereja, pengajian, sholat jumat, salat jumat, kebaktian, misa, vihara, klenteng, "
        "nhà thờ, chùa, đi lễ, thánh lễ"
    ),
    "holiday: Lebaran": _items("lebaran, idul fitri, idulfitri, eid, eid al-fitr, hari raya, halal bihalal, mudik"),
    "holiday: Ramadan": _items("ramadan, ramadhan, buka puasa, bukber, iftar, puasa"),
    "holiday: Tết": _items("tết, tet, lunar new year, tết nguyên đán, tet nguyen dan"),
    "holiday: Chinese New Year": _items("chinese new year, imlek, gong xi fa cai"),
    "holiday: Christmas": _items("christmas, natal, giáng sinh"),
    "holiday: mid-autumn": _items("mid-autumn, trung thu, moon festival"),
    "naming ceremony": _items("naming ceremony, aqiqah, akikah"),
    "birthday": _items("birthday, ulang tahun, sinh nhật"),
    "family meal": _items(
        "family dinner, family meal, family lunch, makan malam keluarga, makan bersama keluarga, "
        "bữa cơm gia đình, bữa cơm, ăn cơm"
    ),
    # Becomes "family meal" when the message is about family.
    "meal": _items("dinner, lunch, breakfast, meal, makan malam, makan siang, nomikai, drinks"),
    "job interview": _items("job interview, interview, wawancara, wawancara kerja, phỏng vấn"),
    "meeting": _items("meeting, meetings, rapat, pertemuan, cuộc họp, họp, presentation, presentasi"),
    "email": _items("email, e-mail, emails, emailing, surel, thư điện tử"),
    "letter": _items("letter, surat, thư tay"),
    "phone call": _items("phone call, on the phone, video call, telepon, nelpon, gọi điện"),
    "online chat": _items(
        "whatsapp, group chat, text message, texting, slack, telegram, zalo, messenger, dm, grup wa, wa group, nhắn tin"
    ),
    "home visit": _items(
        "their house, his house, her house, their home, bertamu, berkunjung, silaturahmi, đến nhà, đến chơi nhà"
    ),
    "school": _items("school, class, classroom, university, campus, sekolah, kampus, kelas, trường, lớp học"),
    "workplace": _items(
        "office, workplace, at work, company, kantor, tempat kerja, perusahaan, công ty, văn phòng, cơ quan, chỗ làm"
    ),
}

# Formality the member asked for. "Not too formal", "no need to be formal" and their kin are checked first.
_NOT_FORMAL = (
    r"(?:not|less|without being|(?:don't|do not) want to (?:sound|be)|no need to be|needn't be|need not be|"
    r"(?:don't|do not|doesn't|does not|won't|will not) (?:have|need) to be) "
    r"(?:too |so |very |overly |that |all that )?(?:formal|stiff)",
    r"(?:tidak|nggak|gak|enggak|ngga|ga|jangan|tak) (?:usah |perlu )?(?:terlalu )?(?:formal|kaku|resmi)",
    r"(?:không|khong) (?:cần |can )?(?:quá |qua )?(?:trang trọng|khách sáo|trang trong|khach sao)",
)
# A register word inside a yes-no question ("is it polite to…", "apakah sopan…", "có lịch sự không") asks
# about a practice; it does not ask for a register.
_ASKING_BEFORE = re.compile(
    r"(?<!\w)(?:(?:is|was|isn't|are|would|will|wouldn't)\s+(?:it|that|this|they|these|those)"
    r"(?:\s+(?:be|still|considered|seen as|really|very))*|apakah(?:\s+(?:itu|ini))?|có)\s+$"
)
_ASKING_AFTER = re.compile(r"\s+(?:nggak|gak|enggak|ngga|tidak|không|khong)(?:\s*\?|\s+(?:kalau|kalo|nếu|khi))")
FORMALITY: dict[str, tuple[str, ...]] = {
    "informal": _items(
        "casual, casually, informal, informally, relaxed, laid-back, santai, gaul, akrab, nonformal, "
        "thân mật, thoải mái"
    ),
    "formal": _items(
        "formal, formally, polite, politely, respectful, respectfully, professional, professionally, "
        "honorific, honorifics, keigo, sopan, resmi, hormat, halus, krama, "
        "lịch sự, trang trọng, lễ phép, kính trọng, lich su, le phep"
    ),
}

# Canonical identifier → phrases: ethnic, regional, religious, diaspora and nationality words. A group
# word right after "in", "speak", "bahasa" or "tiếng" names a language, not a group, and is skipped.
IDENTIFIERS: dict[str, tuple[str, ...]] = {
    # Indonesia
    "Javanese": _items("javanese, orang jawa, suku jawa, jawa"),
    "Sundanese": _items("sundanese, orang sunda, suku sunda, sunda"),
    "Batak": _items("batak, orang batak"),
    "Minangkabau": _items("minangkabau, minang, orang padang"),
    "Betawi": _items("betawi"),
    "Balinese": _items("balinese, orang bali"),
    "Bugis": _items("bugis"),
    "Madurese": _items("madurese, orang madura"),
    "Acehnese": _items("acehnese, orang aceh"),
    "Chinese Indonesian": _items("chinese indonesian, chinese-indonesian, tionghoa, peranakan, chindo"),
    # Chinese communities of South-East Asia
    "Hokkien": _items("hokkien"),
    "Hakka": _items("hakka"),
    "Cantonese": _items("cantonese"),
    "Teochew": _items("teochew"),
    # Vietnam
    # Bare "kinh" and "chăm" are mostly other words (kinh nghiệm, kinh doanh, thần kinh; chăm sóc, chăm chỉ).
    "Kinh": _items(
        "người kinh, dân tộc kinh, nguoi kinh, dan toc kinh, ethnic kinh, kinh people, kinh majority, "
        "kinh family, kinh families, kinh vietnamese, kinh community, i'm kinh, i am kinh, we're kinh, "
        "we are kinh, are kinh, is kinh"
    ),
    "Hmong": _items("hmong"),
    "Khmer": _items("khmer"),
    "Cham": _items(
        "người chăm, dân tộc chăm, nguoi cham, ethnic cham, cham people, chăm people, cham community, cham muslim, "
        "cham muslims, i'm cham, i am cham, we are cham, are cham, is cham"
    ),
    "Northern Vietnamese": _items(
        "northern vietnamese, north vietnamese, northern vietnam, người bắc, miền bắc, nguoi bac, mien bac"
    ),
    "Central Vietnamese": _items("central vietnamese, central vietnam, miền trung, mien trung"),
    "Southern Vietnamese": _items(
        "southern vietnamese, south vietnamese, southern vietnam, người nam, miền nam, mien nam"
    ),
    "Viet Kieu": _items("việt kiều, viet kieu"),
    # Nigeria
    "Yoruba": _items("yoruba, yorùbá"),
    "Igbo": _items("igbo"),
    "Hausa": _items("hausa"),
    # Religion
    "Muslim": _items("muslim, muslims, moslem, islamic, muslimah, nahdlatul ulama, muhammadiyah"),
    "Catholic": _items("catholic, katolik, công giáo, cong giao"),
    "Protestant": _items("protestant, kristen protestan, tin lành, tin lanh, pentecostal, anglican"),
    "Christian": _items("christian, kristen, kristiani"),
    "Buddhist": _items("buddhist, buddhism, phật tử, phật giáo, phat giao"),
    "Hindu": _items("hindu"),
    "Confucian": _items("confucian, konghucu, khổng giáo"),
    "Cao Đài": _items("cao đài, cao dai"),
    "Jewish": _items("jewish"),
    "Sikh": _items("sikh"),
    "Kejawen": _items("kejawen"),
    # Diaspora and nationality
    # Being abroad for a while is not diaspora ("studying abroad"); growing up or living there is. "Overseas"
    # before an origin ("overseas Chinese") is matched by `_ORIGIN_ABROAD`.
    "diaspora": _items(
        "diaspora, grew up abroad, raised abroad, born abroad, live abroad, lives abroad, living abroad, "
        "lived abroad, moved abroad, grew up overseas, raised overseas, born overseas, live overseas, "
        "lives overseas, living overseas, perantau, merantau, tinggal di luar negeri, besar di luar negeri, "
        "sống ở nước ngoài, định cư ở nước ngoài, lớn lên ở nước ngoài, hải ngoại, second generation, "
        "second-generation"
    ),
    "Indonesian": _items("indonesian, orang indonesia"),
    "Vietnamese": _items("vietnamese, người việt"),
    "Japanese": _items("japanese, orang jepang"),
    "Nigerian": _items("nigerian"),
    "Chinese": _items("chinese"),
    "Korean": _items("korean"),
    "Filipino": _items("filipino, filipina"),
    "Malaysian": _items("malaysian"),
    "Malay": _items("malay, melayu"),
}
# Places of the template scopes' communities ("in Hanoi", "di Surabaya").
PLACES: dict[str, tuple[str, ...]] = {
    "Jakarta": _items("jakarta"),
    "Surabaya": _items("surabaya"),
    "Bandung": _items("bandung"),
    "Medan": _items("medan"),
    "Yogyakarta": _items("yogyakarta, jogja, jogjakarta, yogya"),
    "Semarang": _items("semarang"),
    "Makassar": _items("makassar"),
    "Bali": _items("bali"),
    "Surakarta": _items("surakarta"),
    "Hanoi": _items("hanoi, hà nội, ha noi"),
    "Ho Chi Minh City": _items("ho chi minh city, hcmc, saigon, sài gòn, sai gon, thành phố hồ chí minh"),
    "Huế": _items("huế"),
    "Da Nang": _items("da nang, đà nẵng, danang"),
    "Lagos": _items("lagos"),
    "Ibadan": _items("ibadan"),
    "Tokyo": _items("tokyo"),
    "Osaka": _items("osaka"),
    "Kansai": _items("kansai"),
}
# "Chinese New Year" is a holiday and "a Chinese restaurant" a cuisine, not identifiers; "người Kinh doanh"
# is a businessman and "người chăm sóc" a carer.
_NOT_A_PERSON = (
    r"\s+(?:food|foods|restaurant|restaurants|cuisine|dish|dishes|takeaway|takeout|class|classes|lesson|lessons)"
)
_NOT_FOLLOWED_BY = {
    **{
        label: re.compile(_NOT_A_PERSON + r"(?!\w)")
        for label in ("Indonesian", "Vietnamese", "Japanese", "Nigerian", "Korean", "Filipino", "Malaysian", "Malay")
    },
    "Chinese": re.compile(rf"(?:\s+new\s+year|{_NOT_A_PERSON})(?!\w)"),
    "Kinh": re.compile(r"\s+(?:doanh|tế|nghiệm|điển|thánh|phí|khủng|hoàng|ngạc|dị|tởm|nguyệt|te|nghiem)(?!\w)"),
    "Cham": re.compile(r"\s+(?:sóc|soc|chỉ|chi|lo|bẵm|chút|chut)(?!\w)"),
}
# "Vietnamese-American", "Indonesian-Australian": an origin and a country of residence (and so diaspora).
_ORIGINS = _items("vietnamese, indonesian, chinese, japanese, korean, nigerian, filipino, indian, malaysian, thai")
_RESIDENCES = _items("american, australian, canadian, british, german, french, dutch")

# ---------------------------------------------------------------------------------------------------------
# Matching


def _key(phrase: str) -> str:
    """Spaces and hyphens are interchangeable in phrases: "mother in law" is "mother-in-law"."""
    return " ".join(re.split(r"[\s-]+", phrase.strip()))


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFC", text).casefold()
    return text.replace("\u2019", "'").replace("\u02bc", "'")


def _phrase_pattern(phrase: str) -> str:
    return r"[\s-]+".join(re.escape(part) for part in _key(phrase).split(" "))


def _compile(phrases: Iterable[str]) -> re.Pattern[str]:
    # Longest first, so "mother-in-law" wins over "mother" and "bố mẹ chồng" over "bố mẹ".
    unique = sorted({_key(phrase) for phrase in phrases}, key=lambda phrase: (-len(phrase), phrase))
    return re.compile(rf"(?<!\w)(?:{'|'.join(_phrase_pattern(phrase) for phrase in unique)})(?!\w)")


# Relation words by key: (as listed, relationship, language).
_RELATION_WORDS: dict[str, tuple[str, str, str]] = {
    _key(phrase): (phrase, relationship, language)
    for relationship, by_language in ADDRESSEES.items()
    for language, phrases in by_language.items()
    for phrase in phrases
}
_RELATION = _compile(_RELATION_WORDS)
# "Meeting" is a noun as often as a verb ("a meeting the team lead set up"): its -ing form is left out.
_ING_FORMS = tuple(form for form in map(_ing_form, _ADDRESSING_EN) if form != "meeting")
_ADDRESSED = re.compile(
    rf"(?<!\w)(?:{'|'.join(_phrase_pattern(verb) for verb in (*_ADDRESSING, *_ING_FORMS))})"
    r"(?!\w)[\w\s']{0,24}$"
)
# Between two relation words, "boss's father", "parents' friend": the first owns the second.
_POSSESSIVE = re.compile(r"'s?\s+(?:own\s+)?")
# Between two relation words, "father of my boss", "bố của sếp", "ayah dari bos": the second owns the first.
_OF = re.compile(r"\s+(?:of(?:\s+(?:my|our|his|her|their|the|a))?|của|dari)\s+")
# Indonesian and Vietnamese also put the owner right after: "ayah bos" (the boss's father), "bố mẹ bạn trai".
_HEAD_FIRST = frozenset(key for key, (_, _, language) in _RELATION_WORDS.items() if language != "en")
_SETTINGS = {label: _compile(phrases) for label, phrases in SETTINGS.items()}
_WORD = re.compile(r"\w+")


def _first_words(phrases: Iterable[str]) -> frozenset[str] | None:
    """The words a match of these phrases can start with (a phrase matches only where its first word stands
    whole); None if a phrase does not start with a word character."""
    words = set()
    for phrase in phrases:
        found = _WORD.match(_key(phrase))
        if found is None:
            return None
        words.add(found.group())
    return frozenset(words)


_SETTING_FIRST_WORDS = {label: _first_words(phrases) for label, phrases in SETTINGS.items()}


def _settings_in(text: str) -> list[tuple[str, re.Pattern[str]]]:
    """The settings (in order) whose phrases may occur in `text`: scanning a message for each of the 23
    settings' patterns was half the cost of reading its cues, and most settings' words are not there at all."""
    words = set(_WORD.findall(text))
    return [
        (label, pattern)
        for label, pattern in _SETTINGS.items()
        if (first := _SETTING_FIRST_WORDS[label]) is None or not first.isdisjoint(words)
    ]


_FAMILY_HINT = _compile(_items("family, keluarga, gia đình, in-laws, mertua"))
_NOT_FORMAL_PATTERN = re.compile(rf"(?<!\w)(?:{'|'.join(_NOT_FORMAL)})(?!\w)")
_FORMALITY = {label: _compile(phrases) for label, phrases in FORMALITY.items()}
_IDENTIFIER_OF = {
    _key(phrase): label for group in (IDENTIFIERS, PLACES) for label, phrases in group.items() for phrase in phrases
}
_IDENTIFIER = _compile(_IDENTIFIER_OF)
_LANGUAGE_BEFORE = re.compile(r"(?<!\w)(?:in|speak|speaks|speaking|bahasa|tiếng)\s+$")
_ORIGIN_RESIDENCE = re.compile(rf"(?<!\w)({'|'.join(_ORIGINS)})-({'|'.join(_RESIDENCES)})(?!\w)")
# An origin abroad: "overseas Chinese", "người Việt ở nước ngoài", "orang Indonesia di luar negeri" (the origin
# is found too, as an identifier of its own).
_ORIGIN_ABROAD = re.compile(
    rf"(?<!\w)(?:overseas\s+(?:{'|'.join(_ORIGINS)})|người\s+việt\s+(?:ở|tại|sống ở)\s+nước\s+ngoài|"
    r"orang\s+indonesia\s+(?:di|yang tinggal di)\s+luar\s+negeri)(?!\w)"
)


@dataclass(frozen=True, slots=True)
class _Relation:
    start: int
    end: int
    key: str
    shown: str  # as listed: "mother-in-law" for "mother in law"
    relationship: str


def _relations(text: str) -> list[_Relation]:
    # "family" in "family dinner" names the occasion, not a person.
    occasions = [match.span() for _, pattern in _settings_in(text) for match in pattern.finditer(text)]
    found = []
    for match in _RELATION.finditer(text):
        if any(start <= match.start() < end for start, end in occasions):
            continue
        key = _key(match.group())
        shown, relationship, _ = _RELATION_WORDS[key]
        found.append(_Relation(match.start(), match.end(), key, shown, relationship))
    return found


def _combined_relationship(owner: _Relation, head: _Relation) -> str:
    """The relationship to "owner's head": family of family is family; an elder of anyone else is senior."""
    if owner.relationship in ("family", "romantic") and head.relationship == "family":
        return "family"
    if head.key in _ELDER_KIN:
        return "senior"
    return owner.relationship


def _addressee(text: str) -> tuple[str, str] | None:
    """(addressee, relationship) for the relation words in `text` the member most likely will talk to:
    the first right after a verb of addressing ("greet my boss's father"), else the first mentioned; one
    negated ("not my boss") or quoted ("my husband says") only when there is no other."""
    relations = _relations(text)
    candidates: list[tuple[int, int, str, str]] = []  # (start, end, addressee, relationship)
    index = 0
    while index < len(relations):
        first = relations[index]
        second = relations[index + 1] if index + 1 < len(relations) else None
        between = text[first.end : second.start] if second is not None else ""
        if second is not None and _POSSESSIVE.fullmatch(between):
            combined = _combined_relationship(first, second)
            candidates.append((first.start, second.end, f"{first.shown}'s {second.shown}", combined))
            index += 2
        elif second is not None and (_OF.fullmatch(between) or (between.isspace() and first.key in _HEAD_FIRST)):
            shown = " ".join(f"{first.shown} {between.strip()} {second.shown}".split())
            candidates.append((first.start, second.end, shown, _combined_relationship(second, first)))
            index += 2
        else:
            candidates.append((first.start, first.end, first.shown, first.relationship))
            index += 1
    if not candidates:
        return None

    def rank(candidate: tuple[int, int, str, str]) -> tuple[bool, bool, int]:
        start, end = candidate[0], candidate[1]
        before = max(0, start - 40)
        passed_over = _NEGATED.search(text, before, start) is not None or _QUOTED.match(text, end) is not None
        addressed = _ADDRESSED.search(text, before, start) is not None
        return (passed_over, not addressed, start)

    _, _, shown, relationship = min(candidates, key=rank)
    return shown, relationship


# "Meeting my in-laws" is meeting someone, not a meeting; "a meeting the team set up" is a meeting.
_MEETING_SOMEONE = re.compile(
    r"meeting\s+(?:my|our|his|her|their|your|him|them|someone|somebody|people|a|an|the|new)(?!\w)"
)
_A_MEETING = re.compile(r"(?<!\w)(?:a|an|the|my|our|his|her|their|your|this|that|next|new|weekly|team|first)\s+$")


def _setting(text: str, relationship: str | None) -> str | None:
    for label, pattern in _settings_in(text):
        matches = pattern.finditer(text)
        if label == "meeting":
            matches = (
                match
                for match in matches
                if not _MEETING_SOMEONE.match(text, match.start())
                or _A_MEETING.search(text, max(0, match.start() - 12), match.start())
            )
        if next(matches, None) is not None:
            if label == "meal" and (relationship == "family" or _FAMILY_HINT.search(text)):
                return "family meal"
            return label
    return None


def _formality(text: str) -> str | None:
    if _NOT_FORMAL_PATTERN.search(text):
        return "informal"
    found = [
        (match.start(), label)
        for label, pattern in _FORMALITY.items()
        for match in pattern.finditer(text)
        if not (_ASKING_BEFORE.search(text, 0, match.start()) or _ASKING_AFTER.match(text, match.end()))
    ]
    return min(found)[1] if found else None


def _identifiers(text: str) -> list[str]:
    found: list[tuple[int, str]] = []
    origins = list(_ORIGIN_RESIDENCE.finditer(text))
    for match in origins:
        found += [(match.start(), f"{match[1].title()}-{match[2].title()}"), (match.start(), "diaspora")]
    for match in _IDENTIFIER.finditer(text):
        if any(origin.start() <= match.start() < origin.end() for origin in origins):
            continue
        label = _IDENTIFIER_OF[_key(match.group())]
        if label not in PLACES and _LANGUAGE_BEFORE.search(text, 0, match.start()):
            continue
        if label in _NOT_FOLLOWED_BY and _NOT_FOLLOWED_BY[label].match(text, match.end()):
            continue
        found.append((match.start(), label))
    found += [(match.start(), "diaspora") for match in _ORIGIN_ABROAD.finditer(text)]
    found.sort(key=lambda item: item[0])
    return list(dict.fromkeys(label for _, label in found))


# ---------------------------------------------------------------------------------------------------------
# The cues

# The cues whose absence the prompt names, and how it names them.
_ASKABLE = {"addressee": "who they will be talking to", "setting": "the setting or occasion"}
# The languages the word lists cover: in another, a cue the member gave would look missing ("上司", "jefe").
_COVERED_LANGUAGES = frozenset({"ms"}.union(*ADDRESSEES.values()))


@dataclass(frozen=True, slots=True)
class Cues:
    """What the member's words say about their situation (see the module docstring for the limits)."""

    language: str | None = None
    addressee: str | None = None
    relationship: str | None = None
    setting: str | None = None
    formality: str | None = None
    identifiers: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()

    def to_prompt(self, *, just_asked: bool = False, asked_earlier: bool = False) -> str:
        """One line for the prompt: the cues found, then those not found. `just_asked`: the bot's last turn was
        a question, so this message is likely the member's answer to it: the word lists may not recognise what
        they said, and they are not to be asked again. `asked_earlier`: the bot asked a clarifying question
        earlier in this conversation; one per conversation is enough."""
        given = []
        if self.language:
            given.append(f"language: {self.language}")
        if self.addressee:
            relation = f" ({self.relationship})" if self.relationship else ""
            given.append(f"talking to: {self.addressee}{relation}")
        if self.setting:
            given.append(f"setting: {self.setting}")
        if self.formality:
            given.append(f"register wanted: {self.formality}")
        if self.identifiers:
            given.append("identifiers: " + ", ".join(self.identifiers))
        line = "Cues the member gave: " + ("; ".join(given) if given else "none")
        if self.missing:
            line += ". Not detected: " + "; ".join(_ASKABLE.get(name, name) for name in self.missing)
            if just_asked:
                line += " (the member may have just answered your question: read their words, and do not ask again)"
            elif asked_earlier:
                line += (
                    " (you already asked a clarifying question in this conversation: do not ask again; answer with"
                    " what you know, and say what would change the answer)"
                )
            else:
                line += " (if it would change the answer, ask one short question)"
        return line + "."

    def to_record(self) -> dict[str, object]:
        """The cues as JSON-serialisable data for the answer record."""
        return {
            "source": "rules",
            "language": self.language,
            "addressee": self.addressee,
            "relationship": self.relationship,
            "setting": self.setting,
            "formality": self.formality,
            "identifiers": list(self.identifiers),
            "missing": list(self.missing),
        }


def _leans_uncovered(texts: Sequence[str]) -> bool:
    """Whether texts whose language was not told still have more of the function words of a language the cue word
    lists do not cover than of one they cover (Yoruba typed without tone marks shares "ni" with Malay). Without
    such evidence (no listed word at all: "Quick question: business cards, bowing etiquette?") the lists are
    taken to apply, as for English."""
    votes = _word_votes(word for text in texts for word in _words_of(text))
    covered = max((count for language, count in votes.items() if language in _COVERED_LANGUAGES), default=0.0)
    uncovered = max((count for language, count in votes.items() if language not in _COVERED_LANGUAGES), default=0.0)
    return uncovered > covered


def extract_cues(message: str, history: Sequence[str] = ()) -> Cues:
    """The cues in `message`, completed from `history` (the member's earlier messages in this
    conversation, oldest first) for whatever the message itself does not say.

    The message wins over history, and among earlier messages the newest wins; identifiers accumulate.
    The language comes from history only when the message is too short to tell. Nothing is called missing
    in a language the word lists do not cover, nor where the language was not told but its words lean to such a
    language: there they cannot tell what was said.
    """
    originals = [message, *reversed(history)]
    texts = [_normalise(text) for text in originals]
    language = next((found for text in originals if (found := detect_language(text))), None)
    addressee: str | None = None
    relationship: str | None = None
    for text in texts:
        relation = _addressee(text)
        if relation is not None:
            addressee, relationship = relation
            break
    setting = next((found for text in texts if (found := _setting(text, relationship))), None)
    formality = next((found for text in texts if (found := _formality(text))), None)
    identifiers = tuple(dict.fromkeys(label for text in texts for label in _identifiers(text)))
    covered = language in _COVERED_LANGUAGES if language is not None else not _leans_uncovered(originals)
    missing = (
        tuple(name for name, value in (("addressee", addressee), ("setting", setting)) if value is None)
        if covered
        else ()
    )
    return Cues(language, addressee, relationship, setting, formality, identifiers, missing)
