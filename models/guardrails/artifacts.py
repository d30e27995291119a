"""Where trained guardrail artifacts live and how a check loads one.

Layout: `<model_path>/guardrails/<check name>/<version>/` holding `model.joblib` (the fitted
scikit-learn pipeline), `manifest.json` (threshold, categories, config, data fingerprint,
library versions) and `report.json` (held-out evaluation). The model store is local and
written only by `raiwatch guardrails train`: joblib files run code when loaded, so never
point it at artifacts from elsewhere.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...ops.errors import ConfigurationError
from ...ops.settings import get_settings


def artifact_root(root: Path | None = None) -> Path:
    """Folder holding every guardrail artifact."""
    return Path(root) if root else get_settings().model_path / "guardrails"


def artifact_dir(check_name: str, version: str, root: Path | None = None) -> Path:
    """Folder of one check's artifact version."""
    return artifact_root(root) / check_name / version


@dataclass(frozen=True)
class GuardrailArtifact:
    """A loaded classifier: the pipeline plus what its manifest says about it."""

    path: Path
    pipeline: Any
    category_pipeline: Any | None
    manifest: dict[str, Any]

    @property
    def threshold(self) -> float:
        """Decision threshold chosen on the validation split."""
        return float(self.manifest["threshold"])

    @property
    def report(self) -> dict[str, Any]:
        """Held-out evaluation written at training time."""
        return json.loads((self.path / "report.json").read_text())


def load_artifact(check_name: str, version: str, root: Path | None = None) -> GuardrailArtifact:
    """Load one artifact; a clear error says how to build it when it is missing."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import joblib  # noqa: PLC0415  (ML extra)

    path = artifact_dir(check_name, version, root)
    if not (path / "model.joblib").exists():
        raise ConfigurationError(
            f"no artifact for {check_name} version {version} under {path}; run `raiwatch guardrails train`"
        )
    manifest = json.loads((path / "manifest.json").read_text())
    categories = path / "categories.joblib"
    return GuardrailArtifact(
        path=path,
        pipeline=joblib.load(path / "model.joblib"),
        category_pipeline=joblib.load(categories) if categories.exists() else None,
        manifest=manifest,
    )
