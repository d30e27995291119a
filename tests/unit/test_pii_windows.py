"""Which text spaCy's NER reads (`ner_windows`) and which texts reach the phone recognizer:
pure string logic, no model."""

from __future__ import annotations

from raiwatch.models.guardrails.pii import GATES, context_spans, name_candidates, ner_windows

LONG = ("Hello there. Yesterday I met with my old friend and colleague Maria Lopez at the big "
        "conference in downtown San Francisco, where we talked about many different things for hours "
        "and then went home without any further plans. Ok.")


def test_windows_point_into_the_text_and_cover_every_candidate() -> None:
    windows = ner_windows(LONG, 2000, context_words=2)
    assert all(LONG[offset:offset + len(window)] == window for offset, window in windows)
    covered = "".join(window for _, window in windows)
    for name in ("Maria", "Lopez", "San", "Francisco"):
        assert name in covered
    assert "Yesterday" not in covered and "plans" not in covered  # far from any candidate: not read


def test_overlapping_neighbourhoods_merge_into_one_window() -> None:
    windows = ner_windows(LONG, 2000, context_words=8)
    assert len(windows) == 1 and "Maria Lopez" in windows[0][1] and "San Francisco" in windows[0][1]


def test_sentence_openers_are_not_candidates_and_sentences_without_names_are_skipped() -> None:
    assert name_candidates("The weather is nice.") == []
    assert ner_windows("The weather is nice. It rains.", 2000) == []
    assert name_candidates("I asked Bob.") == [8]


def test_a_capital_inside_a_word_reads_the_whole_sentence() -> None:
    sentence = "see (the)Report from accounting"
    assert context_spans(sentence, [9], 1) == [(0, len(sentence))]


def test_max_chars_caps_what_ner_reads() -> None:
    text = " ".join(f"I met Bob number {i} today." for i in range(200))
    assert sum(len(w) for _, w in ner_windows(text, 300)) < 300 + 200


def test_phone_gate_needs_a_run_of_seven_digits() -> None:
    gate = GATES["PHONE_NUMBER"]
    for text in ("call +1 415-555-0132", "(415) 555 0132", "+44 20 7946 0958", "4155550132"):
        assert gate(text, sum(c.isdigit() for c in text)), text
    scattered = "In 1999 there were 12 apples, 34 pears and 56 plums."
    assert not gate(scattered, sum(c.isdigit() for c in scattered))
