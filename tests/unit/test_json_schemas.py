"""The committed JSON Schemas (schemas/json/) match the models: producers in other languages
read those files, so a model change without re-export must fail here."""

from __future__ import annotations

from pathlib import Path

from raiwatch.schemas.json_export import json_schemas, render

COMMITTED = Path(__file__).resolve().parents[2] / "schemas" / "json"


def test_committed_schemas_match_models() -> None:
    expected = {name: render(schema) for name, schema in json_schemas().items()}
    committed = {p.name: p.read_text() for p in COMMITTED.glob("*.json")}
    assert sorted(committed) == sorted(expected), "run: raiwatch schemas export schemas/json"
    for name, text in expected.items():
        assert committed[name] == text, f"{name} is stale; run: raiwatch schemas export schemas/json"
