#!/usr/bin/env bash
# The main job on the embedded default: set up, start the local stack, publish the sample
# traffic, read the counts back from the topics.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$ROOT/ops/scripts/setup.sh"
raiwatch stack up
raiwatch replay "$ROOT/ops/data/sample_traffic.jsonl"
raiwatch topics list
for topic in rai.prompts rai.outputs; do
  printf '%s: %s message(s) on the topic\n' "$topic" "$(raiwatch tail "$topic" -n 1000000 | wc -l)"
done
