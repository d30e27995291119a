"""Reply generation for offline evaluation: the model under test answers the suites' prompts.

Three ways to run the model, one interface (`Generator.generate`: chats in, replies out, in
order, greedy so a rerun gives the same replies):
- `transformers`: a local checkpoint directory, optionally with a LoRA adapter (peft), batched
  with left padding; CPU here, the GPU when present;
- `vllm`: vLLM in process (`vllm.LLM.chat`), with the adapter as a LoRA request;
- `openai`: any OpenAI-compatible `/v1/chat/completions` server (vLLM's, a hosted model).

Several adapters on one base model: `add_adapter(name, path)` (or `adapters={name: path}`), then
`generate(chats, adapters=[name or None per chat])`: each chat gets its own adapter, the base
model's weights are never changed. transformers loads each adapter once with peft and runs a
batch group by group (`set_adapter`; the base under `disable_adapter()`); vLLM sends one LoRA
request per chat (stable int ids); an OpenAI-compatible server gets the adapter's name as the
`model` (vLLM serves LoRA modules by name: `--enable-lora --lora-modules NAME=PATH`).
`AdapterRouter` (`adapter_routing.py`) turns tenants into those names.

The judges' backends (`backends/`) read one answer token's log-probabilities; generation is a
different job, so it lives here.
"""

from __future__ import annotations

import abc
import contextlib
import json
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..ops.errors import ConfigurationError
from .backends.exceptions import BackendNotInstalledError

Chat = Sequence[Mapping[str, str]]


class Generator(abc.ABC):
    """Answers chats; `identity()` names what answered (recorded with the results)."""

    name: str

    @abc.abstractmethod
    def generate(self, chats: Sequence[Chat], adapters: Sequence[str | None] | None = None) -> list[str]:
        """One greedy reply per chat, in order. `adapters` names each chat's adapter (added with
        `add_adapter`); None, for a chat or for all: the generator's own adapter, else the base."""

    @abc.abstractmethod
    def identity(self) -> dict[str, Any]:
        """Backend, model and adapter, for the record."""

    def add_adapter(self, name: str, path: str | Path) -> None:
        """Serve the LoRA adapter at `path` as `name` (idempotent); the base model is unchanged."""
        raise ConfigurationError(f"the {self.name} generator serves no adapters")

    def close(self) -> None:
        """Release the model."""


def adapter_per_chat(chats: Sequence[Chat], adapters: Sequence[str | None] | None,
                     known: Mapping[str, Any] | None = None) -> list[str | None]:
    """One adapter name (or None) per chat; every name one that `known` holds, when given."""
    if adapters is None:
        return [None] * len(chats)
    names = list(adapters)
    if len(names) != len(chats):
        raise ConfigurationError(f"{len(names)} adapters for {len(chats)} chats: name one (or None) per chat")
    if known is not None:
        unknown = sorted({n for n in names if n is not None and n not in known})
        if unknown:
            raise ConfigurationError(f"unknown adapter(s) {', '.join(unknown)}; added: {', '.join(sorted(known)) or 'none'}")
    return names


def _same_adapter(served: Mapping[str, Path], name: str, path: Path) -> bool:
    """True when `name` is already served from `path`; an error when from another folder (a
    name must keep meaning one adapter: replies and scores are recorded under it)."""
    if name not in served:
        return False
    if served[name].resolve() != path.resolve():
        raise ConfigurationError(f"adapter {name!r} is already served from {served[name]}, not {path}")
    return True


def cpu_has_amx() -> bool:
    """Intel AMX (bfloat16 tiles): there a bfloat16 matmul ran 7.7x faster than float32 here."""
    try:
        return "amx_bf16" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


def resolve_dtype(dtype: str, device: str) -> str:
    """`auto`: bfloat16 where the hardware computes it fast (a GPU, a CPU with AMX), else float32.
    Measured on SmolLM2-135M, greedy, 48 tokens, batch 32: 0.34 s per reply in float32, 0.19 in
    bfloat16 (`ops/bench/README.md`, "Retraining, third round")."""
    if dtype not in ("auto", "float32", "bfloat16"):
        raise ConfigurationError(f"dtype must be auto, float32 or bfloat16, not {dtype!r}")
    if dtype != "auto":
        return dtype
    return "bfloat16" if device.startswith("cuda") or cpu_has_amx() else "float32"


class TransformersGenerator(Generator):
    """A local causal LM (and LoRA adapter) on transformers + peft."""

    name = "transformers"

    def __init__(self, model_path: str | Path, adapter_path: str | Path | None = None, *,
                 adapters: Mapping[str, str | Path] | None = None, max_new_tokens: int = 96, batch_size: int = 8,
                 device: str | None = None, dtype: str = "float32") -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from .model_store import resolve_model

        self.model_path = resolve_model(model_path)
        self.adapter_path = Path(adapter_path).expanduser() if adapter_path else None
        self.max_new_tokens, self.batch_size = max_new_tokens, batch_size
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.dtype = resolve_dtype(dtype, self.device)
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_path)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = AutoModelForCausalLM.from_pretrained(self.model_path, dtype=getattr(torch, self.dtype)) \
            .to(self.device).eval()
        self.adapters: dict[str, Path] = {}
        self._peft_names: dict[str, str] = {}
        if self.adapter_path is not None:
            self._load_adapter("default", self.adapter_path)  # peft's own name for a single adapter
        for adapter_name, path in (adapters or {}).items():
            self.add_adapter(adapter_name, path)

    @classmethod
    def from_loaded(cls, model: Any, tokenizer: Any, *, max_new_tokens: int = 64, batch_size: int = 8) -> TransformersGenerator:
        """Around a model already in memory (a trainer's, between steps): nothing is loaded."""
        generator = cls.__new__(cls)
        generator.model_path, generator.adapter_path = Path(getattr(model, "name_or_path", "") or "in-memory"), None
        generator.max_new_tokens, generator.batch_size = max_new_tokens, batch_size
        generator.device = str(next(model.parameters()).device)
        generator.dtype = str(next(model.parameters()).dtype).removeprefix("torch.")
        generator.tokenizer, generator.model = tokenizer, model
        generator.adapters, generator._peft_names = {}, {}
        return generator

    def identity(self) -> dict[str, Any]:
        return {"backend": self.name, "model": str(self.model_path), "dtype": self.dtype,
                "adapter": str(self.adapter_path) if self.adapter_path else "",
                **({"adapters": {n: str(p) for n, p in sorted(self.adapters.items())}} if self.adapters else {})}

    def _load_adapter(self, peft_name: str, path: Path) -> None:
        if not (path / "adapter_config.json").is_file():
            raise ConfigurationError(f"{path} is not a LoRA adapter (no adapter_config.json)")
        from peft import PeftModel

        if isinstance(self.model, PeftModel):
            self.model.load_adapter(str(path), adapter_name=peft_name, torch_device=str(self.device))
        else:
            self.model = PeftModel.from_pretrained(self.model, str(path), adapter_name=peft_name,
                                                   torch_device=str(self.device)).eval()

    def add_adapter(self, name: str, path: str | Path) -> None:
        path = Path(path).expanduser()
        if _same_adapter(self.adapters, name, path):
            return
        # peft keys adapters by module attribute names: ours, not the caller's (which may hold dots).
        peft_name = f"adapter{len(self._peft_names) + 1}"
        self._load_adapter(peft_name, path)
        self.adapters[name], self._peft_names[name] = path, peft_name

    @contextlib.contextmanager
    def _serving(self, name: str | None) -> Iterator[None]:
        """The model with adapter `name` active; None: the generator's own adapter, else the base."""
        if name is not None:
            self.model.set_adapter(self._peft_names[name])
            yield
        elif self.adapter_path is not None:
            self.model.set_adapter("default")
            yield
        elif self._peft_names:
            with self.model.disable_adapter():
                yield
        else:
            yield  # the model as given (a trainer's, with whatever adapter it has on)

    def generate(self, chats: Sequence[Chat], adapters: Sequence[str | None] | None = None) -> list[str]:
        names = adapter_per_chat(chats, adapters, self.adapters)
        groups: dict[str | None, list[int]] = {}
        for i, name in enumerate(names):
            groups.setdefault(name, []).append(i)
        replies = [""] * len(chats)
        for name, indices in groups.items():  # one adapter per forward pass
            with self._serving(name):
                for i, reply in zip(indices, self._batched([chats[i] for i in indices], 1, do_sample=False), strict=True):
                    replies[i] = reply[0]
        return replies

    def _encode(self, batch: Sequence[Chat], openings: Sequence[str] | None = None) -> Any:
        texts = [self.tokenizer.apply_chat_template(list(chat), tokenize=False, add_generation_prompt=True)
                 + (openings[i] if openings else "") for i, chat in enumerate(batch)]
        return self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)

    def continue_replies(self, chats: Sequence[Chat], openings: Sequence[str]) -> list[str]:
        """One greedy reply per chat that starts with the given opening (the assistant turn is
        prefilled; "" = none): each returned reply is its opening plus what the model wrote."""
        if len(openings) != len(chats):
            raise ConfigurationError(f"{len(openings)} openings for {len(chats)} chats: give one per chat")
        with self._serving(None):
            continued = self._batched(chats, 1, openings=openings, do_sample=False)
        return [(opening + replies[0]).strip() for opening, replies in zip(openings, continued, strict=True)]

    def _batched(self, chats: Sequence[Chat], per_chat: int, openings: Sequence[str] | None = None,
                 **generate_args: Any) -> list[list[str]]:
        """`per_chat` replies per chat, batches of `batch_size` chats, left-padded."""
        import torch

        padding_side, self.tokenizer.padding_side = self.tokenizer.padding_side, "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        out: list[list[str]] = []
        try:
            for start in range(0, len(chats), self.batch_size):
                batch = chats[start:start + self.batch_size]
                encoded = self._encode(batch, openings[start:start + self.batch_size] if openings else None)
                with torch.inference_mode():
                    generated = self.model.generate(**encoded, max_new_tokens=self.max_new_tokens,
                                                    num_return_sequences=per_chat,
                                                    pad_token_id=self.tokenizer.pad_token_id, **generate_args)
                decoded = self.tokenizer.batch_decode(generated[:, encoded["input_ids"].shape[1]:], skip_special_tokens=True)
                # A continuation keeps its leading space or newline: it is joined to its opening.
                keep = str.rstrip if openings else str.strip
                out += [[keep(text) for text in decoded[i * per_chat:(i + 1) * per_chat]] for i in range(len(batch))]
        finally:
            self.tokenizer.padding_side = padding_side
        return out

    def sample(self, chats: Sequence[Chat], k: int, *, temperature: float = 0.9, top_p: float = 0.95,
               seed: int = 0) -> list[list[str]]:
        """`k` sampled replies per chat (on-policy preference data), reproducible by `seed`."""
        import torch

        torch.manual_seed(seed)
        with self._serving(None):
            return self._batched(chats, k, do_sample=True, temperature=temperature, top_p=top_p)

    def close(self) -> None:
        self.model = None


class VLLMGenerator(Generator):
    """vLLM in process; an adapter is served as a LoRA request (`enable_lora`)."""

    name = "vllm"

    def __init__(self, model_path: str | Path, adapter_path: str | Path | None = None, *,
                 adapters: Mapping[str, str | Path] | None = None, enable_lora: bool = False,
                 max_new_tokens: int = 96, engine_args: dict[str, Any] | None = None) -> None:
        try:
            import vllm
        except ImportError as exc:
            raise BackendNotInstalledError("the vllm generator needs vLLM (see the README, Installing by hand)") from exc
        from .model_store import resolve_model

        self.model_path = resolve_model(model_path)
        self.adapter_path = Path(adapter_path).expanduser() if adapter_path else None
        # LoRA is an engine setting: a generator that will get adapters later says so up front.
        self.lora_enabled = bool(enable_lora or self.adapter_path or adapters)
        lora_args = {"enable_lora": True, "max_lora_rank": 64, "max_loras": max(4, len(adapters or {}) + 1)}
        args = {"gpu_memory_utilization": 0.1, "max_model_len": 2048, "kv_cache_memory_bytes": 1 << 30,
                **(lora_args if self.lora_enabled else {}), **(engine_args or {})}
        started = time.perf_counter()
        self.llm = vllm.LLM(model=str(self.model_path), **args)
        self.load_seconds = time.perf_counter() - started
        self.params = vllm.SamplingParams(max_tokens=max_new_tokens, temperature=0.0)
        self.lora = None
        self.adapters: dict[str, Path] = {}
        self._requests: dict[str, Any] = {}
        if self.adapter_path is not None:
            from vllm.lora.request import LoRARequest

            self.lora = LoRARequest(self.adapter_path.name, 1, str(self.adapter_path))
        for adapter_name, path in (adapters or {}).items():
            self.add_adapter(adapter_name, path)

    def identity(self) -> dict[str, Any]:
        return {"backend": self.name, "model": str(self.model_path),
                "adapter": str(self.adapter_path) if self.adapter_path else "",
                **({"adapters": {n: str(p) for n, p in sorted(self.adapters.items())}} if self.adapters else {})}

    def add_adapter(self, name: str, path: str | Path) -> None:
        path = Path(path).expanduser()
        if _same_adapter(self.adapters, name, path):
            return
        if not self.lora_enabled:
            raise ConfigurationError("this vllm generator was started without LoRA: pass enable_lora=True or adapters=")
        from vllm.lora.request import LoRARequest

        # vLLM caches a loaded adapter by its int id: each name keeps its own for good (1 is adapter_path's).
        self._requests[name] = LoRARequest(name, len(self._requests) + 2, str(path))
        self.adapters[name] = path

    def generate(self, chats: Sequence[Chat], adapters: Sequence[str | None] | None = None) -> list[str]:
        lora: Any = self.lora
        if adapters is not None:
            lora = [self._requests[n] if n is not None else self.lora for n in adapter_per_chat(chats, adapters, self.adapters)]
        outputs = self.llm.chat([list(chat) for chat in chats], self.params, use_tqdm=False, lora_request=lora)
        return [output.outputs[0].text.strip() for output in outputs]

    def close(self) -> None:
        self.llm = None


class OpenAIGenerator(Generator):
    """An OpenAI-compatible server: one request per chat (the server batches)."""

    name = "openai"

    def __init__(self, base_url: str, model: str, *, api_key: str = "", max_new_tokens: int = 96,
                 timeout_s: float = 60.0) -> None:
        self.base_url, self.model, self.api_key = base_url.rstrip("/"), model, api_key
        self.max_new_tokens, self.timeout_s = max_new_tokens, timeout_s

    def identity(self) -> dict[str, Any]:
        return {"backend": self.name, "model": self.model, "url": self.base_url, "adapter": ""}

    def add_adapter(self, name: str, path: str | Path) -> None:
        """Nothing to load: the server serves its LoRA modules by name (`--lora-modules NAME=PATH`)."""

    def generate(self, chats: Sequence[Chat], adapters: Sequence[str | None] | None = None) -> list[str]:
        from concurrent.futures import ThreadPoolExecutor

        models = [name or self.model for name in adapter_per_chat(chats, adapters)]
        with ThreadPoolExecutor(max_workers=8) as pool:
            return list(pool.map(self._one, chats, models))

    def _one(self, chat: Chat, model: str) -> str:
        body = json.dumps({"model": model, "messages": list(chat), "max_tokens": self.max_new_tokens,
                           "temperature": 0.0}).encode()
        headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {self.api_key}"} if self.api_key else {})}
        request = urllib.request.Request(f"{self.base_url}/v1/chat/completions", data=body, headers=headers)
        with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
            return json.loads(response.read())["choices"][0]["message"]["content"].strip()


def create_generator(backend: str, model: str, adapter: str | None = None, **options: Any) -> Generator:
    """`backend` is transformers, vllm or openai (then `model` is the served model's name and
    `options["base_url"]` the server)."""
    if backend == "transformers":
        return TransformersGenerator(model, adapter, **options)
    if backend == "vllm":
        return VLLMGenerator(model, adapter, **options)
    if backend == "openai":
        if adapter:
            raise ConfigurationError("an OpenAI-compatible server selects adapters by model name; drop --adapter")
        base_url = options.pop("base_url", None)
        if not base_url:
            raise ConfigurationError("the openai generator needs base_url (--base-url)")
        return OpenAIGenerator(base_url, model, **options)
    raise ConfigurationError(f"unknown generator backend {backend!r}; choose transformers, vllm or openai")
