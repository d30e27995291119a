#!/usr/bin/env bash
# The main job on the embedded default: set up, start the local stack (left running; stop it
# with `raiwatch stack down`), run the pipeline on generated traffic, print the summary read
# back from ClickHouse. Extra arguments go to `raiwatch demo` (e.g. --requests 5000 --json).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$ROOT/ops/scripts/setup.sh"
raiwatch demo "$@"
