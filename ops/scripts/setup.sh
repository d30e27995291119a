#!/usr/bin/env bash
# Set up everything raiwatch needs on a fresh machine, idempotently, and print the venv path.
#
#   source ops/scripts/setup.sh        # or: bash ops/scripts/setup.sh
#
# - system tools: Java 17+, Maven, openssl, Chromium (from Debian's packages if missing);
# - a Python venv OUTSIDE the clone, keyed by a hash of the dependency files, so repeat runs
#   and other clones reuse it: $RAIWATCH_CACHE_DIR/venv-<hash> (default ~/.cache/raiwatch);
# - every Python package from ops/requirements/lock.txt, installed with --no-deps: the lock is
#   the complete, resolved set, so nothing is re-resolved (faust-streaming and
#   huggingface-hub disagree about click on paper; the lock records the pair that works);
# - raiwatch itself, editable;
# - the model store and trained guardrail artifacts (see ops/scripts/models.sh).
# The Kafka jars are fetched by Maven on the first `raiwatch stack up` into the same cache.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="${RAIWATCH_CACHE_DIR:-$HOME/.cache/raiwatch}"
PYTHON="${RAIWATCH_PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3

log() { printf '[setup] %s\n' "$*" >&2; }

# System packages from Debian: Java and Maven (the Kafka broker), openssl (the TLS test's
# certificates), Chromium and fonts (the report rendered in a real browser).
missing=()
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v chromium >/dev/null 2>&1 || missing+=(chromium fonts-dejavu-core fonts-liberation)
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing from Debian's packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

KEY="$(cat "$ROOT/pyproject.toml" "$ROOT"/ops/requirements/*.txt | sha256sum | cut -c1-16)"
VENV="$CACHE/venv-$KEY"
if [ ! -f "$VENV/.complete" ]; then
  log "creating $VENV (first run on this machine: downloads several GB, takes minutes)"
  rm -rf "$VENV"
  mkdir -p "$CACHE"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q --no-deps -r "$ROOT/ops/requirements/lock.txt"
  touch "$VENV/.complete"
fi
"$VENV/bin/pip" install -q --no-deps --no-build-isolation -e "$ROOT" 2>/dev/null \
  || "$VENV/bin/pip" install -q --no-deps -e "$ROOT"

export RAIWATCH_VENV="$VENV"
export PATH="$VENV/bin:$PATH"
log "venv ready: $VENV"
bash "$ROOT/ops/scripts/models.sh" >&2
log "model store ready"
