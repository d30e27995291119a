"""The local Apache Kafka broker: KRaft mode, one combined broker+controller, jars from Maven.

Jars are resolved once by Maven into a cache keyed by the pom's hash (so a Kafka upgrade is a
pom edit), the storage directory is formatted once, and the broker runs detached with a pid
file and a log file under `settings.stack.home`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import shutil
import subprocess
import uuid
from importlib import resources
from pathlib import Path

from ..errors import StackError
from ..settings import RaiwatchSettings
from .process import ManagedProcess

LOG4J2 = """\
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.stdout.ref = STDOUT
logger.server.name = kafka.server.KafkaRaftServer
logger.server.level = info
"""


def kafka_dir(settings: RaiwatchSettings) -> Path:
    """Broker state: config, data, cluster id."""
    return settings.stack.home_dir / "kafka"


def kafka_process(settings: RaiwatchSettings) -> ManagedProcess:
    """The broker as a managed process; its marker is its own config path."""
    run = settings.stack.home_dir / "run"
    return ManagedProcess(
        name="kafka",
        pid_file=run / "kafka.pid",
        log_file=run / "kafka.log",
        marker=str(kafka_dir(settings) / "server.properties"),
    )


def ensure_jars(settings: RaiwatchSettings) -> Path:
    """Directory of the broker's jars, resolving them with Maven on first use."""
    pom = resources.files("raiwatch.ops.stack").joinpath("kafka-pom.xml").read_bytes()
    digest = hashlib.sha256(pom).hexdigest()[:16]
    libs = settings.cache_path / "kafka" / digest / "libs"
    done = libs.parent / ".complete"
    if done.exists():
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise StackError("Maven (mvn) is needed once to fetch the Kafka jars; install it (apt-get install maven)")
    libs.parent.mkdir(parents=True, exist_ok=True)
    (libs.parent / "pom.xml").write_bytes(pom)
    result = subprocess.run(
        [mvn, "-q", "-B", "dependency:copy-dependencies", f"-DoutputDirectory={libs}", "-DincludeScope=runtime"],
        cwd=libs.parent,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise StackError(f"mvn could not fetch the Kafka jars:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    done.write_text("ok\n")
    return libs


def write_config(settings: RaiwatchSettings) -> Path:
    """server.properties for a single KRaft node on loopback (rewritten on every start)."""
    base = kafka_dir(settings)
    (base / "data").mkdir(parents=True, exist_ok=True)
    host, port, cport = settings.stack.host, settings.stack.kafka_port, settings.stack.kafka_controller_port
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{cport}",
        "advertised.listeners": f"PLAINTEXT://{host}:{port}",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "controller.quorum.bootstrap.servers": f"{host}:{cport}",
        "log.dirs": str(base / "data"),
        # One node: every internal topic has a single replica.
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "10",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "4",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "false",
        "num.partitions": "1",
        "message.max.bytes": str(max(settings.kafka.max_message_bytes * 2, 2_097_152)),
        "log.retention.check.interval.ms": "60000",
    }
    props.update(_secure_listener(settings))
    path = base / "server.properties"
    path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
    path.chmod(0o600)  # it may hold the keystore's password
    (base / "log4j2.properties").write_text(LOG4J2)
    return path


def _secure_listener(settings: RaiwatchSettings) -> dict[str, str]:
    """The SASL_SSL listener (SCRAM-SHA-512 over TLS) beside the plaintext one, when asked for;
    brokers and controllers keep talking over plaintext on loopback."""
    stack = settings.stack
    if stack.kafka_secure_port is None:
        return {}
    if stack.kafka_keystore is None or stack.kafka_keystore_password is None:
        raise StackError("stack.kafka_secure_port needs stack.kafka_keystore and stack.kafka_keystore_password")
    host, port, secure, cport = stack.host, stack.kafka_port, stack.kafka_secure_port, stack.kafka_controller_port
    scram = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
    return {
        "listeners": f"PLAINTEXT://{host}:{port},SASL_SSL://{host}:{secure},CONTROLLER://{host}:{cport}",
        "advertised.listeners": f"PLAINTEXT://{host}:{port},SASL_SSL://{host}:{secure}",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name": "PLAINTEXT",
        "sasl.enabled.mechanisms": "SCRAM-SHA-512",
        "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": scram,
        "ssl.keystore.type": "PKCS12",
        "ssl.keystore.location": str(stack.kafka_keystore.expanduser().resolve()),
        "ssl.keystore.password": stack.kafka_keystore_password.get_secret_value(),
    }


def format_storage(settings: RaiwatchSettings, libs: Path, config: Path) -> None:
    """Format the log directory once; the cluster id is kept beside it."""
    base = kafka_dir(settings)
    if (base / "data" / "meta.properties").exists():
        return
    id_file = base / "cluster.id"
    if not id_file.exists():
        id_file.write_text(new_cluster_id() + "\n")
    result = subprocess.run(
        [_java(), "-cp", f"{libs}/*", f"-Dlog4j2.configurationFile={base / 'log4j2.properties'}",
         "kafka.tools.StorageTool", "format", "--standalone", f"--cluster-id={id_file.read_text().strip()}",
         "-c", str(config), *_scram_users(settings)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise StackError(f"formatting Kafka storage failed:\n{result.stdout}{result.stderr}")


def _scram_users(settings: RaiwatchSettings) -> list[str]:
    """StorageTool arguments that create the SCRAM users (KRaft stores credentials in its
    metadata log from the start)."""
    args = []
    for name, password in settings.stack.kafka_scram_users.items():
        args += ["--add-scram", f"SCRAM-SHA-512=[name={name},password={password.get_secret_value()}]"]
    return args


def new_cluster_id() -> str:
    """A random KRaft cluster id (base64url of a UUID). Like Kafka's own generator it never
    starts with "-", which the storage tool's argument parser would take for an option."""
    while True:
        candidate = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not candidate.startswith("-"):
            return candidate


def start(settings: RaiwatchSettings) -> int:
    """Start the broker if our process is not already running; returns its pid."""
    proc = kafka_process(settings)
    pid = proc.pid()
    if pid is not None:
        return pid
    libs = ensure_jars(settings)
    config = write_config(settings)
    format_storage(settings, libs, config)
    argv = [
        # The whole heap from the start (as Kafka's own start script does): grown from a small
        # initial heap under load, the broker's first minutes ran frequent young collections.
        _java(), f"-Xmx{settings.stack.kafka_heap}", f"-Xms{settings.stack.kafka_heap}", "-XX:+UseG1GC", "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={kafka_dir(settings) / 'log4j2.properties'}",
        "-cp", f"{libs}/*", "kafka.Kafka", str(config),
    ]
    return proc.start(argv, cwd=kafka_dir(settings))


def is_healthy(settings: RaiwatchSettings, timeout_s: float = 5.0) -> tuple[bool, str]:
    """A metadata request answered within `timeout_s` means healthy."""
    return asyncio.run(_probe(settings, timeout_s))


async def _probe(settings: RaiwatchSettings, timeout_s: float) -> tuple[bool, str]:
    import logging

    from .. import kafka_clients

    # A broker that is still starting refuses connections; that is the answer, not a log line.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)

    admin = kafka_clients.admin(settings, request_timeout_ms=int(timeout_s * 1000))
    try:
        await asyncio.wait_for(admin.start(), timeout_s)
        cluster = await asyncio.wait_for(admin.describe_cluster(), timeout_s)
        return True, f"cluster {cluster['cluster_id']}, {len(cluster['brokers'])} broker(s)"
    except Exception as exc:  # noqa: BLE001 - any failure means "not healthy", with its reason
        return False, f"{type(exc).__name__}: {exc}"
    finally:
        try:
            await asyncio.wait_for(admin.close(), timeout_s)
        except Exception:  # noqa: BLE001
            pass


def _java() -> str:
    java = shutil.which("java")
    if java is None:
        raise StackError("Java 17+ is needed to run Kafka; install a JDK (apt-get install openjdk-17-jre-headless)")
    return java
