"""The image and the compose topology, read as files: what runs, in which order, with which
settings, and what reaches the one published port. (`docker compose config` checks the
compose file too where Docker's compose plugin is installed.)"""

from __future__ import annotations

import fnmatch
import io
import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import crossplane
import pytest
import yaml
from dockerfile_parse import DockerfileParser

from server.settings import Settings, specs

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
NGINX = ROOT / "deploy" / "nginx.conf"

# `${NAME:?message}`: compose stops, printing the message, when NAME is unset or empty.
REQUIRED_VARIABLE = re.compile(r"\$\{(?P<name>\w+):\?[^}]+\}")
SECRETS = ("BUSINESS_API_SECRET_KEY", "BUSINESS_API_ADMIN_TOKEN")
# What an operator might export for compose: long enough for every secret setting.
EXAMPLE_ENVIRONMENT = {
    "BUSINESS_API_SECRET_KEY": "s" * 43,
    "BUSINESS_API_ADMIN_TOKEN": "t" * 43,
    "POSTGRES_PASSWORD": "p" * 24,
}


def _services() -> dict[str, Any]:
    services: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]
    return services


def _interpolated(text: str) -> str:
    """`text` as compose sees it with EXAMPLE_ENVIRONMENT exported."""
    return REQUIRED_VARIABLE.sub(lambda match: EXAMPLE_ENVIRONMENT[match["name"]], text)


def _published_ports(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(host port, container port) of each of the service's `ports` in short syntax."""
    published = []
    for entry in service.get("ports", []):
        host, _, container = str(entry).rpartition(":")
        published.append((host.rpartition(":")[2], container.partition("/")[0]))
    return published


def _option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def _nginx() -> list[dict[str, Any]]:
    """The directives of the proxy's file, which the image includes in its `http` block."""
    parsed = crossplane.parse(str(NGINX), single=True, comments=False, check_ctx=False)
    assert parsed["status"] == "ok", parsed["errors"]
    directives: list[dict[str, Any]] = parsed["config"][0]["parsed"]
    return directives


def _directives(block: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    found = []
    for directive in block:
        if directive["directive"] == name:
            found.append(directive)
        found.extend(_directives(directive.get("block", []), name))
    return found


def _dockerfile() -> DockerfileParser:
    return DockerfileParser(fileobj=io.BytesIO(DOCKERFILE.read_bytes()))


def _stages() -> list[list[dict[str, str]]]:
    """The Dockerfile's instructions, stage by stage (the last is the image that runs)."""
    stages: list[list[dict[str, str]]] = []
    for instruction in _dockerfile().structure:
        if instruction["instruction"] == "FROM":
            stages.append([])
        elif instruction["instruction"] != "COMMENT":
            stages[-1].append(instruction)
    return stages


def _final(instruction: str) -> list[str]:
    return [i["value"] for i in _stages()[-1] if i["instruction"] == instruction]


def _copied_from_the_context() -> list[str]:
    """The sources of every COPY that reads the build context (not another stage)."""
    sources: list[str] = []
    for stage in _stages():
        for instruction in stage:
            if instruction["instruction"] != "COPY":
                continue
            words = shlex.split(instruction["value"])
            if not any(w.startswith("--from") for w in words):
                sources.extend(w for w in words[:-1] if not w.startswith("--"))
    return sources


def test_postgres_keeps_its_data_in_a_named_volume_and_says_when_it_is_ready() -> None:
    postgres = _services()["postgres"]
    assert postgres["image"].startswith("postgres:16")
    volumes = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["volumes"]
    named = [
        v.split(":")[0] for v in postgres["volumes"] if v.endswith(":/var/lib/postgresql/data")
    ]
    assert named and named[0] in volumes
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])


def test_redis_says_when_it_is_ready() -> None:
    redis = _services()["redis"]
    assert redis["image"].startswith("redis:7")
    assert "redis-cli ping" in " ".join(redis["healthcheck"]["test"])


def test_the_migration_runs_once_when_postgres_is_ready() -> None:
    migrate = _services()["migrate"]
    assert migrate["command"] == ["business-api", "migrate"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_two_servers_start_once_the_migration_succeeded_and_redis_is_ready() -> None:
    serve = _services()["serve"]
    assert serve["command"][:2] == ["business-api", "serve"]
    assert _option(serve["command"], "--host") == "0.0.0.0"
    assert serve["deploy"]["replicas"] == 2
    assert serve["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert serve["depends_on"]["redis"]["condition"] == "service_healthy"
    assert serve["image"] == _services()["migrate"]["image"]


def _servers() -> dict[str, list[dict[str, Any]]]:
    """nginx's server blocks, by the port each listens on."""
    return {
        _directives(d["block"], "listen")[0]["args"][0]: d["block"]
        for d in _nginx()
        if d["directive"] == "server"
    }


def test_https_and_its_redirect_are_the_only_ports_and_reach_the_servers_through_the_proxy() -> (
    None
):
    services = _services()
    published = {name: _published_ports(s) for name, s in services.items() if "ports" in s}
    assert list(published) == ["proxy"]
    assert sorted(published["proxy"]) == [("443", "443"), ("80", "80")]
    proxy = services["proxy"]
    assert proxy["image"].startswith("nginx:")
    assert "./deploy/nginx.conf:/etc/nginx/conf.d/default.conf:ro" in proxy["volumes"]
    assert "${TLS_DIR:-./deploy/tls}:/etc/nginx/tls:ro" in proxy["volumes"]
    assert proxy["depends_on"]["serve"]["condition"] == "service_healthy"

    directives = _nginx()
    servers = _servers()
    assert sorted(servers) == ["443", "80"]
    (proxied,) = _directives(servers["443"], "proxy_pass")
    upstream_name = urlsplit(proxied["args"][0]).hostname
    (upstream,) = [d for d in directives if d["directive"] == "upstream"]
    assert upstream["args"] == [upstream_name]
    serve_port = _option(services["serve"]["command"], "--port")
    # `resolve` follows the replicas' addresses; it needs a resolver and a shared zone.
    assert [s["args"] for s in _directives(upstream["block"], "server")] == [
        [f"serve:{serve_port}", "resolve"]
    ]
    assert _directives(upstream["block"], "zone") and _directives(directives, "resolver")


def test_the_proxy_terminates_tls_redirects_http_and_asks_browsers_for_https_only() -> None:
    servers = _servers()
    tls = servers["443"]
    assert _directives(tls, "listen")[0]["args"] == ["443", "ssl"]
    assert [d["args"] for d in _directives(tls, "ssl_certificate")] == [
        ["/etc/nginx/tls/fullchain.pem"]
    ]
    assert [d["args"] for d in _directives(tls, "ssl_certificate_key")] == [
        ["/etc/nginx/tls/privkey.pem"]
    ]
    assert [d["args"] for d in _directives(tls, "ssl_protocols")] == [["TLSv1.2", "TLSv1.3"]]
    [hsts] = [d["args"] for d in _directives(tls, "add_header")]
    assert hsts[0] == "Strict-Transport-Security" and hsts[-1] == "always"
    assert int(hsts[1].removeprefix("max-age=")) >= 31_536_000  # a year at least
    plain = servers["80"]
    assert not _directives(plain, "proxy_pass")  # nothing is answered over plain HTTP
    assert [d["args"] for d in _directives(plain, "return")] == [
        ["301", "https://$host$request_uri"]
    ]


def test_the_servers_count_clients_by_the_address_the_proxy_saw_never_one_a_client_sent() -> None:
    assert _services()["serve"]["environment"]["FORWARDED_ALLOW_IPS"] == "*"
    headers = [d["args"] for d in _directives(_nginx(), "proxy_set_header")]
    forwarded = [value for name, value in headers if name.lower() == "x-forwarded-for"]
    # Appending ($proxy_add_x_forwarded_for) would keep an address the client made up.
    assert forwarded == ["$remote_addr"]


def test_the_secrets_come_from_the_environment_and_compose_refuses_to_start_without_them() -> None:
    for name in ("migrate", "serve"):
        environment = _services()[name]["environment"]
        for secret in SECRETS:
            match = REQUIRED_VARIABLE.fullmatch(environment[secret])
            assert match and match["name"] == secret, (name, secret)
    password = _services()["postgres"]["environment"]["POSTGRES_PASSWORD"]
    assert REQUIRED_VARIABLE.fullmatch(password)


def test_the_servers_settings_name_the_compose_services_and_pass_the_settings_checks() -> None:
    for name in ("migrate", "serve"):
        environment = {
            k: _interpolated(v)
            for k, v in _services()[name]["environment"].items()
            if k.startswith("BUSINESS_API_")
        }
        settings = Settings.from_environ(environment)
        database = urlsplit(settings.database_url)
        assert (database.scheme, database.hostname, database.port) == (
            "postgresql+asyncpg",
            "postgres",
            5432,
        )
        assert database.password == EXAMPLE_ENVIRONMENT["POSTGRES_PASSWORD"]
        assert settings.redis_url == "redis://redis:6379/0"


def test_every_setting_the_deployment_files_name_exists() -> None:
    known = {spec.name for _, spec in specs()}
    for path in (COMPOSE, DOCKERFILE, NGINX):
        named = set(re.findall(r"BUSINESS_API_[A-Z0-9_]+", path.read_text(encoding="utf-8")))
        assert named and named <= known, (path.name, named - known)


def test_the_image_is_built_with_the_licence_the_package_declares() -> None:
    assert "LICENSE" in _copied_from_the_context()


def test_the_image_serves_as_an_unprivileged_user_and_checks_its_own_health() -> None:
    (user,) = _final("USER")
    assert user.partition(":")[0] not in {"root", "0"}
    command = json.loads(_final("CMD")[0])
    assert command[:2] == ["business-api", "serve"] and _option(command, "--host") == "0.0.0.0"
    (healthcheck,) = _final("HEALTHCHECK")
    probe = json.loads(healthcheck.partition("CMD")[2])
    assert probe[0] == "python"  # the slim image has no curl or wget
    assert f"http://127.0.0.1:{_option(command, '--port')}/readyz" in probe[-1]


def test_the_images_sqlite_store_is_in_a_volume_its_user_may_write() -> None:
    url = _dockerfile().envs["BUSINESS_API_DATABASE_URL"]
    assert url.startswith("sqlite+aiosqlite:////")
    data = str(Path(url.removeprefix("sqlite+aiosqlite:///")).parent)
    volumes = [
        v
        for value in _final("VOLUME")
        for v in (json.loads(value) if value.startswith("[") else shlex.split(value))
    ]
    assert data in volumes
    user = _final("USER")[0].partition(":")[0]
    owned = rf"chown (-R )?{re.escape(user)}(:\S+)? {re.escape(data)}(\s|$)"
    assert any(re.search(owned, run) for run in _final("RUN")), "the data folder is not chowned"


def test_the_image_finds_its_policy_as_package_data() -> None:
    assert "BUSINESS_API_POLICY" not in _dockerfile().envs


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern that matches decides, `!` patterns keep."""
    ignored = False
    for pattern in patterns:
        keep = pattern.startswith("!")
        if fnmatch.fnmatch(path, pattern.removeprefix("!").rstrip("/")):
            ignored = not keep
    return ignored


def test_the_build_context_leaves_out_git_and_environments_but_keeps_what_the_image_copies() -> (
    None
):
    lines = DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    for left_out in (".git", ".venv", ".ci-venv", "tests/http_audit/node_modules"):
        assert _ignored(left_out, patterns), left_out
    copied = _copied_from_the_context()
    assert "server" in copied
    for source in copied:
        assert not _ignored(source, patterns), source


def _environ() -> dict[str, str]:
    """This process's environment, with EXAMPLE_ENVIRONMENT in place of its own values."""
    kept = {k: v for k, v in os.environ.items() if k not in EXAMPLE_ENVIRONMENT}
    return {**kept, **EXAMPLE_ENVIRONMENT}


def _docker_compose() -> list[str]:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("no docker CLI on this machine")
    found = subprocess.run(
        [docker, "compose", "version"], env=_environ(), capture_output=True, check=False
    )
    if found.returncode != 0:
        pytest.skip("the docker CLI here has no compose plugin")
    return [docker, "compose", "--file", str(COMPOSE)]


@pytest.mark.external
def test_docker_compose_accepts_the_file_and_names_a_missing_secret() -> None:
    command = _docker_compose()
    environ = _environ()
    accepted = subprocess.run(
        [*command, "config", "--quiet"], env=environ, capture_output=True, text=True, check=False
    )
    assert accepted.returncode == 0, accepted.stderr
    environ.pop("BUSINESS_API_ADMIN_TOKEN")
    refused = subprocess.run(
        [*command, "config", "--quiet"], env=environ, capture_output=True, text=True, check=False
    )
    assert refused.returncode != 0 and "BUSINESS_API_ADMIN_TOKEN" in refused.stderr
