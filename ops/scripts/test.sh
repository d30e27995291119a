#!/usr/bin/env bash
# The test command: set up a fresh machine, start a private stack (Kafka + ClickHouse on free
# loopback ports, state in a temporary directory), run every test, stop the stack even when
# tests fail. Extra arguments go to pytest.
#
#   bash ops/scripts/test.sh            # everything
#   bash ops/scripts/test.sh tests/unit # a subset
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$ROOT/ops/scripts/setup.sh"
cd "$ROOT"

STATE="$(mktemp -d -t raiwatch-test-XXXXXX)"
export RAIWATCH_STACK__HOME="$STATE/home"
read -r RAIWATCH_STACK__KAFKA_PORT RAIWATCH_STACK__KAFKA_CONTROLLER_PORT RAIWATCH_STACK__CLICKHOUSE_HTTP_PORT RAIWATCH_STACK__CLICKHOUSE_TCP_PORT < <(
  python -c 'import socket
socks = [socket.socket() for _ in range(4)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))')
export RAIWATCH_STACK__KAFKA_PORT RAIWATCH_STACK__KAFKA_CONTROLLER_PORT RAIWATCH_STACK__CLICKHOUSE_HTTP_PORT RAIWATCH_STACK__CLICKHOUSE_TCP_PORT

cleanup() {
  raiwatch stack down || true
  rm -rf "$STATE"
}
trap cleanup EXIT

raiwatch stack up
python -m pytest -p no:cacheprovider "$@"
