"""JSON Schema export: one file per topic, the contract for producers in any language."""

from __future__ import annotations

import json
from pathlib import Path

from .registry import TOPICS


def json_schemas() -> dict[str, dict]:
    """File name -> JSON Schema for every topic and schema version."""
    out = {}
    for spec in TOPICS.values():
        for version, model in sorted(spec.versions.items()):
            schema = model.model_json_schema()
            schema["$id"] = f"https://raiwatch.dev/schemas/{spec.name}.v{version}.json"
            schema["x-topic"] = spec.name
            schema["x-key"] = spec.key_field
            out[f"{spec.name}.v{version}.json"] = schema
    return out


def render(schema: dict) -> str:
    """Stable text form (sorted keys, trailing newline) so diffs are meaningful."""
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def export_json_schemas(directory: Path) -> list[Path]:
    """Write every schema into `directory`; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in json_schemas().items():
        path = directory / name
        path.write_text(render(schema))
        written.append(path)
    return written
