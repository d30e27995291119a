"""People's names found by their given name: a gazetteer of given names from Faker's locale lists.

spaCy's small English model misses most names it has not seen ("Priya Raghunathan", "Julien
Moreau", "Jan de Vries"), and the storage masker's cue patterns (a title, a sign-off, a name
field) only find names that stand after a cue. A given name that Faker lists for one of the
locales below, followed by one or two capitalised words (or a name particle and one), is a name
in any language. Faker is read as data only: its lists, never its generators.

Given names that are mostly ordinary capitalised words in running text (months, countries,
cities, virtues) are left out: a storage mask on "May Day" or "Victoria Station" costs a
dashboard reader for nothing.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from functools import lru_cache

# Latin-script locales (and the romanised lists of Chinese and Japanese) of the languages the
# default policies list and of the names common in their traffic.
LOCALES = (
    "en_US", "en_GB", "en_IE", "en_IN", "en_NG", "en_NZ", "en_PK", "de_DE", "de_AT", "de_CH", "fr_FR", "fr_CA",
    "es_ES", "es_MX", "es_AR", "it_IT", "nl_NL", "nl_BE", "pt_BR", "pt_PT", "pl_PL", "sv_SE", "da_DK", "no_NO",
    "fi_FI", "tr_TR", "cs_CZ", "ro_RO", "hu_HU", "id_ID", "vi_VN", "ja_JP", "zh_CN", "zh_TW", "sk_SK", "hr_HR",
    "sl_SI", "lt_LT", "lv_LV", "et_EE", "az_AZ", "en_KE", "yo_NG", "ig_NG", "ha_NG", "tw_GH", "sw", "zu_ZA",
)
# Cyrillic lists, transliterated: "Оксана" is written "Oksana" in Latin-script text.
CYRILLIC_LOCALES = ("ru_RU", "uk_UA", "bg_BG")
_CYRILLIC = dict(zip("абвгґдеёєжзиіїйклмнопрстуфхцчшщъыьэюя",
                     ["a", "b", "v", "g", "g", "d", "e", "yo", "ye", "zh", "z", "i", "i", "yi", "y", "k", "l", "m",
                      "n", "o", "p", "r", "s", "t", "u", "f", "kh", "ts", "ch", "sh", "shch", "", "y", "", "e", "yu",
                      "ya"], strict=True))
_UKRAINIAN = {"г": "h", "и": "y"}  # where Ukrainian's Latin spelling differs ("Hryhoriy", "Mykola")
_LIST_NAMES = ("first_names", "first_names_male", "first_names_female", "first_romanized_names")
# Given names that are far more often something else when capitalised in a sentence.
NOT_NAMES = frozenset({
    "April", "May", "June", "July", "August", "January", "Summer", "Autumn", "Winter", "Spring", "Sunday", "Monday",
    "India", "China", "Georgia", "Virginia", "Carolina", "Florida", "Paris", "Victoria", "Florence", "Sydney", "London",
    "Austin", "Dallas", "Houston", "Jordan", "Israel", "Chelsea", "Lincoln", "Madison", "Regina", "Adelaide",
    "Hope", "Faith", "Grace", "Joy", "Christian", "Angel", "Rose", "Iris", "Ivy", "Holly", "Amber", "Crystal", "Ruby",
    "Pearl", "Jade", "Olive", "Sky", "Rain", "Star", "Honor", "Justice", "Liberty", "Patience", "Mercy", "Bill",
    "Mark", "Grant", "Guy", "Dean", "Major", "Will", "Don", "Gay", "Page", "Rich", "Price", "Case", "Chase", "Hunter",
    "Cash", "Royal", "General", "Bishop", "King", "Prince", "Princess", "Baby", "Say", "Nobel", "Santa", "San",
    "Mario", "Tesla", "Ford", "Mercedes", "Porsche", "Dell", "Harley", "Amazon", "Java", "Julia", "Ada",
    "Alexa", "Siri", "Cortana", "Claude", "Gemini", "Ollama", "Llama", "Mistral", "Jenkins", "Sage", "Bert",
    "Windows", "Unity", "Pascal", "Darwin", "Kafka", "Angular", "Ember",
    "My", "Can", "Ask", "Hero", "Lord", "Dear", "Hi", "Hey", "Man", "Son", "Long", "Young", "Love",
})
_LOWER = "a-zà-ÿĀ-ɏḀ-ỿ"  # Latin letters with diacritics ("Wiśniewski", "Nguyễn", "Petrović")
_SHAPE = re.compile(rf"[A-ZÀ-Ý][{_LOWER}'-]+")
# A capitalised word (a hyphenated given name such as "Hyun-woo" or "Jean-Luc" included), then one
# or two capitalised words, a name particle allowed before the last ("Jan de Vries").
_CANDIDATE = re.compile(
    rf"(?<![\w@.#/-])(?P<given>[A-ZÀ-ÝĀ-ɏḀ-ỿ][{_LOWER}]{{1,20}}(?:-[A-Za-z{_LOWER}][{_LOWER}]{{1,20}})?)"
    r"(?P<rest>(?:[^\S\n]{1,2}(?:(?:(?:de|van|von|der|den|da|di|del|della|la|le|dos|das|du|ten|ter|bin|al)[^\S\n]{1,2}){1,2}"
    r"|[A-Z]\.[^\S\n]{1,2})?"  # a particle or a middle initial: "Jan de Vries", "Marcus J. Whitfield"
    rf"(?:[A-ZÀ-ÝĀ-ɏḀ-ỿ][{_LOWER}]{{1,25}}|O['’][A-Z][{_LOWER}]{{1,25}})(?:['’][A-Za-z{_LOWER}][{_LOWER}]{{1,25}})?"
    rf"(?:-[A-ZÀ-Ý][{_LOWER}]{{1,25}})?){{1,2}})(?![\w@-])")
_GIVEN_WORD = re.compile(
    rf"(?<![\w@.#/-])[A-ZÀ-ÝĀ-ɏḀ-ỿ][{_LOWER}]{{1,20}}(?:-[A-Za-z{_LOWER}][{_LOWER}]{{1,20}})?(?=[^\S\n]{{1,2}}[A-ZÀ-Ýa-z])")
# Capitalised words that follow a given name without making it a person's name.
NOT_SURNAMES = frozenset({
    "The", "And", "Or", "Of", "In", "On", "At", "For", "With", "Street", "Road", "Avenue", "Station", "University",
    "College", "School", "Hospital", "Day", "Island", "Islands", "River", "Lake", "Mountain", "City",
    "County", "State", "Award", "Prize", "Foundation", "Institute", "Center", "Centre", "Hall", "Church", "Bridge",
    "Empire", "Project", "Analyst", "Engineer", "Manager", "Developer", "Team", "Group", "Company", "Inc", "Ltd", "Act",
    "Law", "War", "Museum", "Library", "Airport", "Bank", "Times", "Post", "News", "Press", "Review", "Journal", "Show",
    "Festival", "Theatre", "Theater", "Cup", "League", "Club", "Stadium", "Square", "Tower", "Castle", "Palace",
})
# A given name with a lower-case hyphenated part ("Hyun-woo", "Mei-ling") is the romanised shape of a
# Korean or Chinese given name, whether Faker lists it or not.
_ROMANISED_GIVEN = re.compile(r"[A-Z][a-z]{1,8}-[a-z]{2,8}")


@lru_cache(maxsize=1)
def given_names() -> frozenset[str]:
    """Every given name in the locales' lists, in the capitalised shape names take in text."""
    names: set[str] = set()
    for locale in LOCALES:
        provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        for list_name in _LIST_NAMES:
            names.update(getattr(provider, list_name, ()) or ())
    # Vietnamese names put the family name first ("Nguyễn Thị Lan"): its family names, where they
    # cannot be mistaken for a word of another language, open a name too.
    vietnamese = importlib.import_module("faker.providers.person.vi_VN").Provider
    names.update(name for name in getattr(vietnamese, "last_names", ()) if not name.isascii())
    for locale in CYRILLIC_LOCALES:
        provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        table = {**_CYRILLIC, **_UKRAINIAN} if locale == "uk_UA" else _CYRILLIC
        names.update(_transliterate(name, table) for name in getattr(provider, "first_names", ()) or ())
    return frozenset(name for name in names if _SHAPE.fullmatch(name)) - NOT_NAMES


def _transliterate(name: str, table: dict[str, str]) -> str:
    latin = "".join(table.get(c, c) for c in name.lower())
    return latin[:1].upper() + latin[1:]


def _is_given_name(word: str, names: frozenset[str]) -> bool:
    if word in names or _ROMANISED_GIVEN.fullmatch(word):
        return True
    head = word.split("-", 1)[0]
    return "-" in word and head in names  # "Jean-Luc", "Anne-Marie"


def find_names(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each "Given Surname" (or "Given Middle Surname") in `text`."""
    names = given_names()
    end = 0
    for word in _GIVEN_WORD.finditer(text):  # a set lookup per capitalised word; the full pattern only at a given name
        if word.start() < end or not _is_given_name(word.group(), names):
            continue
        match = _CANDIDATE.match(text, word.start())
        if match is None:
            continue
        last = match.group("rest").split()[-1]
        if last not in NOT_SURNAMES and last not in NOT_NAMES:
            end = match.end()
            yield match.start(), end
