"""Security on real servers: a local broker with a SASL_SSL listener (SCRAM-SHA-512 over TLS,
certificates made here with openssl), which a whole worker uses end to end with the right
credentials and which refuses wrong ones with a clear error; a ClickHouse server with a password
for the workers' user and a read-only dashboard user that cannot insert; secrets in no log and
no status output; raw texts that expire after 7 days."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from raiwatch.ops.pipeline_run import Counts, wait_for_counts
from raiwatch.ops.settings import RaiwatchSettings
from raiwatch.ops.stack import clickhouse, kafka
from raiwatch.schemas.clickhouse import clickhouse_client
from raiwatch.schemas.clickhouse.migrate import migrate

from ..stack_fixtures import free_ports, isolated_stack_settings, namespaced
from .pipeline_helpers import WorkerProcess, replay_file, write_traffic_file

pytestmark = pytest.mark.integration

KAFKA_PASSWORD = "scram-pass-8f2e1c"
KEYSTORE_PASSWORD = "keystore-pass-51aa"
CLICKHOUSE_PASSWORD = "writer-pass-c0ffee"
READER_PASSWORD = "reader-pass-d00d"


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certificates(folder: Path) -> tuple[Path, Path]:
    """A CA and a broker certificate for 127.0.0.1 signed by it; returns (CA PEM, PKCS12 keystore)."""
    folder.mkdir(parents=True, exist_ok=True)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=raiwatch test CA", cwd=folder)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "broker.key", "-out", "broker.csr",
            "-subj", "/CN=localhost", cwd=folder)
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", "broker.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "broker.pem", "-days", "2", "-extfile", "san.ext", cwd=folder)
    openssl("pkcs12", "-export", "-in", "broker.pem", "-inkey", "broker.key", "-certfile", "ca.pem",
            "-out", "broker.p12", "-name", "broker", "-passout", f"pass:{KEYSTORE_PASSWORD}", cwd=folder)
    return folder / "ca.pem", folder / "broker.p12"


@pytest.fixture(scope="module")
def secure_broker(tmp_path_factory: pytest.TempPathFactory):
    """A private broker with a plaintext and a SASL_SSL listener; yields (broker settings, CA)."""
    home = tmp_path_factory.mktemp("secure-stack")
    ca, keystore = make_certificates(home / "tls")
    (secure_port,) = free_ports(1)
    settings = isolated_stack_settings(home).replace(
        stack__kafka_secure_port=secure_port, stack__kafka_keystore=keystore,
        stack__kafka_keystore_password=KEYSTORE_PASSWORD, stack__kafka_scram_users={"raiwatch": KAFKA_PASSWORD})
    kafka.start(settings)
    try:
        deadline = time.monotonic() + 90
        while not kafka.is_healthy(settings)[0]:
            assert time.monotonic() < deadline, kafka.kafka_process(settings).log_file.read_text()[-3000:]
            time.sleep(1)
        yield settings, ca
    finally:
        kafka.kafka_process(settings).stop()


def client_settings(base: RaiwatchSettings, broker: RaiwatchSettings, ca: Path, password: str) -> RaiwatchSettings:
    """`base` (the shared ClickHouse, a fresh prefix and database) talking to the secure listener."""
    return base.replace(kafka__bootstrap_servers=f"127.0.0.1:{broker.stack.kafka_secure_port}",
                        kafka__security_protocol="SASL_SSL", kafka__sasl_mechanism="SCRAM-SHA-512",
                        kafka__username="raiwatch", kafka__password=password, kafka__ssl_cafile=ca)


def cli(settings: RaiwatchSettings, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "raiwatch.ops.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **settings.environment()}, timeout=120)


def test_a_worker_runs_end_to_end_over_sasl_ssl(secure_broker, fresh_settings, tmp_path: Path) -> None:
    broker, ca = secure_broker
    settings = client_settings(namespaced(fresh_settings), broker, ca, KAFKA_PASSWORD).replace(join__timeout_s=3.0)
    migrate(settings)
    created = cli(settings, "topics", "create")
    assert created.returncode == 0, created.stderr
    traffic = tmp_path / "traffic.jsonl"
    stats = write_traffic_file(traffic, requests=60, malformed=4, seed=41)
    worker = WorkerProcess(settings, tmp_path)
    worker.start()
    try:
        replay_file(settings, traffic)  # the project's own producer, over SASL_SSL too
        got = wait_for_counts(settings, stats["requests"], stats["malformed"], 180, worker=worker.proc)
        assert got == Counts(stats["requests"], stats["malformed"]), worker.log()
    finally:
        worker.stop()
    assert KAFKA_PASSWORD not in worker.log()


def test_wrong_credentials_fail_with_a_clear_error(secure_broker, fresh_settings) -> None:
    broker, ca = secure_broker
    settings = client_settings(namespaced(fresh_settings), broker, ca, "not-the-password")
    listed = cli(settings, "topics", "list")
    assert listed.returncode == 1
    assert "authentication failed" in listed.stderr.lower(), listed.stderr
    assert "not-the-password" not in listed.stderr + listed.stdout


def test_no_secret_in_stack_status(secure_broker, fresh_settings) -> None:
    broker, ca = secure_broker
    settings = client_settings(namespaced(fresh_settings), broker, ca, KAFKA_PASSWORD).replace(
        clickhouse__password=CLICKHOUSE_PASSWORD)
    status = cli(settings, "stack", "status", "--json")
    assert status.returncode in (0, 1), status.stderr
    shown = status.stdout + status.stderr
    assert json.loads(status.stdout) and KAFKA_PASSWORD not in shown and CLICKHOUSE_PASSWORD not in shown


@pytest.fixture(scope="module")
def clickhouse_with_users(tmp_path_factory: pytest.TempPathFactory):
    """A private ClickHouse server whose workers' user has a password, with a read-only reader."""
    settings = isolated_stack_settings(tmp_path_factory.mktemp("clickhouse-users")).replace(
        clickhouse__user="raiwatch", clickhouse__password=CLICKHOUSE_PASSWORD, clickhouse__database="secured",
        stack__clickhouse_reader_user="dashboard", stack__clickhouse_reader_password=READER_PASSWORD)
    clickhouse.start(settings)
    try:
        deadline = time.monotonic() + 60
        while not clickhouse.is_healthy(*settings.clickhouse_address)[0]:
            assert time.monotonic() < deadline
            time.sleep(0.5)
        yield settings
    finally:
        clickhouse.stop(settings)


def test_clickhouse_users_writer_and_read_only_reader(clickhouse_with_users: RaiwatchSettings) -> None:
    settings = clickhouse_with_users
    migrate(settings)  # as the workers' user, with its password
    writer = clickhouse_client(settings)
    insert = ("INSERT INTO alerts (alert_id, kind, severity, summary, window_start, event_time) "
              "VALUES ('{id}', 'violation', 'high', 's', now64(3), now64(3))")
    writer.command(insert.format(id="a1"))
    reader = clickhouse_client(settings.replace(clickhouse__user="dashboard", clickhouse__password=READER_PASSWORD))
    assert reader.query("SELECT count() FROM alerts").result_rows == [(1,)]
    with pytest.raises(Exception, match="READONLY|readonly"):
        reader.command(insert.format(id="a2"))
    with pytest.raises(Exception, match="AUTHENTICATION_FAILED|Authentication failed"):
        clickhouse_client(settings.replace(clickhouse__password="wrong")).query("SELECT 1")
    users_file = (clickhouse.clickhouse_dir(settings) / "users.xml").read_text()
    assert CLICKHOUSE_PASSWORD not in users_file and READER_PASSWORD not in users_file  # hashes only


def test_raw_texts_expire_after_seven_days_and_redacted_ones_stay(fresh_settings) -> None:
    client = clickhouse_client(fresh_settings)
    now = datetime.now(UTC)
    columns = ["request_id", "event_time", "tenant", "prompt_redacted", "prompt_raw", "output_redacted", "output_raw"]
    client.insert("messages", [["old", now - timedelta(days=8), "t", "<EMAIL>", "jane@example.com", "hi", "hi raw"],
                               ["new", now - timedelta(days=1), "t", "<EMAIL>", "joe@example.com", "hi", "hi raw"]],
                  column_names=columns)
    client.command("OPTIMIZE TABLE messages FINAL")
    rows = dict(client.query("SELECT request_id, (prompt_raw, output_raw, prompt_redacted) FROM messages").result_rows)
    assert rows["old"] == ("", "", "<EMAIL>")
    assert rows["new"] == ("joe@example.com", "hi raw", "<EMAIL>")

