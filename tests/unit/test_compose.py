"""docker-compose.yml cannot run here (no Docker engine), so its agreement with the code is
checked by reading it: a service, port or variable renamed in code and not in compose fails."""

from __future__ import annotations

import importlib
import re
import tomllib
from pathlib import Path
from typing import Any

import yaml

from huigong_ops import kafka_acls
from huigong_platform.settings import DEFAULT_PORTS, SERVICES, KafkaAuth, Settings

REPO = Path(__file__).resolve().parents[2]


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return loaded


def settings_class(service: str) -> type[Settings]:
    """A service with its own settings subclass (huigong_<name>.settings) reads those."""
    try:
        module = importlib.import_module(f"huigong_{service}.settings")
    except ModuleNotFoundError:
        return Settings
    found = [v for v in vars(module).values() if isinstance(v, type) and issubclass(v, Settings)]
    return max(found, key=lambda cls: len(cls.__mro__))


def settings_variables(service: str) -> set[str]:
    kafka_login = {f"HUIGONG_KAFKA_{name.upper()}" for name in KafkaAuth.model_fields}
    return {f"HUIGONG_{name.upper()}" for name in settings_class(service).model_fields} | kafka_login


def test_every_service_is_deployed_with_its_own_command_port_and_database_role() -> None:
    services = compose()["services"]
    for name in SERVICES:
        svc = services[name]
        scripts = tomllib.loads((REPO / f"services/{name}/pyproject.toml").read_text())["project"]["scripts"]
        assert svc["command"] == [f"huigong-{name}"] and f"huigong-{name}" in scripts
        env = svc["environment"]
        assert env["HUIGONG_SERVICE"] == name
        assert int(env["HUIGONG_HTTP_PORT"]) == DEFAULT_PORTS[name]
        assert svc["ports"] == [f"{DEFAULT_PORTS[name]}:{DEFAULT_PORTS[name]}"]
        assert env["HUIGONG_DATABASE_URL"].startswith(f"postgresql://huigong_{name}:")
        assert env["HUIGONG_KAFKA_BOOTSTRAP"] == BOOTSTRAP


# One broker, or with HUIGONG_KAFKA_CLUSTER (the `cluster` profile) all three.
BOOTSTRAP = "kafka:9092${HUIGONG_KAFKA_CLUSTER:+,kafka-2:9092,kafka-3:9092}"


def test_the_cluster_profile_adds_two_brokers_that_vote_and_replicate_with_the_first() -> None:
    services = compose()["services"]
    first = services["kafka"]
    assert "profiles" not in first  # the single node stays the default
    script = first["command"][0]
    assert "KAFKA_CONTROLLER_QUORUM_VOTERS=1@kafka:9093,2@kafka-2:9093,3@kafka-3:9093" in script
    for node in (2, 3):
        other = services[f"kafka-{node}"]
        assert other["profiles"] == ["cluster"]
        assert other["image"] == first["image"] and other["command"] == first["command"]
        differing = {k for k, v in other["environment"].items() if first["environment"].get(k) != v}
        assert differing == {"KAFKA_NODE_ID", "KAFKA_ADVERTISED_LISTENERS"}
        assert other["environment"]["KAFKA_NODE_ID"] == str(node)
        assert other["environment"]["KAFKA_ADVERTISED_LISTENERS"] == f"CLIENT://kafka-{node}:9092"
        assert other["volumes"] != first["volumes"]  # a data directory of its own
    # Three replicas, two in sync for an acknowledged write, for the internal topics too.
    for setting in (
        "DEFAULT_REPLICATION_FACTOR",
        "OFFSETS_TOPIC_REPLICATION_FACTOR",
        "TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
    ):
        assert f"KAFKA_{setting}" in script.split("for v in KAFKA_MIN_INSYNC")[0]
    assert "KAFKA_MIN_INSYNC_REPLICAS" in script and 'export "$$v=2"' in script
    # The setup job bootstraps from every broker, which makes it create replicated topics, and
    # offers admin's first credential to every controller (only the active one takes it).
    assert services["setup"]["environment"]["HUIGONG_KAFKA_BOOTSTRAP"] == BOOTSTRAP
    setup = " ".join(services["setup"]["command"])
    assert "--controller kafka:9093${HUIGONG_KAFKA_CLUSTER:+,kafka-2:9093,kafka-3:9093}" in setup


def test_service_environment_uses_only_variables_the_code_reads() -> None:
    for name in SERVICES:
        known = settings_variables(name)
        env = compose()["services"][name]["environment"]
        unknown = {k for k in env if k.startswith("HUIGONG_")} - known
        assert not unknown, f"{name}: {unknown} are not Settings fields"


def test_required_settings_are_all_provided() -> None:
    for name in SERVICES:
        fields = settings_class(name).model_fields
        required = {f"HUIGONG_{n.upper()}" for n, f in fields.items() if f.is_required()}
        assert required <= set(compose()["services"][name]["environment"]), name


def test_services_wait_for_healthy_infrastructure_and_have_healthchecks() -> None:
    services = compose()["services"]
    for name in SERVICES:
        svc = services[name]
        assert svc["depends_on"]["kafka"]["condition"] == "service_healthy"
        assert svc["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert svc["depends_on"]["setup"]["condition"] == "service_completed_successfully"
        assert "/readyz" in " ".join(svc["healthcheck"]["test"])
    for infra in ("kafka", "postgres"):
        assert services[infra]["healthcheck"]["test"]


def test_setup_job_provisions_every_service_role() -> None:
    env = compose()["services"]["setup"]["environment"]
    for name in SERVICES:
        assert f"HUIGONG_{name.upper()}_DB_PASSWORD" in env
    assert "huigong db provision" in " ".join(compose()["services"]["setup"]["command"])


def test_kafka_is_the_official_image_of_the_version_we_run_locally_in_kraft_mode() -> None:
    kafka = compose()["services"]["kafka"]
    pom = (REPO / "infra/kafka/pom.xml").read_text()
    match = re.search(r"<kafka.version>([^<]+)</kafka.version>", pom)
    assert match is not None
    assert kafka["image"] == f"apache/kafka:{match.group(1)}"
    env = kafka["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


def image_property(variable: str) -> str:
    """The server.properties key the apache/kafka image makes of a KAFKA_* variable (its
    utility's ConvertKey: "_" is ".", "__" is "_", "___" is "-", lower case)."""
    key = re.sub(r"[^_]_[^_]", lambda m: m.group().replace("_", "."), variable.removeprefix("KAFKA_"))
    return key.replace("___", "-").replace("__", "_").lower()


def overlay() -> dict[str, str]:
    lines = (REPO / "infra/kafka/security-scram.properties").read_text().splitlines()
    pairs = (line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


def test_kafka_runs_with_the_security_settings_of_the_local_stack() -> None:
    kafka = compose()["services"]["kafka"]
    properties = {
        image_property(k): str(v) for k, v in kafka["environment"].items() if k.startswith("KAFKA_")
    }
    for key, value in overlay().items():
        if key.endswith(".sasl.jaas.config"):
            continue  # in the JAAS file the entrypoint writes (the image drops values with "=")
        assert properties.get(key) == value, key
    assert properties["allow.everyone.if.no.acl.found"] == "false"
    assert properties["super.users"] == "User:admin"
    script = kafka["command"][0]
    assert "client.KafkaServer" in script and "ScramLoginModule" in script
    assert "controller.KafkaServer" in script and 'user_admin="$$HUIGONG_KAFKA_ADMIN_PASSWORD"' in script
    assert "-Djava.security.auth.login.config=" in script
    assert kafka["environment"]["HUIGONG_KAFKA_ADMIN_PASSWORD"].startswith("${HUIGONG_KAFKA_ADMIN_PASSWORD:?")
    # No listener is left unauthenticated.
    protocols = {entry.split(":")[1] for entry in properties["listener.security.protocol.map"].split(",")}
    assert protocols == {"SASL_PLAINTEXT"}


def test_each_service_logs_in_to_kafka_as_itself() -> None:
    for name in SERVICES:
        env = compose()["services"][name]["environment"]
        assert env["HUIGONG_KAFKA_USERNAME"] == name
        password = kafka_acls.principal(name).password_variable
        assert env["HUIGONG_KAFKA_PASSWORD"] == f"${{{password}:?}}"
        others = {k for k in env if k.startswith("HUIGONG_KAFKA_") and k.endswith("_PASSWORD")}
        assert others == {"HUIGONG_KAFKA_PASSWORD"}, f"{name} must hold no other principal's password"


def test_setup_job_creates_every_kafka_principal_before_the_topics() -> None:
    setup = compose()["services"]["setup"]
    env = setup["environment"]
    for p in kafka_acls.principals(local=False):
        assert p.password_variable in env, p.name
    assert not any(p.password_variable in env for p in kafka_acls.PRINCIPALS if p.local_only)
    command = " ".join(setup["command"])
    assert "huigong kafka principals --controller kafka:9093" in command
    assert command.index("kafka principals") < command.index("topics ensure")
    assert env["HUIGONG_KAFKA_USERNAME"] == kafka_acls.ADMIN


def test_the_image_resolves_the_whole_workspace_and_ships_the_huigong_command() -> None:
    """`uv sync --frozen` in the Dockerfile needs every workspace member's pyproject before the
    sources are copied; the set-up job's `huigong` command comes from huigong-ops, which must be
    a main dependency (the image is built with --no-dev), unlike the simulator."""
    dockerfile = (REPO / "Dockerfile").read_text()
    first_sync = dockerfile.index("uv sync")
    copied = set(re.findall(r"^COPY (\S+/pyproject\.toml) ", dockerfile[:first_sync], re.M))
    root = tomllib.loads((REPO / "pyproject.toml").read_text())
    members = {
        str(path.relative_to(REPO))
        for pattern in root["tool"]["uv"]["workspace"]["members"]
        for path in REPO.glob(f"{pattern}/pyproject.toml")
    }
    assert members and members == copied
    ops = tomllib.loads((REPO / "libs/ops/pyproject.toml").read_text())["project"]
    assert (
        ops["scripts"]["huigong"] == "huigong_ops.cli:app"
        and "huigong-ops" in root["project"]["dependencies"]
    )
    assert "huigong-simulator" not in root["project"]["dependencies"]
    assert "--no-dev" in dockerfile[first_sync : first_sync + 60]


NGINX_TEMPLATE = REPO / "infra/nginx/huigong.conf"


def placeholders(text: str) -> set[str]:
    return set(re.findall(r"@([A-Z_]+)@", text))


def test_the_front_door_is_the_official_nginx_image_with_every_api_behind_it() -> None:
    frontdoor = compose()["services"]["frontdoor"]
    assert frontdoor["build"]["target"] == "frontdoor"
    stages = dict(re.findall(r"^FROM (\S+) AS (\S+)$", (REPO / "Dockerfile").read_text(), re.MULTILINE))
    official = {stage: image for image, stage in stages.items()}["frontdoor"]
    assert re.fullmatch(r"nginx:[0-9.]+(-bookworm)?", official), official
    assert frontdoor["ports"] == ["8100:8100"]
    for name in SERVICES:
        assert frontdoor["depends_on"][name]["condition"] == "service_healthy"
    # The command fills in every value of the template, with the services' compose addresses.
    command = "\n".join(frontdoor["command"])
    filled = set(re.findall(r"s\|@([A-Z_]+)@\|([^|]*)\|", command))
    assert {name for name, _ in filled} == placeholders(NGINX_TEMPLATE.read_text())
    for name in SERVICES:
        assert (name.upper(), f"{name}:{DEFAULT_PORTS[name]}") in filled
    assert ("LISTEN", "8100") in filled


def test_the_local_front_door_fills_in_the_same_template() -> None:
    stack = (REPO / "bin/stack").read_text()
    render = re.search(r"^nginx_render_config\(\) \{\n(.*?)^\}", stack, re.DOTALL | re.MULTILINE)
    assert render is not None
    filled = set(re.findall(r'-e "s\|@([A-Z_]+)@\|', render.group(1)))
    assert filled == placeholders(NGINX_TEMPLATE.read_text())


def test_the_front_door_forwards_each_api_under_its_own_prefix() -> None:
    conf = NGINX_TEMPLATE.read_text()
    for name in SERVICES:
        block = re.search(rf"location /api/{name}/ \{{(.*?)\}}", conf, re.DOTALL)
        assert block is not None, name
        # The whole path goes through (no URI on proxy_pass), the prefix named for the service.
        assert f"proxy_set_header X-Forwarded-Prefix /api/{name};" in block.group(1)
        assert f"proxy_pass http://{name};" in block.group(1)
