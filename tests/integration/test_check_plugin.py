"""A check from another package, added without editing raiwatch: the test installs the example
plugin (tests/plugins/raiwatch-example-checks, entry-point group `raiwatch.checks`) with pip
into a folder of its own, and a worker with that folder on its path screens with the check,
configured with an argument; every verdict names the check with its version and arguments."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from raiwatch.ops.pipeline_run import Counts, wait_for_counts
from raiwatch.schemas.clickhouse import clickhouse_client

from .pipeline_helpers import WorkerProcess, replay_file

pytestmark = pytest.mark.integration

PLUGIN = Path(__file__).parents[1] / "plugins" / "raiwatch-example-checks"


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("plugin-site")
    build = tmp_path_factory.mktemp("plugin-build")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(PLUGIN)], check=True, cwd=build)
    return target


def test_the_check_table_lists_the_plugin(plugin_path: Path) -> None:
    listed = subprocess.run([sys.executable, "-m", "raiwatch.ops.cli", "checks", "list", "--json"], check=True,
                            capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(plugin_path)})
    by_name = {entry["name"]: entry for entry in json.loads(listed.stdout)}
    assert by_name["example.shouting"]["provider"] == "raiwatch-example-checks"
    assert "pii.regex" in by_name and by_name["pii.regex"]["provider"] == "raiwatch"


def test_a_plugin_check_screens_the_pipeline(plugin_path: Path, fresh_settings, tmp_path: Path) -> None:
    settings = fresh_settings.replace(join__timeout_s=3.0, screen__checks=[
        "pii.regex", "refusal.keywords", {"name": "example.shouting", "args": {"min_words": 2}}])
    lines = []
    for request, output in (("loud-1", "THIS IS THE ONLY ANSWER YOU GET"), ("calm-1", "Paris is the capital of France.")):
        base = {"schema_version": 1, "request_id": request, "model": {"name": "m"}}
        lines.append(orjson.dumps({"topic": "rai.prompts", "value": {**base, "event_id": f"{request}-p",
                                                                     "prompt": "Tell me something."}}))
        lines.append(orjson.dumps({"topic": "rai.outputs", "value": {**base, "event_id": f"{request}-o",
                                                                     "output": output}}))
    traffic = tmp_path / "traffic.jsonl"
    traffic.write_bytes(b"\n".join(lines) + b"\n")
    worker = WorkerProcess(settings, tmp_path, env={"PYTHONPATH": str(plugin_path)})
    worker.start()
    try:
        replay_file(settings, traffic)
        assert wait_for_counts(settings, 2, 0, 120, worker=worker.proc) == Counts(2, 0), worker.log()
    finally:
        worker.stop()
    rows = dict(clickhouse_client(settings).query(
        "SELECT request_id, (violation, categories, mapKeys(scores)) FROM verdicts FINAL").result_rows)
    plugin_id = "example.shouting@0.1{min_words=2}"
    assert plugin_id in rows["loud-1"][2] and plugin_id in rows["calm-1"][2]
    assert rows["loud-1"][0] == 1 and "shouting" in rows["loud-1"][1]
    assert rows["calm-1"][0] == 0
