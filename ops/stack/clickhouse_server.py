"""A real ClickHouse server process built from chdb-core's clickhouse-local.

Run as `python -m raiwatch.ops.stack.clickhouse_server --dir DIR --http-port P --tcp-port Q`.
clickhouse-local opens its HTTP and native listeners on `SYSTEM START LISTEN`, reading ports
from `config.xml` in the working directory; only the module-level `chdb._chdb.query` runs the
full main that can do that, and the server lives only as long as that call. So a keep-alive
query runs in a thread, and stopping means killing that query (SIGTERM does it for us).
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
import urllib.parse
import urllib.request
from pathlib import Path

KEEPALIVE_MARKER = "raiwatch_keepalive"
CONFIG = """<clickhouse>
  <listen_host>{host}</listen_host>
  <http_port>{http_port}</http_port>
  <tcp_port>{tcp_port}</tcp_port>
  <logger><level>warning</level><console>1</console></logger>{users}
</clickhouse>
"""
USERS = """
  <user_directories><users_xml><path>{path}</path></users_xml></user_directories>"""
KEEPALIVE_SQL = (
    "SYSTEM START LISTEN HTTP; SYSTEM START LISTEN TCP; "
    f"SELECT sleepEachRow(1) AS {KEEPALIVE_MARKER} FROM numbers(1000000000) "
    "SETTINGS max_block_size=1, function_sleep_max_microseconds_per_block=0"
)


def kill_keepalive(host: str, http_port: int, timeout_s: float = 10.0) -> None:
    """Ask the server to end its keep-alive query, which ends the process cleanly."""
    sql = (
        "KILL QUERY WHERE query LIKE '%sleepEachRow(1) AS " + KEEPALIVE_MARKER + "%' "
        "AND query NOT LIKE '%KILL QUERY%' SYNC"
    )
    url = f"http://{host}:{http_port}/?" + urllib.parse.urlencode({"query": sql})
    urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=timeout_s).read()


def serve(directory: Path, host: str, http_port: int, tcp_port: int) -> int:
    import chdb._chdb as chdb_native  # must be imported before changing directory

    directory.mkdir(parents=True, exist_ok=True)
    users_xml = directory / "users.xml"  # written by the stack (`clickhouse.write_users`)
    users = USERS.format(path=users_xml) if users_xml.exists() else ""
    (directory / "config.xml").write_text(CONFIG.format(host=host, http_port=http_port, tcp_port=tcp_port, users=users))
    os.chdir(directory)
    outcome: dict[str, str] = {}

    def run() -> None:
        try:
            chdb_native.query(KEEPALIVE_SQL, "TabSeparated", path=str(directory / "data"))
            outcome["status"] = "stopped"
        except Exception as exc:  # noqa: BLE001 - the query being killed ends here too
            outcome["status"] = f"ended: {exc}"

    worker = threading.Thread(target=run, name="clickhouse-keepalive", daemon=True)
    worker.start()

    def on_term(signum: int, _frame: object) -> None:
        try:
            kill_keepalive(host, http_port)
        except Exception:  # noqa: BLE001 - not listening yet or already gone: exit hard
            os._exit(0)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    while worker.is_alive():
        worker.join(timeout=0.5)
    print(f"clickhouse server {outcome.get('status', 'stopped')}", flush=True)
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", type=Path, required=True, help="config and data directory")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--tcp-port", type=int, required=True)
    args = parser.parse_args()
    raise SystemExit(serve(args.dir.resolve(), args.host, args.http_port, args.tcp_port))


if __name__ == "__main__":
    main()
