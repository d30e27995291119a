"""Benchmarks that print JSON; numbers are ratios to a baseline measured in the same run."""

import json
from pathlib import Path
from typing import Any


def emit(result: dict[str, Any], json_out: Path | None) -> None:
    """Print a benchmark's JSON (and write it to `json_out` when given)."""
    text = json.dumps(result, indent=2)
    print(text)
    if json_out:
        json_out.write_text(text + "\n")
