"""The deployment files keep their promises (docs/deploy.md): the Dockerfile, docker-compose.yml
and deploy/kubernetes/ read as data, no network and no Docker needed.

What is checked is what breaks real deployments when someone edits these files: a root
container, a probe on the wrong path or port, serve and worker on different images, a
variable nightowl does not read (a typo is silently ignored), a secret written into a file,
a package the image forgets, a build tool left in the final image.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from bot.cli import parser

ROOT = Path(__file__).resolve().parents[1]
ENV_EXAMPLE = set(re.findall(r"^([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
K8S = ROOT / "deploy" / "kubernetes"
SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|API_KEY|PRIVATE")
# Read by Compose itself to fill docker-compose.yml in, never by nightowl (docs/deploy.md).
COMPOSE_VARIABLES = {"POSTGRES_PASSWORD", "NIGHTOWL_IMAGE"}
TOOLCHAIN = re.compile(r"\b(build-essential|gcc|g\+\+|clang|make|libpq-dev|python3-dev|cargo)\b")


def yaml_documents(path: Path) -> list[Any]:
    return [d for d in YAML(typ="safe").load_all(path.read_text()) if d is not None]


# ---- Dockerfile ------------------------------------------------------------------------------

def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments), continuation lines joined, comments and directives dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def stages() -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = []
    for ins in instructions():
        if ins[0] == "FROM":
            found.append([])
        if found:
            found[-1].append(ins)
    return found


def test_dockerfile_base_is_pinned_and_every_stage_builds_on_it() -> None:
    args = dict(a.split("=", 1) for k, a in instructions() if k == "ARG" and "=" in a)
    base = args["PYTHON_IMAGE"]
    assert re.fullmatch(r"python:3\.11\.\d+-slim-[a-z]+(@sha256:[0-9a-f]{64})?", base), base
    names = set()
    for stage in stages():
        source = stage[0][1].split()
        assert source[0] == "${PYTHON_IMAGE}" or source[0] in names, stage[0]
        if len(source) == 3 and source[1].upper() == "AS":
            names.add(source[2])
    assert len(stages()) >= 2, "multi-stage: the build stage stays out of the final image"


def test_dockerfile_runs_nightowl_as_a_non_root_user_with_a_health_check() -> None:
    final = stages()[-1]
    users = [a for k, a in final if k == "USER"]
    assert users, "the final stage must drop root"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) > 0, "numeric and non-zero, so runAsNonRoot can check it"
    entrypoint = next(a for k, a in final if k == "ENTRYPOINT")
    assert entrypoint.endswith('"nightowl"]'), entrypoint
    assert next(a for k, a in final if k == "CMD") == '["serve"]'
    health = next(a for k, a in final if k == "HEALTHCHECK")
    assert "/healthz" in health and "NIGHTOWL_PORT" in health
    env = " ".join(a for k, a in final if k == "ENV")
    assert "NIGHTOWL_HOST=0.0.0.0" in env, "a container must listen beyond its own loopback"


def test_dockerfile_final_stage_has_no_build_toolchain_and_nothing_fetched_by_url() -> None:
    for kind, arguments in instructions():
        assert kind != "ADD", "COPY only: ADD fetches URLs and unpacks archives implicitly"
        assert not re.search(r"\b(curl|wget)\b", arguments), "nothing downloaded at build"
    final = stages()[-1]
    for kind, arguments in final:
        if kind == "RUN":
            assert not TOOLCHAIN.search(arguments), arguments
        if kind == "COPY":
            assert arguments.startswith("--from="), "the final stage copies built artefacts only"


def test_image_gets_every_package_and_no_secret() -> None:
    """The build stage copies exactly the packages pyproject.toml ships; the context sends
    nothing else (an allow-list), so .env never reaches a layer."""
    build = stages()[0]
    copied = {a.split()[0] for k, a in build if k == "COPY"}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert packages <= copied, f"the image would miss {packages - copied}"
    ignore = [ln.strip() for ln in (ROOT / ".dockerignore").read_text().splitlines()
              if ln.strip() and not ln.startswith("#")]
    assert ignore[0] == "*", ".dockerignore is an allow-list"
    allowed = {ln[1:].rstrip("/") for ln in ignore if ln.startswith("!")}
    assert copied <= allowed | {"pyproject.toml", "README.md"}
    assert not any(name.startswith(".env") for name in allowed)


# ---- docker-compose.yml ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    (document,) = yaml_documents(ROOT / "docker-compose.yml")
    assert isinstance(document, dict)
    return document


def nightowl_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in compose["services"].items()
            if (s.get("command") or [None])[0] in ("serve", "worker")}


def test_compose_serve_and_worker_share_one_image_and_one_configuration(
        compose: dict[str, Any]) -> None:
    ours = nightowl_services(compose)
    assert {s["command"][0] for s in ours.values()} == {"serve", "worker"}
    assert len({s["image"] for s in ours.values()}) == 1
    assert all(s["env_file"] == ".env" for s in ours.values())
    worker = ours["worker"]
    # `docker compose up --scale worker=3`: nothing that two copies could not both have.
    assert "container_name" not in worker and "ports" not in worker
    # Its check reads the alive file its own arguments make it touch, on its tmpfs.
    args = parser(["worker"]).parse_args(worker["command"])
    assert args.alive_file is not None and str(args.alive_file).startswith(tuple(
        compose["x-nightowl"]["tmpfs"]))
    test = worker["healthcheck"]["test"]
    assert test[:4] == ["CMD", "python", "-m", "scheduler.temporal.liveness"]
    assert Path(test[4]) == args.alive_file
    assert "healthcheck" not in ours["serve"], "serve keeps the image's /healthz check"


def test_compose_points_nightowl_at_its_postgres_and_temporal(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for service in nightowl_services(compose).values():
        env = service["environment"]
        assert set(env) - COMPOSE_VARIABLES <= ENV_EXAMPLE, set(env) - ENV_EXAMPLE
        host = re.match(r"postgresql://[^@]+@([^:/]+)", env["NIGHTOWL_DATABASE_URL"])
        assert host and host.group(1) in services
        assert env["TEMPORAL_ADDRESS"].split(":")[0] in services
        assert set(service["depends_on"]) == {"postgres", "temporal"}
        assert all(d["condition"] == "service_healthy" for d in service["depends_on"].values())
    serve_env = services["serve"]["environment"]
    assert serve_env["NIGHTOWL_HOST"] == "0.0.0.0"
    published = [p.split(":") for p in services["serve"]["ports"]]
    assert [p[-1] for p in published] == [serve_env["NIGHTOWL_PORT"]]


def walk(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk(value, f"{path}[{i}]")
    else:
        yield path, node


def test_compose_writes_no_secret_and_publishes_only_serve(compose: dict[str, Any]) -> None:
    for path, value in walk(compose):
        name = path.rsplit(".", 1)[-1]
        if SECRET_NAME.search(name):
            assert re.fullmatch(r"\$\{[A-Z_]+(:\?[^}]*)?\}", str(value)), (path, value)
        if isinstance(value, str) and value.startswith("postgresql://"):
            assert re.match(r"postgresql://\w+:\$\{POSTGRES_PASSWORD:\?[^}]*\}@", value), value
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert name == "serve" or port.startswith("127.0.0.1:"), (name, port)


def test_compose_containers_drop_root_and_privileges(compose: dict[str, Any]) -> None:
    for service in nightowl_services(compose).values():
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"]
        assert "no-new-privileges:true" in service["security_opt"]
        assert "user" not in service, "the image's non-root user"
    rooted = {n: s for n, s in compose["services"].items()
              if str(s.get("user", "")).split(":")[0] in ("0", "root")}
    # The single exception hands the Temporal volume to Temporal's user, and can do no more.
    assert set(rooted) == {"temporal-volume"}
    step = rooted["temporal-volume"]
    assert step["entrypoint"][0] == "chown" and step["cap_add"] == ["CHOWN"]
    assert step["cap_drop"] == ["ALL"] and step["network_mode"] == "none"
    assert step["restart"] == "no"


def test_compose_third_party_images_are_pinned_and_monitoring_is_optional(
        compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        image = service["image"]
        if name in nightowl_services(compose):
            continue
        assert re.search(r":[\w.-]*\d", image) and not image.endswith(":latest"), image
    prometheus = compose["services"]["prometheus"]
    assert prometheus["profiles"] == ["monitoring"]
    mounted = prometheus["volumes"][0].split(":")[0]
    config = yaml_documents(ROOT / mounted)[0]
    targets = config["scrape_configs"][0]["static_configs"][0]["targets"]
    port = compose["services"]["serve"]["environment"]["NIGHTOWL_PORT"]
    assert targets == [f"serve:{port}"]


# ---- Kubernetes ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def manifests() -> dict[tuple[str, str], dict[str, Any]]:
    kustomization = yaml_documents(K8S / "kustomization.yaml")[0]
    found = {}
    for name in [*kustomization["resources"], "migrate-job.yaml"]:
        for doc in yaml_documents(K8S / name):
            found[(doc["kind"], doc["metadata"]["name"])] = doc
    return found


def pod_specs(manifests: dict[tuple[str, str], dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: doc["spec"]["template"]["spec"] for (kind, name), doc in manifests.items()
            if kind in ("Deployment", "Job")}


def test_kubernetes_pods_run_non_root_on_a_read_only_filesystem(manifests: Any) -> None:
    dockerfile_uid = next(a for k, a in stages()[-1] if k == "USER").split(":")[0]
    workdir = next(a for k, a in stages()[-1] if k == "WORKDIR")
    for name, pod in pod_specs(manifests).items():
        context = pod["securityContext"]
        assert context["runAsNonRoot"] is True and str(context["runAsUser"]) == dockerfile_uid
        assert context["seccompProfile"]["type"] == "RuntimeDefault"
        assert pod["automountServiceAccountToken"] is False
        for container in pod["containers"]:
            sc = container["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"]["drop"] == ["ALL"]
            assert container["resources"]["requests"] and container["resources"]["limits"]
            # A read-only root needs somewhere to write temporary files, and the working
            # directory writable: settings are checked at start, NIGHTOWL_DEV_WORKDIR's
            # folder (relative to it) among them, even for `db upgrade`.
            mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
            assert {"/tmp", workdir} <= mounts, name


def test_kubernetes_config_comes_from_one_secret_and_nothing_secret_is_inline(
        manifests: Any) -> None:
    assert not [key for key in manifests if key[0] in ("Secret", "ConfigMap")], \
        "settings live in the Secret the operator creates from .env"
    for name, pod in pod_specs(manifests).items():
        for container in pod["containers"]:
            assert container["envFrom"] == [{"secretRef": {"name": "nightowl-env"}}], name
            for item in container.get("env", []):
                assert item["name"] in ENV_EXAMPLE, item["name"]
                assert not SECRET_NAME.search(item["name"]), item["name"]


def test_kubernetes_serve_is_probed_on_healthz_and_worker_runs_the_same_image(
        manifests: Any) -> None:
    serve = manifests[("Deployment", "nightowl-serve")]["spec"]["template"]
    worker = manifests[("Deployment", "nightowl-worker")]["spec"]["template"]
    (sc,) = serve["spec"]["containers"]
    (wc,) = worker["spec"]["containers"]
    assert sc["image"] == wc["image"]
    assert (sc["args"], wc["args"][:1]) == (["serve"], ["worker"])
    env = {e["name"]: e["value"] for e in sc["env"]}
    port = next(p for p in sc["ports"] if p["name"] == "http")
    assert env["NIGHTOWL_HOST"] == "0.0.0.0" and int(env["NIGHTOWL_PORT"]) == port["containerPort"]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert sc[probe]["httpGet"] == {"path": "/healthz", "port": "http"}, probe
    service = manifests[("Service", "nightowl")]
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    selector = service["spec"]["selector"].items()
    assert selector <= serve["metadata"]["labels"].items()
    assert not selector <= worker["metadata"]["labels"].items(), "the Service is serve's only"
    job = manifests[("Job", "nightowl-migrate")]["spec"]["template"]["spec"]["containers"][0]
    assert job["args"] == ["db", "upgrade"]


def test_kubernetes_worker_is_probed_on_the_alive_file_it_writes(manifests: Any) -> None:
    """The probe reads the file the worker's arguments make it touch, on a writable volume
    (the root filesystem is read-only), allowing more than one touch interval of slack."""
    from bot.cli.worker import _positive_seconds

    pod = manifests[("Deployment", "nightowl-worker")]["spec"]["template"]["spec"]
    (wc,) = pod["containers"]
    args = parser(["worker"]).parse_args(wc["args"])
    assert args.command == "worker" and args.alive_file is not None
    mounts = [Path(m["mountPath"]) for m in wc["volumeMounts"]]
    assert any(args.alive_file.is_relative_to(m) for m in mounts), "not on a writable volume"
    for probe in ("startupProbe", "livenessProbe"):
        command = wc[probe]["exec"]["command"]
        assert command[:3] == ["python", "-m", "scheduler.temporal.liveness"], probe
        assert Path(command[3]) == args.alive_file, probe
        max_age = float(command[command.index("--max-age") + 1])
        assert max_age >= 3 * args.alive_every, probe
    assert importlib.util.find_spec("scheduler.temporal.liveness") is not None
    with pytest.raises(argparse.ArgumentTypeError):
        _positive_seconds("0")


def test_the_commands_the_files_run_exist() -> None:
    """serve, worker and db upgrade: what the image, compose and the manifests start."""
    cli = parser(["serve"])
    choices = next(a for a in cli._actions if a.dest == "command").choices
    assert choices is not None
    assert {"serve", "worker", "db"} <= set(choices)
    assert parser(["db", "upgrade"]).parse_args(["db", "upgrade"]).command == "db"


# ---- docs ------------------------------------------------------------------------------------

def test_deploy_doc_names_only_real_variables_and_is_linked_from_the_readme() -> None:
    doc = (ROOT / "docs" / "deploy.md").read_text()
    named = set(re.findall(r"\b((?:NIGHTOWL|TEMPORAL|SLACK|POSTGRES)_[A-Z0-9_]+)\b", doc))
    assert named - COMPOSE_VARIABLES <= ENV_EXAMPLE, named - COMPOSE_VARIABLES - ENV_EXAMPLE
    assert "docs/deploy.md" in (ROOT / "README.md").read_text()
