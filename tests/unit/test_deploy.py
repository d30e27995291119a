"""The deployment files (deploy/), validated offline: no network, no cluster, no Docker.

- Kubernetes: the kustomizations (base and each overlay) are rendered here, in Python, with the
  subset of kustomize they use (resources, namespace, images, replicas, strategic-merge and
  JSON 6902 patches; anything else fails the test rather than being ignored; where a kustomize
  binary is on PATH, its `kustomize build` output must equal this rendering). Every core
  resource is validated against the Kubernetes JSON schemas shipped in `kubernetes-validate`
  (strict: unknown fields fail); the custom resources (Strimzi, Altinity) live under
  `base/custom/` and are checked for what raiwatch relies on.
- The product's rules: stage workers <= the input topics' partitions, worker ids from the pod
  name, probes on /live and /ready at the configured health port (and a health endpoint that
  listens beyond loopback), a drain that fits the grace period, a GPU for vLLM, the judge
  pointed at the vLLM Service and model, no secret in a ConfigMap, every RAIWATCH_* variable a
  real setting that parses, every reference (ConfigMap, Secret, Service, volume) resolvable,
  and the Kafka/ClickHouse wiring consistent with the Strimzi and Altinity resources.
- docker compose: the Compose Specification schema (from the `check-jsonschema` package, which
  vendors the compose-spec project's schema; skipped when that package is not installed) and
  the same product rules; the Grafana provisioning (the ClickHouse plugin, every data source the
  dashboards use, the dashboards folder); the Dockerfile's install steps and the paths it copies.

Each check is a function that raises AssertionError; `test_checks_catch_broken_manifests`
breaks a copy of the manifests in one way per check and asserts that the check fails.
"""

from __future__ import annotations

import base64
import copy
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args
from urllib.parse import urlparse

import jsonschema
import kubernetes_validate
import pytest
import yaml
from pydantic import BaseModel, SecretStr, ValidationError

from raiwatch.models.catalog import BUILTIN_CHECKS
from raiwatch.ops.settings import RaiwatchSettings
from raiwatch.schemas.registry import TOPICS, TRAFFIC_PARTITIONS

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
KUSTOMIZE = DEPLOY / "kubernetes"
VARIANTS = {"base": KUSTOMIZE / "base", "dev": KUSTOMIZE / "overlays" / "dev",
            "production": KUSTOMIZE / "overlays" / "production"}
CUSTOM_DIR = "custom"  # the base's folder for custom resources (CRDs not in the schemas)
CUSTOM_GROUPS = {"kafka.strimzi.io", "clickhouse.altinity.com"}
# The oldest Kubernetes version the manifests promise to work on, and the newest schemas shipped.
K8S_VERSIONS = ("1.30", kubernetes_validate.latest_version())
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "Job", "DaemonSet", "ReplicaSet"}
REPLICA_KINDS = {"Deployment", "StatefulSet", "ReplicaSet", "ReplicationController"}
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


# --------------------------------------------------------------------------------------------
# Settings: the names RAIWATCH_<GROUP>__<FIELD> and which of them are secrets
# --------------------------------------------------------------------------------------------

def _is_secret(annotation: Any) -> bool:
    return annotation is SecretStr or SecretStr in get_args(annotation)


def setting_names() -> dict[str, bool]:
    """Every environment name of RaiwatchSettings -> whether the setting is a secret."""
    names: dict[str, bool] = {}
    for group, info in RaiwatchSettings.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            for name, inner in annotation.model_fields.items():
                names[f"RAIWATCH_{group.upper()}__{name.upper()}"] = _is_secret(inner.annotation)
        else:
            names[f"RAIWATCH_{group.upper()}"] = _is_secret(annotation)
    return names


SETTINGS = setting_names()
SECRET_SETTINGS = {name for name, secret in SETTINGS.items() if secret}


@contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    try:
        for name in [n for n in os.environ if n.startswith("RAIWATCH_")]:
            del os.environ[name]
        os.environ.update(env)
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def settings_from(env: dict[str, str]) -> RaiwatchSettings:
    """The settings a process with exactly these RAIWATCH_* variables gets (names checked first:
    pydantic-settings ignores an unknown group)."""
    unknown = sorted(n for n in env if n.startswith("RAIWATCH_") and n not in SETTINGS)
    assert not unknown, f"not raiwatch settings (see ops/settings.py): {unknown}"
    with _environment({k: v for k, v in env.items() if k.startswith("RAIWATCH_")}):
        try:
            return RaiwatchSettings()
        except ValidationError as exc:
            raise AssertionError(f"the settings refuse these values: {exc}") from None


# --------------------------------------------------------------------------------------------
# A small kustomize: what the overlays use, and nothing silently ignored
# --------------------------------------------------------------------------------------------

KUSTOMIZATION_FIELDS = {"apiVersion", "kind", "namespace", "resources", "images", "replicas", "patches"}
# Strategic merge keys of the core lists the patches touch (other lists are replaced).
MERGE_KEYS = {"containers": "name", "initContainers": "name", "env": "name", "volumes": "name",
              "volumeMounts": "mountPath", "imagePullSecrets": "name"}


def load_docs(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def group_of(resource: dict) -> str:
    api = resource["apiVersion"]
    return api.split("/")[0] if "/" in api else ""


def res_id(resource: dict) -> tuple[str, str, str]:
    return group_of(resource), resource["kind"], resource["metadata"]["name"]


@dataclass
class Rendered:
    """A kustomization's output: resources in order, and which of them are custom resources."""

    name: str
    resources: list[dict]
    custom: set[tuple[str, str, str]] = field(default_factory=set)

    def of_kind(self, kind: str) -> list[dict]:
        return [r for r in self.resources if r["kind"] == kind]

    def get(self, kind: str, name: str) -> dict:
        found = [r for r in self.resources if r["kind"] == kind and r["metadata"]["name"] == name]
        assert len(found) == 1, f"{self.name}: expected one {kind}/{name}, found {len(found)}"
        return found[0]

    def core(self) -> list[dict]:
        return [r for r in self.resources if res_id(r) not in self.custom]


def _selector_matches(selector: str, values: dict[str, str]) -> bool:
    for term in selector.split(","):
        key, _, value = term.partition("=")
        if values.get(key.strip()) != value.strip():
            return False
    return True


def _target_matches(target: dict, resource: dict) -> bool:
    unknown = set(target) - {"group", "version", "kind", "name", "namespace", "labelSelector", "annotationSelector"}
    assert not unknown, f"patch target fields not supported by the test's renderer: {unknown}"
    api = resource["apiVersion"]
    meta = resource["metadata"]
    checks = [
        ("group", group_of(resource)), ("version", api.split("/")[-1]), ("kind", resource["kind"]),
        ("namespace", meta.get("namespace", "")),
    ]
    if any(key in target and target[key] != value for key, value in checks):
        return False
    if "name" in target and not re.fullmatch(target["name"], meta["name"]):
        return False
    if "labelSelector" in target and not _selector_matches(target["labelSelector"], meta.get("labels", {})):
        return False
    if "annotationSelector" in target and not _selector_matches(target["annotationSelector"], meta.get("annotations", {})):
        return False
    return True


def strategic_merge(target: dict, patch: dict, merge_lists: bool) -> None:
    """Strategic merge (core kinds: lists with a merge key merge by it) or, with merge_lists
    False, JSON merge patch (custom kinds: lists are replaced), in place; null deletes a key."""
    for key, value in patch.items():
        if key.startswith("$"):
            raise AssertionError(f"unsupported patch directive {key}")
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            strategic_merge(target[key], value, merge_lists)
        elif merge_lists and key in MERGE_KEYS and isinstance(value, list) and isinstance(target.get(key), list):
            merge_key = MERGE_KEYS[key]
            for item in value:
                match = next((t for t in target[key] if t.get(merge_key) == item.get(merge_key)), None)
                if match is None:
                    target[key].append(copy.deepcopy(item))
                else:
                    strategic_merge(match, item, merge_lists)
        else:
            target[key] = copy.deepcopy(value)


def _pointer(path: str) -> list[str]:
    return [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")[1:]]


def json6902(doc: dict, operations: list[dict]) -> None:
    for operation in operations:
        op, parts = operation["op"], _pointer(operation["path"])
        parent: Any = doc
        for part in parts[:-1]:
            parent = parent[int(part)] if isinstance(parent, list) else parent[part]
        last = parts[-1]
        if op == "add":
            if isinstance(parent, list):
                parent.insert(len(parent) if last == "-" else int(last), copy.deepcopy(operation["value"]))
            else:
                parent[last] = copy.deepcopy(operation["value"])
        elif op == "replace":
            index: Any = int(last) if isinstance(parent, list) else last
            parent[index]  # noqa: B018 - must exist (KeyError/IndexError otherwise)
            parent[index] = copy.deepcopy(operation["value"])
        elif op == "remove":
            del parent[int(last) if isinstance(parent, list) else last]
        else:
            raise AssertionError(f"JSON 6902 op {op!r} is not supported by the test's renderer")


def _apply_patch(rendered: Rendered, docs: list[Any], target: dict | None, where: str) -> None:
    if docs and isinstance(docs[0], list):  # JSON 6902
        assert target, f"{where}: a JSON 6902 patch needs a target"
        matched = [r for r in rendered.resources if _target_matches(target, r)]
        assert matched, f"{where}: the patch's target matches no resource"
        for resource in matched:
            json6902(resource, docs[0])
        return
    for patch in docs:
        if target:
            matched = [r for r in rendered.resources if _target_matches(target, r)]
        else:
            matched = [r for r in rendered.resources if res_id(r) == res_id(patch)]
        assert matched, f"{where}: the patch {patch.get('kind')}/{patch['metadata'].get('name')} matches no resource"
        if patch.get("$patch") == "delete":
            rendered.resources = [r for r in rendered.resources if not any(r is m for m in matched)]
            continue
        body = {k: v for k, v in patch.items() if k not in ("apiVersion", "kind", "metadata")}
        for resource in matched:
            strategic_merge(resource, body, merge_lists=res_id(resource) not in rendered.custom)
            for meta_key in ("labels", "annotations"):
                if meta_key in patch["metadata"]:
                    resource["metadata"].setdefault(meta_key, {}).update(patch["metadata"][meta_key])


def _set_images(node: Any, images: list[dict]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("containers", "initContainers") and isinstance(value, list):
                for container in value:
                    container["image"] = _new_image(container["image"], images)
            else:
                _set_images(value, images)
    elif isinstance(node, list):
        for item in node:
            _set_images(item, images)


def _new_image(image: str, images: list[dict]) -> str:
    name, digest = (image.split("@", 1) + [None])[:2]
    tag = None
    if digest is None and ":" in name.rsplit("/", 1)[-1]:
        name, tag = name.rsplit(":", 1)
    for entry in images:
        if entry["name"] == name:
            name = entry.get("newName", name)
            if "digest" in entry:
                return f"{name}@{entry['digest']}"
            tag = entry.get("newTag", tag)
    return name + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


def render(directory: Path) -> Rendered:
    """What `kustomize build directory` gives, for the features these kustomizations use."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(kustomization) - KUSTOMIZATION_FIELDS
    assert not unknown, f"{directory}: kustomization fields the test cannot apply: {sorted(unknown)}"
    rendered = Rendered(directory.name, [])
    for entry in kustomization.get("resources", []):
        path = (directory / entry).resolve()
        if path.is_dir():
            inner = render(path)
            rendered.resources += inner.resources
            rendered.custom |= inner.custom
            continue
        for doc in load_docs(path):
            assert isinstance(doc, dict) and {"apiVersion", "kind", "metadata"} <= set(doc), f"{path}: not a resource"
            rendered.resources.append(doc)
            if Path(entry).parts[0] == CUSTOM_DIR:
                rendered.custom.add(res_id(doc))
    ids = [res_id(r) for r in rendered.resources]
    assert len(ids) == len(set(ids)), f"{directory}: duplicate resources"
    for number, patch in enumerate(kustomization.get("patches", [])):
        where = f"{directory.name}: patch {number}"
        assert set(patch) <= {"path", "patch", "target"}, f"{where}: unsupported fields {set(patch)}"
        docs = load_docs(directory / patch["path"]) if "path" in patch else list(yaml.safe_load_all(patch["patch"]))
        _apply_patch(rendered, docs, patch.get("target"), where)
    if "namespace" in kustomization:
        for resource in rendered.resources:
            resource["metadata"]["namespace"] = kustomization["namespace"]
    for entry in kustomization.get("replicas", []):
        matched = [r for r in rendered.resources if r["kind"] in REPLICA_KINDS and r["metadata"]["name"] == entry["name"]]
        assert len(matched) == 1, f"{directory.name}: replicas for {entry['name']} match {len(matched)} resources"
        matched[0]["spec"]["replicas"] = entry["count"]
    if "images" in kustomization:
        _set_images(rendered.resources, kustomization["images"])
    return rendered


@pytest.fixture(scope="module")
def renders() -> dict[str, Rendered]:
    return {variant: render(path) for variant, path in VARIANTS.items()}


# --------------------------------------------------------------------------------------------
# Pods, containers and their environment
# --------------------------------------------------------------------------------------------

def pod_spec(workload: dict) -> dict:
    return workload["spec"]["template"]["spec"]


def workloads(rendered: Rendered) -> list[dict]:
    return [r for r in rendered.resources if r["kind"] in WORKLOAD_KINDS]


def is_raiwatch_image(image: str) -> bool:
    return image.split("@")[0].rsplit("/", 1)[-1].split(":")[0] == "raiwatch"


def raiwatch_containers(rendered: Rendered) -> list[tuple[dict, dict]]:
    return [(w, c) for w in workloads(rendered) for c in pod_spec(w)["containers"] if is_raiwatch_image(c["image"])]


def worker_part(container: dict) -> str | None:
    """'stages', 'sinks' or 'feeds' for a `raiwatch worker --only <part>` container (the image's
    entrypoint is `raiwatch`), 'both' for a plain `raiwatch worker`, None otherwise."""
    if container.get("command") or not container.get("args") or container["args"][0] != "worker":
        return None
    args = container["args"]
    return args[args.index("--only") + 1] if "--only" in args else "both"


def the_worker(rendered: Rendered, part: str) -> tuple[dict, dict]:
    found = [(w, c) for w, c in raiwatch_containers(rendered) if worker_part(c) == part]
    assert len(found) == 1, f"{rendered.name}: expected one `raiwatch worker --only {part}` workload, found {len(found)}"
    return found[0]


OPERATOR_MADE = "made by the operator"


def secrets_available(rendered: Rendered, renders: dict[str, Rendered]) -> dict[str, dict[str, str]]:
    """Secret name -> decoded data: the rendered Secrets; in production, the base's placeholders
    (that overlay leaves them out: they are made outside of kustomize with the same names and
    keys); and the Secrets the Strimzi operator makes for the rendered Kafka and KafkaUsers."""
    found: dict[str, dict[str, str]] = {}
    for kafka in rendered.of_kind("Kafka"):
        found[f"{kafka['metadata']['name']}-cluster-ca-cert"] = dict.fromkeys(("ca.crt", "ca.p12", "ca.password"),
                                                                             OPERATOR_MADE)
    for user in rendered.of_kind("KafkaUser"):
        found[user["metadata"]["name"]] = dict.fromkeys(("password", "sasl.jaas.config"), OPERATOR_MADE)
    external = renders["base"].of_kind("Secret") if rendered.name == "production" else []
    for secret in external + rendered.of_kind("Secret"):
        data = {k: base64.b64decode(v).decode() for k, v in secret.get("data", {}).items()}
        data.update(secret.get("stringData", {}))
        found[secret["metadata"]["name"]] = data
    return found


@dataclass
class ContainerEnv:
    values: dict[str, str]
    secret_refs: dict[str, tuple[str, str]]  # variable -> (Secret, key)
    field_refs: dict[str, str]  # variable -> fieldPath
    from_configmaps: set[str]  # variables set from a ConfigMap (envFrom or configMapKeyRef)


def sample_pod_name(workload: dict) -> str:
    name = workload["metadata"]["name"]
    return f"{name}-0" if workload["kind"] == "StatefulSet" else f"{name}-7d9f8-x2x4q"


def container_env(rendered: Rendered, workload: dict, container: dict,
                  secrets: dict[str, dict[str, str]]) -> ContainerEnv:
    """The container's environment as the kubelet builds it (secret values from the Secrets)."""
    env = ContainerEnv({}, {}, {}, set())
    for source in container.get("envFrom", []):
        assert set(source) <= {"configMapRef", "prefix"}, f"unexpected envFrom {source}"
        config_map = rendered.get("ConfigMap", source["configMapRef"]["name"])
        for key, value in config_map.get("data", {}).items():
            env.values[source.get("prefix", "") + key] = value
            env.from_configmaps.add(source.get("prefix", "") + key)
    for var in container.get("env", []):
        name = var["name"]
        if "value" in var:
            env.values[name] = var["value"]
            continue
        ref = var["valueFrom"]
        if "fieldRef" in ref:
            path = ref["fieldRef"]["fieldPath"]
            env.field_refs[name] = path
            env.values[name] = {"metadata.name": sample_pod_name(workload)}.get(path, "field")
        elif "configMapKeyRef" in ref:
            key_ref = ref["configMapKeyRef"]
            config_map = rendered.get("ConfigMap", key_ref["name"])
            env.values[name] = config_map["data"][key_ref["key"]]
            env.from_configmaps.add(name)
        elif "secretKeyRef" in ref:
            key_ref = ref["secretKeyRef"]
            env.secret_refs[name] = (key_ref["name"], key_ref["key"])
            value = secrets.get(key_ref["name"], {}).get(key_ref["key"])
            if value is None:
                assert key_ref.get("optional"), f"{name}: no Secret {key_ref['name']} with key {key_ref['key']}"
                continue
            env.values[name] = value
        else:
            raise AssertionError(f"{name}: unsupported valueFrom {ref}")
    return env


def probe_port(container: dict, probe: dict) -> int:
    port = probe["httpGet"]["port"]
    if isinstance(port, int):
        return port
    named = [p["containerPort"] for p in container.get("ports", []) if p.get("name") == port]
    assert named, f"probe port {port!r} is not a named port of container {container['name']}"
    return named[0]


# --------------------------------------------------------------------------------------------
# The Kubernetes checks
# --------------------------------------------------------------------------------------------

def check_schemas(rendered: Rendered, version: str) -> None:
    """Every core resource validates (strict: no unknown field) against the Kubernetes schemas."""
    for resource in rendered.core():
        try:
            kubernetes_validate.validate(resource, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            raise AssertionError(f"{rendered.name}: {resource['kind']}/{resource['metadata']['name']} "
                                 f"is not valid Kubernetes {exc.version}: {path}: {exc.message}") from None
        except kubernetes_validate.SchemaNotFoundError as exc:
            raise AssertionError(f"{rendered.name}: {exc.message}; a custom resource belongs under "
                                 f"base/{CUSTOM_DIR}/") from None


def check_custom_resources_apart(rendered: Rendered) -> None:
    """Custom resources (and only they) come from base/custom/: the Kubernetes schemas do not
    know them, and they belong to the operators raiwatch uses."""
    for resource in rendered.resources:
        custom = res_id(resource) in rendered.custom
        assert (group_of(resource) in CUSTOM_GROUPS) == custom, \
            f"{resource['kind']}/{resource['metadata']['name']}: custom resources go under base/{CUSTOM_DIR}/, core ones not"
        if custom:
            try:
                kubernetes_validate.validate(resource, K8S_VERSIONS[-1], strict=True)
            except kubernetes_validate.SchemaNotFoundError:
                continue
            raise AssertionError(f"{resource['kind']} has a Kubernetes schema: it is not a custom resource")
    kinds = {r["kind"] for r in rendered.resources if res_id(r) in rendered.custom}
    assert kinds == {"Kafka", "KafkaNodePool", "KafkaUser", "ClickHouseInstallation"}, kinds


def check_stage_workers(rendered: Rendered) -> None:
    """The stage workers: a StatefulSet, 1..partitions replicas; the sinks and the feeds likewise."""
    for part in ("stages", "sinks", "feeds"):
        workload, _ = the_worker(rendered, part)
        assert workload["kind"] == "StatefulSet", f"the {part} workers need stable pod names: a StatefulSet"
        replicas = workload["spec"].get("replicas", 1)
        assert 1 <= replicas <= TRAFFIC_PARTITIONS, \
            f"{rendered.name}: {replicas} {part} workers; the input topics have {TRAFFIC_PARTITIONS} partitions"
    assert not [c for _, c in raiwatch_containers(rendered) if worker_part(c) == "both"], \
        "run the stages and the sinks as separate workloads (--only)"


def check_worker_ids(rendered: Rendered, renders: dict[str, Rendered]) -> None:
    """Each worker's id is its pod name (downward API), never a shared literal."""
    secrets = secrets_available(rendered, renders)
    for workload, container in raiwatch_containers(rendered):
        if worker_part(container) is None:
            continue
        env = container_env(rendered, workload, container, secrets)
        assert env.field_refs.get("RAIWATCH_STAGES__WORKER_ID") == "metadata.name", \
            f"{workload['metadata']['name']}: RAIWATCH_STAGES__WORKER_ID must come from fieldRef metadata.name"
        assert settings_from(env.values).stages.worker_id == sample_pod_name(workload)


def check_probes(rendered: Rendered, renders: dict[str, Rendered]) -> None:
    """Liveness GET /live, readiness GET /ready (startup, if any, /live) on the health port the
    worker's settings configure, served on an address the kubelet can reach."""
    secrets = secrets_available(rendered, renders)
    for workload, container in raiwatch_containers(rendered):
        if worker_part(container) is None:
            continue
        name = workload["metadata"]["name"]
        settings = settings_from(container_env(rendered, workload, container, secrets).values)
        assert settings.stages.health_port is not None, f"{name}: RAIWATCH_STAGES__HEALTH_PORT is not set"
        assert settings.stages.health_host not in LOOPBACK, \
            f"{name}: the health endpoint binds to {settings.stages.health_host}; probes come from outside the pod"
        expected = {"livenessProbe": "/live", "readinessProbe": "/ready", "startupProbe": "/live"}
        for probe_name, path in expected.items():
            probe = container.get(probe_name)
            if probe is None and probe_name == "startupProbe":
                continue
            assert probe is not None, f"{name}: no {probe_name}"
            assert probe["httpGet"]["path"] == path, f"{name}: {probe_name} must GET {path}"
            assert probe_port(container, probe) == settings.stages.health_port, \
                f"{name}: {probe_name} port != RAIWATCH_STAGES__HEALTH_PORT ({settings.stages.health_port})"


def check_drain(rendered: Rendered, renders: dict[str, Rendered]) -> None:
    """SIGTERM drains within stages.stop_timeout_s; the grace period is longer (and >= 60 s)."""
    secrets = secrets_available(rendered, renders)
    for workload, container in raiwatch_containers(rendered):
        if worker_part(container) is None:
            continue
        grace = pod_spec(workload).get("terminationGracePeriodSeconds", 30)
        stop_timeout = settings_from(container_env(rendered, workload, container, secrets).values).stages.stop_timeout_s
        assert grace >= 60 and grace > stop_timeout, \
            f"{workload['metadata']['name']}: terminationGracePeriodSeconds {grace} leaves no room for a " \
            f"{stop_timeout:.0f} s drain"


def vllm_workload(rendered: Rendered) -> tuple[dict, dict]:
    found = [(w, c) for w in workloads(rendered) for c in pod_spec(w)["containers"]
             if c["image"].split(":")[0].endswith("vllm/vllm-openai")]
    assert len(found) == 1, f"{rendered.name}: expected one vLLM container, found {len(found)}"
    return found[0]


def _arg(args: list[str], flag: str) -> str:
    assert flag in args, f"vLLM runs without {flag}"
    return args[args.index(flag) + 1]


def check_vllm(rendered: Rendered, renders: dict[str, Rendered]) -> None:
    """The vLLM Deployment gets a GPU, prefix caching and the model the judge asks for, behind
    the Service the judge's base_url names."""
    workload, container = vllm_workload(rendered)
    assert workload["kind"] == "Deployment"
    resources = container.get("resources", {})
    gpus = resources.get("limits", {}).get("nvidia.com/gpu")
    assert gpus is not None and int(gpus) >= 1, "the vLLM container has no nvidia.com/gpu limit"
    assert int(resources.get("requests", {}).get("nvidia.com/gpu", gpus)) == int(gpus), "GPU requests != limits"
    args = container.get("args", [])
    assert "--enable-prefix-caching" in args, "vLLM runs without --enable-prefix-caching"
    secrets = secrets_available(rendered, renders)
    vllm_env = container_env(rendered, workload, container, secrets)
    model = re.sub(r"\$\((\w+)\)", lambda m: vllm_env.values[m.group(1)], _arg(args, "--model"))
    port = int(_arg(args, "--port")) if "--port" in args else 8000
    assert port in [p["containerPort"] for p in container.get("ports", [])], "vLLM's port is not a container port"
    stages_workload, stages = the_worker(rendered, "stages")
    judge = settings_from(container_env(rendered, stages_workload, stages, secrets).values).judge.check
    assert judge is not None, "RAIWATCH_JUDGE__CHECK is not set for the stage workers"
    assert judge.name in BUILTIN_CHECKS and judge.name.startswith("judge."), judge.name
    assert judge.args.get("backend") == "openai", "the judge must call the vLLM server (backend openai)"
    assert judge.args.get("model") == model, f"the judge asks for {judge.args.get('model')!r}, vLLM serves {model!r}"
    url = urlparse(judge.args["base_url"])
    service = rendered.get("Service", url.hostname)
    assert _selects(service, workload), f"Service {url.hostname} does not select the vLLM pods"
    service_ports = [p for p in service["spec"]["ports"] if p["port"] == (url.port or 80)]
    assert service_ports, f"Service {url.hostname} has no port {url.port}"
    assert _target_port(service_ports[0], container) == port, "the vLLM Service does not reach vLLM's port"


def _selects(service: dict, workload: dict) -> bool:
    labels = workload["spec"]["template"]["metadata"].get("labels", {})
    selector = service["spec"].get("selector", {})
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _target_port(service_port: dict, container: dict) -> int:
    target = service_port.get("targetPort", service_port["port"])
    if isinstance(target, int):
        return target
    return next(p["containerPort"] for p in container.get("ports", []) if p.get("name") == target)


def check_no_secrets_in_configmaps(rendered: Rendered, renders: dict[str, Rendered]) -> None:
    """No Secret value, and no secret setting, in a ConfigMap or a literal env value; the
    secret settings come from Secrets; the committed Secrets are marked placeholders."""
    secrets = secrets_available(rendered, renders)
    secret_values = [v.strip() for data in secrets.values() for v in data.values() if v.strip() != OPERATOR_MADE]
    for config_map in rendered.of_kind("ConfigMap"):
        for key, value in config_map.get("data", {}).items():
            assert key not in SECRET_SETTINGS, f"ConfigMap {config_map['metadata']['name']} sets the secret {key}"
            assert not re.search(r"PASSWORD|SECRET|API_KEY|TOKEN", key), f"ConfigMap key {key} looks like a secret"
            for secret in secret_values:
                assert secret not in value, f"ConfigMap {config_map['metadata']['name']}/{key} holds a Secret's value"
    for workload, container in raiwatch_containers(rendered):
        env = container_env(rendered, workload, container, secrets)
        for name in SECRET_SETTINGS & set(env.values):
            assert name in env.secret_refs, f"{workload['metadata']['name']}: {name} must come from a Secret"
    for secret in rendered.of_kind("Secret"):
        assert secret["metadata"].get("annotations", {}).get("raiwatch.io/placeholder") == "true"
        for value in secrets[secret["metadata"]["name"]].values():
            assert "CHANGE-ME" in value, f"Secret {secret['metadata']['name']} holds a value not marked CHANGE-ME"
    if rendered.name == "production":
        assert not rendered.of_kind("Secret"), "the production overlay must not apply placeholder Secrets"


def check_env_names(rendered: Rendered, renders: dict[str, Rendered]) -> None:
    """Every RAIWATCH_* name set anywhere (env, ConfigMaps read by raiwatch) is a setting, and
    every raiwatch container's environment parses into RaiwatchSettings."""
    secrets = secrets_available(rendered, renders)
    for config_map in rendered.of_kind("ConfigMap"):
        for key in config_map.get("data", {}):
            assert not key.startswith("RAIWATCH") or key in SETTINGS, \
                f"ConfigMap {config_map['metadata']['name']}: {key} is not a raiwatch setting"
    for workload in workloads(rendered):
        for container in pod_spec(workload)["containers"]:
            for var in container.get("env", []):
                assert not var["name"].startswith("RAIWATCH") or var["name"] in SETTINGS, \
                    f"{workload['metadata']['name']}: {var['name']} is not a raiwatch setting"
    for workload, container in raiwatch_containers(rendered):
        env = container_env(rendered, workload, container, secrets)
        for name in env.from_configmaps:
            assert name in SETTINGS, f"{workload['metadata']['name']}: {name} (from a ConfigMap) is not a raiwatch setting"
        settings = settings_from(env.values)
        for check in settings.screen.checks:
            assert check.name in BUILTIN_CHECKS, f"unknown screen check {check.name}"


def check_references(rendered: Rendered, renders: dict[str, Rendered]) -> None:
    """Every ConfigMap, Secret (and key), volume claim, Service and port a workload names exists."""
    secrets = secrets_available(rendered, renders)
    claims = {c["metadata"]["name"] for c in rendered.of_kind("PersistentVolumeClaim")}
    services = {s["metadata"]["name"]: s for s in rendered.of_kind("Service")}
    for workload in workloads(rendered):
        name = workload["metadata"]["name"]
        spec = pod_spec(workload)
        for container in spec["containers"]:
            container_env(rendered, workload, container, secrets)  # resolves every env reference
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                if probe in container:
                    probe_port(container, container[probe])
            volumes = {v["name"] for v in spec.get("volumes", [])}
            for mount in container.get("volumeMounts", []):
                assert mount["name"] in volumes, f"{name}: volumeMount {mount['name']} has no volume"
        for volume in spec.get("volumes", []):
            if "secret" in volume:
                data = secrets.get(volume["secret"]["secretName"])
                assert data is not None or volume["secret"].get("optional"), \
                    f"{name}: no Secret {volume['secret']['secretName']}"
                for item in volume["secret"].get("items", []):
                    assert data is not None and item["key"] in data, f"{name}: Secret has no key {item['key']}"
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] in claims, f"{name}: no claim"
            if "configMap" in volume:
                rendered.get("ConfigMap", volume["configMap"]["name"])
        if workload["kind"] == "StatefulSet":
            governing = services.get(workload["spec"].get("serviceName"))
            assert governing is not None and governing["spec"].get("clusterIP") == "None", \
                f"{name}: serviceName must name a headless Service"
            assert _selects(governing, workload), f"{name}: its governing Service does not select its pods"
        selector = workload["spec"].get("selector", {}).get("matchLabels")
        if selector:
            labels = workload["spec"]["template"]["metadata"].get("labels", {})
            assert all(labels.get(k) == v for k, v in selector.items()), f"{name}: selector does not match its pods"
    for service in services.values():
        backends = [w for w in workloads(rendered) if _selects(service, w)]
        assert backends, f"Service {service['metadata']['name']} selects no workload"
        for port in service["spec"]["ports"]:
            for workload in backends:
                assert any(_target_port_exists(port, c) for c in pod_spec(workload)["containers"]), \
                    f"Service {service['metadata']['name']} port {port['port']} reaches no container port"


def _target_port_exists(service_port: dict, container: dict) -> bool:
    target = service_port.get("targetPort", service_port["port"])
    ports = container.get("ports", [])
    return any(p.get("name") == target or p["containerPort"] == target for p in ports)


def check_init_job(rendered: Rendered) -> None:
    """The Job migrates ClickHouse and creates the topics, once."""
    jobs = [(w, c) for w, c in raiwatch_containers(rendered) if w["kind"] == "Job"]
    assert len(jobs) == 1, f"{rendered.name}: expected one raiwatch Job"
    job, container = jobs[0]
    script = " ".join(container.get("command", []) + container.get("args", []))
    assert re.search(r"raiwatch db migrate\s*&&\s*raiwatch topics create", script), script
    assert pod_spec(job)["restartPolicy"] in ("OnFailure", "Never")


def check_kafka_and_clickhouse(rendered: Rendered, renders: dict[str, Rendered]) -> None:
    """The workers' Kafka and ClickHouse settings match the Strimzi and Altinity resources."""
    secrets = secrets_available(rendered, renders)
    sinks_workload, sinks = the_worker(rendered, "sinks")
    env = container_env(rendered, sinks_workload, sinks, secrets)
    settings = settings_from(env.values)
    kafka = rendered.of_kind("Kafka")
    assert len(kafka) == 1
    kafka = kafka[0]
    cluster = kafka["metadata"]["name"]
    annotations = kafka["metadata"].get("annotations", {})
    assert annotations.get("strimzi.io/kraft") == "enabled" and annotations.get("strimzi.io/node-pools") == "enabled"
    assert "zookeeper" not in kafka["spec"], "KRaft: no ZooKeeper"
    pools = [p for p in rendered.of_kind("KafkaNodePool") if p["metadata"]["labels"].get("strimzi.io/cluster") == cluster]
    assert pools and {"controller", "broker"} <= {role for p in pools for role in p["spec"]["roles"]}
    brokers = sum(p["spec"]["replicas"] for p in pools if "broker" in p["spec"]["roles"])
    config = kafka["spec"]["kafka"].get("config", {})
    for key in ("offsets.topic.replication.factor", "transaction.state.log.replication.factor",
                "default.replication.factor"):
        assert int(config.get(key, 3)) <= brokers, f"{rendered.name}: {key} > {brokers} brokers"
    assert int(config.get("transaction.state.log.min.isr", 2)) <= int(config.get("transaction.state.log.replication.factor", 3))
    replication = settings.kafka.topic_replication
    assert replication <= brokers, f"{rendered.name}: topics with {replication} replicas on {brokers} brokers"
    assert int(config.get("min.insync.replicas", 1)) <= replication, \
        f"raiwatch creates topics with {replication} replica(s): min.insync.replicas would refuse every write"
    host, _, port = settings.bootstrap_servers.partition(":")
    assert host == f"{cluster}-kafka-bootstrap", f"bootstrap {host} is not the Strimzi cluster {cluster}'s"
    listeners = [listener for listener in kafka["spec"]["kafka"]["listeners"] if listener["port"] == int(port)]
    assert listeners, f"no Kafka listener on port {port}"
    listener = listeners[0]
    assert listener.get("tls") is True and listener.get("authentication", {}).get("type") == "scram-sha-512"
    assert settings.kafka.security_protocol == "SASL_SSL" and settings.kafka.sasl_mechanism == "SCRAM-SHA-512"
    user = rendered.get("KafkaUser", settings.kafka.username)
    assert user["metadata"]["labels"].get("strimzi.io/cluster") == cluster
    assert user["spec"]["authentication"]["type"] == "scram-sha-512"
    user_secret = user["spec"]["authentication"]["password"]["valueFrom"]["secretKeyRef"]
    assert env.secret_refs["RAIWATCH_KAFKA__PASSWORD"] == (user_secret["name"], user_secret["key"]), \
        "the workers and the KafkaUser must read the same password Secret"
    # The CA file is a mounted Secret key.
    cafile = str(settings.kafka.ssl_cafile)
    mounts = {m["mountPath"].rstrip("/"): m["name"] for m in sinks.get("volumeMounts", [])}
    directory, _, filename = cafile.rpartition("/")
    assert directory in mounts, f"{cafile} is not in a mounted volume"
    volume = next(v for v in pod_spec(sinks_workload)["volumes"] if v["name"] == mounts[directory])
    assert "secret" in volume and any(i["path"] == filename for i in volume["secret"].get("items", [])), \
        f"{cafile} is not a key of a mounted Secret"
    chi = rendered.of_kind("ClickHouseInstallation")
    assert len(chi) == 1
    chi = chi[0]
    assert settings.clickhouse.host == f"clickhouse-{chi['metadata']['name']}", "not the operator's service name"
    users = chi["spec"]["configuration"]["users"]
    password = users.get(f"{settings.clickhouse.user}/password")
    assert password is not None, f"the ClickHouseInstallation has no user {settings.clickhouse.user}"
    ch_secret = password["valueFrom"]["secretKeyRef"]
    assert env.secret_refs["RAIWATCH_CLICKHOUSE__PASSWORD"] == (ch_secret["name"], ch_secret["key"]), \
        "the workers and the ClickHouseInstallation must read the same password Secret"


def check_overlay(rendered: Rendered) -> None:
    """Overlays: a namespace, their image on every raiwatch container; production pinned."""
    if rendered.name == "base":
        return
    namespaces = {r["metadata"].get("namespace") for r in rendered.resources}
    assert len(namespaces) == 1 and None not in namespaces, namespaces
    images = {c["image"] for _, c in raiwatch_containers(rendered)}
    assert len(images) == 1, f"{rendered.name}: raiwatch containers run different images {images}"
    if rendered.name == "production":
        image = images.pop()
        assert not image.endswith(":latest") and ":" in image.rsplit("/", 1)[-1], f"unpinned image {image}"
        stages, _ = the_worker(rendered, "stages")
        assert stages["spec"]["replicas"] == TRAFFIC_PARTITIONS, "production runs one stage worker per partition"


KUBERNETES_CHECKS: dict[str, Callable[[Rendered, dict[str, Rendered]], None]] = {
    "custom resources apart": lambda r, _: check_custom_resources_apart(r),
    "stage workers <= partitions": lambda r, _: check_stage_workers(r),
    "worker ids from pod names": check_worker_ids,
    "probes": check_probes,
    "drain": check_drain,
    "vllm": check_vllm,
    "no secrets in configmaps": check_no_secrets_in_configmaps,
    "env names are settings": check_env_names,
    "references resolve": check_references,
    "init job": lambda r, _: check_init_job(r),
    "kafka and clickhouse wiring": check_kafka_and_clickhouse,
    "overlay": lambda r, _: check_overlay(r),
}


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_core_resources_match_the_kubernetes_schemas(renders, variant, version) -> None:
    assert renders[variant].core(), "nothing rendered"
    check_schemas(renders[variant], version)


@pytest.mark.parametrize("check", KUBERNETES_CHECKS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_kubernetes_manifests(renders, variant, check) -> None:
    KUBERNETES_CHECKS[check](renders[variant], renders)


def test_overlays_change_what_they_say(renders) -> None:
    base, dev, production = renders["base"], renders["dev"], renders["production"]
    assert dev.get("StatefulSet", "raiwatch-stages")["spec"]["replicas"] == 1
    assert production.get("StatefulSet", "raiwatch-sinks")["spec"]["replicas"] == 2
    assert dev.get("KafkaNodePool", "dual-role")["spec"]["replicas"] == 1  # the JSON 6902 patch
    assert dev.get("Kafka", "raiwatch")["spec"]["kafka"]["config"]["offsets.topic.replication.factor"] == 1
    stages = production.get("StatefulSet", "raiwatch-stages")
    worker = pod_spec(stages)["containers"][0]
    assert worker["resources"]["requests"]["cpu"] == "2"
    assert worker["livenessProbe"]["httpGet"]["path"] == "/live", "the strategic merge kept the rest of the container"
    assert len(pod_spec(stages)["containers"]) == 1
    assert {s["metadata"]["name"] for s in base.of_kind("Secret")} == {"raiwatch-clickhouse", "raiwatch-kafka-user",
                                                                        "raiwatch-kafka-ca"}
    assert not production.of_kind("Secret")
    assert [s["metadata"]["name"] for s in dev.of_kind("Secret")] == ["raiwatch-clickhouse", "raiwatch-kafka-user"]
    for name, kind in (("raiwatch-stages", "StatefulSet"), ("raiwatch-sinks", "StatefulSet"), ("raiwatch-init", "Job")):
        volumes = {v["name"]: v for v in pod_spec(dev.get(kind, name))["volumes"]}
        assert volumes["kafka-ca"]["secret"]["secretName"] == "raiwatch-cluster-ca-cert", f"dev {name}: Strimzi's CA"
        volumes = {v["name"]: v for v in pod_spec(production.get(kind, name))["volumes"]}
        assert volumes["kafka-ca"]["secret"]["secretName"] == "raiwatch-kafka-ca"


@pytest.mark.parametrize("variant", VARIANTS)
def test_renderer_agrees_with_kustomize(renders, variant) -> None:
    """Where the kustomize binary is installed, its output is exactly the test's rendering."""
    kustomize = shutil.which("kustomize")
    if kustomize is None:
        pytest.skip("kustomize is not installed: where it is, `kustomize build` cross-checks the test's renderer")
    out = subprocess.run([kustomize, "build", str(VARIANTS[variant])], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    built = {res_id(r): r for r in yaml.safe_load_all(out) if r}
    assert {res_id(r): r for r in renders[variant].resources} == built


# --------------------------------------------------------------------------------------------
# docker compose
# --------------------------------------------------------------------------------------------

COMPOSE_FILE = DEPLOY / "docker-compose.yml"
_VARIABLE = re.compile(r"\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")


def compose_environment() -> dict[str, str]:
    """The variables of deploy/.env.example, with the secrets a user fills in."""
    env = {}
    for line in (DEPLOY / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            env[key.strip()] = value.strip()
    return {**env, "CLICKHOUSE_PASSWORD": "compose-test-password", "GRAFANA_ADMIN_PASSWORD": "compose-test-admin"}


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, $$."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match) -> str:
        if match.group(1):
            return "$"
        name = match.group(2) or match.group(5)
        operator, argument = match.group(3), match.group(4)
        current = env.get(name)
        if operator == ":-":
            return current or argument
        if operator == "-":
            return argument if current is None else current
        if operator in (":?", "?"):
            assert current, f"compose needs {name}: {argument}"
            return current
        return current or ""

    return _VARIABLE.sub(substitute, value)


@pytest.fixture(scope="module")
def compose_raw() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def compose(compose_raw) -> dict:
    return interpolate(compose_raw, compose_environment())


def compose_schema() -> dict:
    """The Compose Specification schema as vendored by the check-jsonschema package (from the
    compose-spec project, Apache-2.0)."""
    try:
        distribution = importlib.metadata.distribution("check-jsonschema")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("check-jsonschema is not installed: it ships the Compose Specification JSON schema "
                    "(check_jsonschema/builtin_schemas/vendor/compose-spec.json) this test validates against")
    for file in distribution.files or []:
        if str(file).replace("\\", "/").endswith("builtin_schemas/vendor/compose-spec.json"):
            return json.loads(file.read_text())
    pytest.fail("check-jsonschema is installed but ships no compose-spec.json")


def check_compose_schema(compose: dict) -> None:
    schema = compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(compose), key=lambda e: list(e.absolute_path))
    assert not errors, "not a valid compose file: " + "; ".join(
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:5])


def _environment_of(service: dict) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def _healthcheck_url(service: dict) -> str:
    test = service["healthcheck"]["test"]
    text = " ".join(test) if isinstance(test, list) else test
    match = re.search(r"https?://[^\s'\"]+", text)
    assert match, f"healthcheck {text!r} calls no URL"
    return match.group(0)


def _datasource_refs(node: Any) -> Iterator[dict]:
    """Every {"type": ..., "uid": ...} data source reference in a dashboard."""
    if isinstance(node, dict):
        reference = node.get("datasource")
        if isinstance(reference, dict) and "uid" in reference:
            yield {"type": reference.get("type", ""), "uid": reference["uid"]}
        for value in node.values():
            yield from _datasource_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _datasource_refs(item)


def _seconds(duration: str) -> float:
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, f"unreadable duration {duration!r}"
    return sum(float(n) * units[u] for n, u in parts)


def compose_workers(compose: dict) -> dict[str, tuple[str, dict]]:
    """Service name -> (part, service) for every `raiwatch worker` service."""
    found = {}
    for name, service in compose["services"].items():
        command = service.get("command", [])
        if service.get("image", "").startswith("raiwatch") and command[:1] == ["worker"]:
            found[name] = (command[command.index("--only") + 1] if "--only" in command else "both", service)
    return found


def check_compose_services(compose: dict, compose_raw: dict) -> None:
    services = compose["services"]
    # Kafka: KRaft, one node.
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    kafka_env = _environment_of(kafka)
    assert set(kafka_env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert len(base64.urlsafe_b64decode(kafka_env["CLUSTER_ID"] + "==")) == 16, "a KRaft cluster id is 16 bytes"
    assert kafka_env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == "1", "one broker: transactions need RF 1"
    assert services["clickhouse"]["image"].startswith("clickhouse/clickhouse-server:")
    # vLLM: the model from a variable, prefix caching, a GPU.
    vllm = services["vllm"]
    assert vllm["image"].startswith("vllm/vllm-openai:")
    raw_command = compose_raw["services"]["vllm"]["command"]
    assert re.match(r"\$\{\w+", raw_command[raw_command.index("--model") + 1]), "--model must come from a variable"
    assert "--enable-prefix-caching" in vllm["command"], "vLLM runs without --enable-prefix-caching"
    devices = vllm.get("deploy", {}).get("resources", {}).get("reservations", {}).get("devices", [])
    assert any("gpu" in d.get("capabilities", []) and (d.get("count") == "all" or int(d.get("count", 0)) >= 1)
               for d in devices), "vLLM reserves no GPU"
    # Grafana: the ClickHouse plugin, provisioning from deploy/grafana.
    grafana = services["grafana"]
    assert "grafana-clickhouse-datasource" in _environment_of(grafana).get("GF_INSTALL_PLUGINS", "").split(","), \
        "Grafana does not install the ClickHouse data source plugin"
    mounts = {}
    for volume in grafana["volumes"]:
        source, target = volume.split(":")[:2]
        mounts[target] = source
    provisioning = DEPLOY / mounts["/etc/grafana/provisioning"]
    datasources = [ds for f in (provisioning / "datasources").glob("*.y*ml") for ds in load_docs(f)[0]["datasources"]]
    assert any(ds["type"] == "grafana-clickhouse-datasource" for ds in datasources)
    provisioned = {(ds["type"], ds["uid"]) for ds in datasources}
    for board in (DEPLOY / "grafana" / "dashboards").glob("*.json"):
        used = {(ref["type"], ref["uid"]) for ref in _datasource_refs(json.loads(board.read_text()))
                if not ref["uid"].startswith("-- ")}
        assert used <= provisioned, f"{board.name} uses data sources that are not provisioned: {used - provisioned}"
    providers = [p for f in (provisioning / "dashboards").glob("*.y*ml") for p in load_docs(f)[0]["providers"]]
    assert providers, "no dashboard provider"
    for provider in providers:
        path = provider["options"]["path"]
        assert path in mounts and (DEPLOY / mounts[path]).is_dir(), f"dashboards path {path} is not mounted from deploy/"
        assert mounts[path].rstrip("/").endswith("grafana/dashboards")
    # Init: migrations then topics.
    init = services["init"]
    assert re.search(r"raiwatch db migrate\s*&&\s*raiwatch topics create", " ".join(init["entrypoint"] + init["command"]))
    # Workers: one for the stages, one for the sinks, their own ids, health on /live.
    workers = compose_workers(compose)
    assert sorted(part for part, _ in workers.values()) == ["feeds", "sinks", "stages"], workers.keys()
    ids = []
    for name, (_, service) in workers.items():
        env = _environment_of(service)
        settings = settings_from(env)
        ids.append(settings.stages.worker_id)
        assert "RAIWATCH_STAGES__WORKER_ID" in env, f"{name}: no worker id"
        assert settings.stages.health_port is not None, f"{name}: no health port"
        assert settings.stages.health_host not in LOOPBACK, f"{name}: the health endpoint would listen on loopback only"
        url = urlparse(_healthcheck_url(service))
        assert url.path == "/live" and url.port == settings.stages.health_port, f"{name}: healthcheck must GET /live"
        depends = service.get("depends_on", {})
        assert depends.get("init", {}).get("condition") == "service_completed_successfully", f"{name}: start after init"
        grace = _seconds(service.get("stop_grace_period", "10s"))
        assert grace > settings.stages.stop_timeout_s, f"{name}: stop_grace_period shorter than the drain"
        if workers[name][0] == "stages":
            judge = settings.judge.check
            assert judge is not None and judge.name in BUILTIN_CHECKS
            url = urlparse(judge.args["base_url"])
            assert url.hostname in services and url.port == int(_arg(services[url.hostname]["command"], "--port"))
            assert judge.args["model"] == _arg(vllm["command"], "--model"), "the judge asks for another model"
    assert len(set(ids)) == len(ids), f"two workers share a worker id: {ids}"


def check_compose_settings(compose: dict, compose_raw: dict) -> None:
    """RAIWATCH_* names are settings; secret settings come from required variables, never a
    default or a literal; every required variable is in .env.example."""
    example = (DEPLOY / ".env.example").read_text()
    for name, service in compose["services"].items():
        env = _environment_of(service)
        if service.get("image", "").startswith("raiwatch"):
            settings_from(env)
        for key in env:
            assert not key.startswith("RAIWATCH") or key in SETTINGS, f"{name}: {key} is not a raiwatch setting"
        raw = _environment_of(compose_raw["services"][name])  # YAML merge keys (<<) are resolved on load
        for key in SECRET_SETTINGS & set(env):
            assert re.fullmatch(r"\$\{\w+:\?[^}]*\}", raw[key]), f"{name}: {key} must be a required variable"
    for variable in re.findall(r"\$\{(\w+):\?", COMPOSE_FILE.read_text()):
        assert re.search(rf"^#?\s*{variable}=", example, re.M), f"{variable} is missing from deploy/.env.example"


def check_compose_build(compose: dict) -> None:
    for name, service in compose["services"].items():
        if service.get("image", "").startswith("raiwatch"):
            assert service["image"] == "raiwatch:latest"
            build = service["build"]
            context = (DEPLOY / build["context"]).resolve()
            assert context == REPO, f"{name}: build context must be the repository root"
            assert (context / build["dockerfile"]).is_file()


def test_compose_file_matches_the_compose_specification(compose) -> None:
    check_compose_schema(compose)


@pytest.mark.parametrize("check", [check_compose_services, check_compose_settings])
def test_compose_services(compose, compose_raw, check) -> None:
    check(compose, compose_raw)


def test_compose_builds_the_image_from_the_repository(compose) -> None:
    check_compose_build(compose)


# --------------------------------------------------------------------------------------------
# The Dockerfile
# --------------------------------------------------------------------------------------------

def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", text)
    lines = [line.strip() for line in joined.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def check_dockerfile(text: str) -> None:
    instructions = dockerfile_instructions(text)
    assert instructions[0] == ("FROM", "python:3.11-slim"), instructions[0]
    runs = [arg for op, arg in instructions if op == "RUN"]
    lock = next(i for i, r in enumerate(runs) if re.search(r"pip install --no-deps -r ops/requirements/lock\.txt", r))
    package = next(i for i, r in enumerate(runs) if re.search(r"pip install --no-deps \.(\s|$)", r))
    assert lock < package, "install the lock before raiwatch itself"
    copied = set()
    for op, arg in instructions:
        if op == "COPY":
            *sources, _ = arg.split()
            for source in sources:
                assert not source.startswith("--"), "COPY options are not expected"
                assert (REPO / source).exists(), f"COPY {source}: no such path in the repository"
                copied.add(source.rstrip("/"))
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    needed = set(pyproject["tool"]["setuptools"]["package-dir"].values()) | {"pyproject.toml", pyproject["project"]["readme"]}
    assert needed <= copied, f"the image lacks {sorted(needed - copied)}"
    ignored = {line.strip().rstrip("/") for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert not ignored & copied, f"Dockerfile.dockerignore excludes what the Dockerfile copies: {ignored & copied}"
    for op, arg in instructions:
        if op == "ENV":
            for name in re.findall(r"(RAIWATCH\w*)=", arg):
                assert name in SETTINGS, f"ENV {name} is not a raiwatch setting"
    entrypoint = next(json.loads(arg) for op, arg in reversed(instructions) if op == "ENTRYPOINT")
    assert entrypoint == [next(iter(pyproject["project"]["scripts"]))] == ["raiwatch"], entrypoint
    assert (REPO / "ops/scripts/models.sh").is_file()


def test_dockerfile_installs_the_lock_then_raiwatch() -> None:
    check_dockerfile((DEPLOY / "Dockerfile").read_text())


# --------------------------------------------------------------------------------------------
# The checks can fail: one broken copy per check
# --------------------------------------------------------------------------------------------

def _container(rendered: Rendered, kind: str, name: str) -> dict:
    return pod_spec(rendered.get(kind, name))["containers"][0]


def _config(rendered: Rendered) -> dict:
    return rendered.get("ConfigMap", "raiwatch-config")["data"]


def _too_many_stage_workers(r: Rendered) -> None:
    r.get("StatefulSet", "raiwatch-stages")["spec"]["replicas"] = TRAFFIC_PARTITIONS + 1


def _literal_worker_id(r: Rendered) -> None:
    env = _container(r, "StatefulSet", "raiwatch-stages")["env"]
    env[0] = {"name": "RAIWATCH_STAGES__WORKER_ID", "value": "0"}


def _liveness_elsewhere(r: Rendered) -> None:
    _container(r, "StatefulSet", "raiwatch-sinks")["livenessProbe"]["httpGet"]["path"] = "/healthz"


def _readiness_on_another_port(r: Rendered) -> None:
    _container(r, "StatefulSet", "raiwatch-stages")["readinessProbe"]["httpGet"]["port"] = 9090


def _health_on_loopback(r: Rendered) -> None:
    del _config(r)["RAIWATCH_STAGES__HEALTH_HOST"]


def _short_grace(r: Rendered) -> None:
    pod_spec(r.get("StatefulSet", "raiwatch-stages"))["terminationGracePeriodSeconds"] = 30


def _no_gpu(r: Rendered) -> None:
    resources = _container(r, "Deployment", "raiwatch-vllm")["resources"]
    del resources["limits"]["nvidia.com/gpu"], resources["requests"]["nvidia.com/gpu"]


def _judge_elsewhere(r: Rendered) -> None:
    _config(r)["RAIWATCH_JUDGE__CHECK"] = _config(r)["RAIWATCH_JUDGE__CHECK"].replace("raiwatch-vllm:8000", "vllm:8000")


def _password_in_configmap(r: Rendered) -> None:
    _config(r)["RAIWATCH_CLICKHOUSE__PASSWORD"] = "hunter2"


def _secret_value_in_configmap(r: Rendered) -> None:
    _config(r)["RAIWATCH_KAFKA__CLIENT"] = json.dumps({"sasl_plain_password": "CHANGE-ME-kafka-password"})


def _typo_in_setting(r: Rendered) -> None:
    _config(r)["RAIWATCH_STAGES__HEALTHPORT"] = "8080"


def _unknown_group(r: Rendered) -> None:
    _container(r, "StatefulSet", "raiwatch-sinks")["env"].append({"name": "RAIWATCH_SINK__BATCH_SIZE", "value": "5"})


def _bad_value(r: Rendered) -> None:
    _config(r)["RAIWATCH_KAFKA__SECURITY_PROTOCOL"] = "SCRAM"


def _missing_secret(r: Rendered) -> None:
    _container(r, "StatefulSet", "raiwatch-sinks")["env"][-1]["valueFrom"]["secretKeyRef"]["name"] = "clickhouse"


def _wrong_bootstrap(r: Rendered) -> None:
    _config(r)["RAIWATCH_KAFKA__BOOTSTRAP_SERVERS"] = "kafka:9092"


def _strict_min_isr(r: Rendered) -> None:
    r.get("Kafka", "raiwatch")["spec"]["kafka"]["config"]["min.insync.replicas"] = 4


def _unknown_field(r: Rendered) -> None:
    r.get("StatefulSet", "raiwatch-stages")["spec"]["replica"] = 2


def _custom_resource_among_core(r: Rendered) -> None:
    r.custom.discard(res_id(r.get("KafkaUser", "raiwatch")))


BROKEN = {
    "too many stage workers": (_too_many_stage_workers, "stage workers <= partitions"),
    "a literal worker id": (_literal_worker_id, "worker ids from pod names"),
    "liveness on another path": (_liveness_elsewhere, "probes"),
    "readiness on another port": (_readiness_on_another_port, "probes"),
    "health endpoint on loopback": (_health_on_loopback, "probes"),
    "grace period shorter than the drain": (_short_grace, "drain"),
    "vLLM without a GPU": (_no_gpu, "vllm"),
    "judge at another host": (_judge_elsewhere, "vllm"),
    "a password in the ConfigMap": (_password_in_configmap, "no secrets in configmaps"),
    "a Secret's value in the ConfigMap": (_secret_value_in_configmap, "no secrets in configmaps"),
    "a misspelt setting": (_typo_in_setting, "env names are settings"),
    "an unknown settings group": (_unknown_group, "env names are settings"),
    "a value the settings refuse": (_bad_value, "env names are settings"),
    "a Secret that does not exist": (_missing_secret, "references resolve"),
    "bootstrap servers of another cluster": (_wrong_bootstrap, "kafka and clickhouse wiring"),
    "min.insync.replicas above the topics' replication": (_strict_min_isr, "kafka and clickhouse wiring"),
    "a custom resource outside custom/": (_custom_resource_among_core, "custom resources apart"),
}


@pytest.mark.parametrize("broken", BROKEN)
def test_checks_catch_broken_manifests(renders, broken) -> None:
    mutate, check = BROKEN[broken]
    KUBERNETES_CHECKS[check](renders["base"], renders)  # passes as committed
    damaged = copy.deepcopy(renders["base"])
    mutate(damaged)
    with pytest.raises(AssertionError):
        KUBERNETES_CHECKS[check](damaged, {**renders, "base": damaged})


def test_schema_check_catches_an_unknown_field(renders) -> None:
    damaged = copy.deepcopy(renders["base"])
    _unknown_field(damaged)
    with pytest.raises(AssertionError, match="replica"):
        check_schemas(damaged, K8S_VERSIONS[-1])


def test_renderer_refuses_what_it_cannot_apply(tmp_path) -> None:
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump(
        {"resources": [str(VARIANTS["base"])], "patches": [{"path": "p.yaml"}]}))
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "no-such-workload"}, "spec": {}}))
    with pytest.raises(AssertionError, match="matches no resource"):
        render(tmp_path)
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump(
        {"resources": [str(VARIANTS["base"])], "configMapGenerator": [{"name": "x"}]}))
    with pytest.raises(AssertionError, match="configMapGenerator"):
        render(tmp_path)


COMPOSE_BROKEN: dict[str, tuple[Callable[[dict], None], Callable[[dict, dict], None]]] = {
    "no prefix caching": (lambda c: c["services"]["vllm"]["command"].remove("--enable-prefix-caching"),
                          check_compose_services),
    "no GPU": (lambda c: c["services"]["vllm"].pop("deploy"), check_compose_services),
    "one worker id twice": (lambda c: c["services"]["worker-sinks"]["environment"].update(
        RAIWATCH_STAGES__WORKER_ID="stages-0"), check_compose_services),
    "healthcheck on /ready": (lambda c: c["services"]["worker-stages"].update(healthcheck={
        "test": ["CMD", "python", "-c", "urlopen('http://127.0.0.1:8080/ready')"]}), check_compose_services),
    "no ClickHouse plugin": (lambda c: c["services"]["grafana"]["environment"].update(GF_INSTALL_PLUGINS=""),
                             check_compose_services),
    "a misspelt setting": (lambda c: c["services"]["worker-sinks"]["environment"].update(
        RAIWATCH_SINKS__BATCHSIZE="10"), check_compose_settings),
    "a literal password": (lambda c: c["services"]["worker-sinks"].update(environment={
        **c["services"]["worker-sinks"]["environment"], "RAIWATCH_CLICKHOUSE__PASSWORD": "hunter2"}),
        check_compose_settings),
}


@pytest.mark.parametrize("broken", COMPOSE_BROKEN)
def test_compose_checks_catch_broken_files(compose_raw, broken) -> None:
    mutate, check = COMPOSE_BROKEN[broken]
    raw = copy.deepcopy(compose_raw)
    mutate(raw)
    with pytest.raises(AssertionError):
        check(interpolate(raw, compose_environment()), raw)


def test_compose_schema_catches_an_unknown_key(compose) -> None:
    damaged = copy.deepcopy(compose)
    damaged["services"]["kafka"]["imagee"] = "apache/kafka"
    with pytest.raises(AssertionError, match="imagee"):
        check_compose_schema(damaged)


def test_dockerfile_check_catches_a_missing_folder() -> None:
    text = (DEPLOY / "Dockerfile").read_text().replace("COPY trainers trainers\n", "")
    with pytest.raises(AssertionError, match="trainers"):
        check_dockerfile(text)
