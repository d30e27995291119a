"""Request frames ("Can you help me ...", "Could you tell me how to ...") removed before a
classifier reads a request.

Why: a frame says how someone asks, not what they ask for. Do-Not-Answer writes most of its
harmful requests as "Can you help me ...?", so a classifier that reads frames learns them as
harm and flags "Can you help me plan a birthday party?". With the frame gone, only the task
counts. Question frames about a claim ("Is it true that ...") are kept: without them the claim
reads as an assertion (stripping them was measured: more false flags on myth-busting questions).
Used as the TF-IDF vectorizers' `preprocessor` (it also lower-cases, which a custom
preprocessor must do), so training and scoring strip frames the same way, and the function is
pickled by reference into the artifact.
"""

from __future__ import annotations

import hashlib
import re

_LEAD = r"(?:(?:hey|hi|hello|ok|okay|so|um|please|pls)\b[\s,!.]*)*"
_ASK = (r"(?:(?:can|could|would|will)\s+(?:you|u)\s+(?:please\s+)?"
        r"(?:help\s+me(?:\s+(?:to|with))?|tell\s+me(?:\s+how\s+(?:to|i\s+can))?|show\s+me(?:\s+how\s+to)?"
        r"|explain(?:\s+how\s+to)?|give\s+me|provide(?:\s+me\s+with)?)?"
        r"|i\s+(?:need|want|would\s+like)\s+(?:some\s+)?(?:help|you)?\s*(?:to|with)?"
        r"|please\s+help\s+me(?:\s+to)?|help\s+me(?:\s+to)?|tell\s+me\s+how\s+to|how\s+(?:do|can|should)\s+i"
        r"|what(?:'s|\s+is)\s+the\s+best\s+way\s+to|any\s+tips\s+(?:to|on|for))\b")
_FRAME = re.compile(rf"^\s*{_LEAD}{_ASK}[\s,]*", re.IGNORECASE)


FRAMES_ID = hashlib.sha256(_FRAME.pattern.encode()).hexdigest()[:12]
"""Identifies the frame pattern: an artifact trained with another one is stale (its manifest
records the id it was trained with)."""


def strip_request_frame(text: str) -> str:
    """Lower-cased text without its leading request frame (unchanged when it has none)."""
    lowered = text.lower()
    stripped = _FRAME.sub("", lowered, count=1)
    return stripped if stripped.strip() else lowered
