"""Storage masking is conservative: every secret format and every card-like digit run is
masked, whichever checks ran; a digit run is reported as a card only when the Luhn check passes;
no pattern turns quadratic on hostile megabytes."""

from __future__ import annotations

import asyncio
import time

import pytest

from raiwatch.models import create_check
from raiwatch.models.rules import find_pii, mask_sensitive
from raiwatch.models.scoring import Score, ScoringItem
from raiwatch.schemas.common import Pillar
from raiwatch.streams.policy import redacted_texts

SECRETS = {
    "sk-proj-Ab12Cd34Ef56Gh78Ij90Kl12Mn34": "api_key", "sk-live-51HxYzAbCdEfGhIjKlMnOpQr": "api_key",
    "sk-abcdefghijklmnopqrstuvwxyz123456": "api_key", "rk_live_4eC39HqLyjWDarjtT1zdp7dc": "stripe_key",
    "AKIAIOSFODNN7EXAMPLE": "aws_access_key", "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789": "github_token",
    "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ": "github_token",
    "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx": "slack_token",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U": "jwt",
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----": "private_key",
}


@pytest.mark.parametrize("secret", SECRETS, ids=list(SECRETS.values()))
def test_every_secret_format_is_masked(secret: str) -> None:
    masked = mask_sensitive(f"here you go: {secret} -- keep it safe")
    assert secret not in masked and f"<{SECRETS[secret].upper()}>" in masked


def test_card_like_runs_are_all_masked_but_only_luhn_valid_ones_are_cards() -> None:
    text = "valid 4111 1111 1111 1111, invalid 4111-1111-1111-1112, long 1234567890123456789"
    assert [kind for _, _, kind in find_pii(text)] == ["credit_card", "digit_run", "digit_run"]
    masked = mask_sensitive(text)
    assert "4111" not in masked and "1234567890" not in masked
    [score] = asyncio.run(create_check("pii.regex").score_batch([ScoringItem("r", output=text)]))
    assert score.categories == ("pii.credit_card",)  # the others are masked, not reported


def test_storage_masking_applies_even_after_another_check_redacted() -> None:
    # A PII check that masked a name but missed a hyphenated key: storage still masks the key.
    presidio_like = Score(check="pii.presidio@1", pillar=Pillar.PRIVACY_SECURITY, value=1.0,
                          redacted={"output": "<PERSON> uses sk-proj-Ab12Cd34Ef56Gh78Ij90Kl12"})
    _, output = redacted_texts("hi", "Jane uses sk-proj-Ab12Cd34Ef56Gh78Ij90Kl12", [presidio_like])
    assert output == "<PERSON> uses <API_KEY>"


def test_no_pattern_turns_quadratic_on_hostile_input() -> None:
    for hostile in ("a." * 400_000, "@" + "a" * 800_000, "1 " * 400_000, "sk-" + "a-" * 300_000, "a@" * 300_000):
        started = time.perf_counter()
        find_pii(hostile)
        assert time.perf_counter() - started < 5.0
