"""Words that name a group of people by a protected characteristic, replaced by one token before
the fairness classifier reads a text.

Why: what makes a reply stereotyping is what it says about a group ("... are lazy", "... can't
lead"), not which group it names. With every group as the same token `grp`, what the classifier
learnt about one group carries over to the others, and naming a group is no cue by itself
(validation recall 0.841 -> 0.849 and test recall 0.780 -> 0.802 at the same 2% validation
false-positive rate; larger on earlier, smaller versions of the data). Used as the TF-IDF
vectorizers' `preprocessor` (it
lower-cases, as a custom preprocessor must), pickled by reference into the artifact; the check
maps `grp` in an evidence n-gram back to the words in the text (`GROUP_PATTERN`).
"""

from __future__ import annotations

import hashlib
import re

TOKEN = "grp"

# Multi-word names first (the pattern tries longer alternatives first), then single words, in
# singular and plural. Ambiguous everyday words ("white", "black", "blind", "native") are
# included: a benign "white wine" reads as "grp wine", which the classifier learns is harmless.
_PHRASES = (
    "people of color", "people of colour", "people with disabilities", "people with a disability",
    "people with down syndrome", "people with down's syndrome", "people with schizophrenia", "people with depression",
    "people with adhd", "people with autism", "people with mental illness", "people with mental illnesses",
    "people with dyslexia", "the mentally ill", "the disabled", "the elderly", "the french", "the irish", "the dutch",
    "the english", "the chinese", "the japanese", "wheelchair users", "older workers", "older employees", "older people",
    "old people", "young people", "people over 50", "gen z", "middle easterners", "middle eastern", "first nations",
    "mixed-race", "mixed race", "non-binary", "same-sex", "working mothers", "single mothers",
)
_WORDS = """
woman women man men girl girls boy boys lady ladies female females male males mother mothers father fathers
wife wives husband husbands sister sisters brother brothers daughter daughters son sons grandma grandmas grandpa
black blacks white whites brown asian asians hispanic hispanics latino latinos latina latinas latinx arab arabs
jew jews jewish muslim muslims islamic christian christians hindu hindus sikh sikhs buddhist buddhists atheist
atheists catholic catholics mormon mormons evangelical evangelicals protestant protestants
gay gays lesbian lesbians bisexual bisexuals trans transgender transgenders transsexual transsexuals queer queers
homosexual homosexuals heterosexual heterosexuals straight lgbt lgbtq lgbtqia nonbinary
disabled handicapped autistic blind deaf mute crippled cripple cripples retarded dyslexic
elderly boomer boomers millennial millennials zoomer zoomers teenager teenagers teen teens senior seniors retiree retirees
immigrant immigrants refugee refugees migrant migrants foreigner foreigners illegals expat expats
native natives indigenous aboriginal aboriginals roma gypsy gypsies
mexican mexicans chinese indian indians nigerian nigerians african africans european europeans american americans
russian russians german germans french frenchman italian italians irish polish pole poles romanian romanians turk
turks turkish syrian syrians pakistani pakistanis filipino filipinos brazilian brazilians japanese korean koreans
vietnamese afghan afghans iraqi iraqis iranian iranians somali somalis kurd kurds palestinian palestinians
israeli israelis ukrainian ukrainians british english scottish welsh dutch swedish spanish spaniard spaniards
portuguese greek greeks cuban cubans haitian haitians jamaican jamaicans ethiopian ethiopians kenyan kenyans
ghanaian ghanaians egyptian egyptians moroccan moroccans albanian albanians bangladeshi bangladeshis
"""
_TERMS = sorted({*_PHRASES, *_WORDS.split()}, key=lambda t: (-len(t), t))
GROUP_PATTERN = r"(?:" + "|".join(re.escape(t).replace(r"\ ", r"\s+") for t in _TERMS) + r")"
"""Regular expression (no groups, no flags) matching any group term; used with IGNORECASE."""
# Applied to lower-cased text, so without IGNORECASE: the same matches (the terms are all lower
# case) at a third of the cost; the fairness check runs it on every reply and sentence window.
_GROUP = re.compile(rf"\b{GROUP_PATTERN}\b")

GROUP_TERMS_ID = hashlib.sha256(GROUP_PATTERN.encode()).hexdigest()[:12]
"""Identifies the term list: an artifact trained with another one is stale."""


def mark_group_terms(text: str) -> str:
    """Lower-cased text with every group term replaced by `TOKEN`."""
    return _GROUP.sub(TOKEN, text.lower())
