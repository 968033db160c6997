"""The docker-compose stack, checked without a Docker engine: the compose file, the Dockerfiles,
.env.example, config/docker.yaml and the CI workflow agree with one another, and the one-shot
setup scripts do the right requests (run with sh and curl against a loopback stand-in that
records what it is sent; the stand-in is neither Elasticsearch nor Kibana)."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from crawler.config import load_config

REPO = Path(__file__).resolve().parent.parent
COMPOSE_TEXT = (REPO / "docker-compose.yml").read_text(encoding="utf-8")
SETUP = REPO / "docker" / "setup"
ONE_SHOT = {"setup", "kibana-setup"}

_VARIABLE = re.compile(r"\$\$|\$\{(\w+)(?:(:?[-?])([^}]*))?\}|\$(\w+)")


def env_example() -> dict[str, str]:
    """KEY=VALUE lines of .env.example, as docker compose reads them."""
    values = {}
    for line in (REPO / ".env.example").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip().strip("'\"")
    return values


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """``value`` with compose's ``${VAR}``, ``${VAR:-default}``, ``${VAR:?error}`` and ``$$``."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group(1) or match.group(4), match.group(2), match.group(3)
        missing = not env.get(name) if op and op.startswith(":") else name not in env
        if missing and op and op.endswith("-"):
            return arg
        assert not missing, f"{name} is not set ({arg or 'no default'})"
        return env[name]

    return _VARIABLE.sub(substitute, value)


def services() -> dict[str, dict]:
    """The compose services, interpolated with the values .env.example gives."""
    return interpolate(yaml.safe_load(COMPOSE_TEXT), env_example())["services"]


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {k: str(v) for k, v in env.items()}


def image_tag(image: str) -> str:
    name = image.split("@")[0].rsplit("/", 1)[-1]
    return name.partition(":")[2]


def dockerfile_bases(path: Path, build_args: dict[str, str]) -> list[str]:
    """The FROM images of a Dockerfile, with ARG defaults (or the build args) filled in."""
    args, bases = {}, []
    for line in path.read_text(encoding="utf-8").splitlines():
        words = line.split()
        if words[:1] == ["ARG"]:
            key, _, default = words[1].partition("=")
            args[key] = build_args.get(key, default)
        elif words[:1] == ["FROM"]:
            bases.append(re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], words[1]))
    return bases


# -- the compose file


@pytest.mark.parametrize(
    "path, schema",
    [
        ("docker-compose.yml", "vendor.compose-spec"),
        (".github/workflows/ci.yml", "vendor.github-workflows"),
    ],
)
def test_the_file_is_valid_against_its_published_schema(path, schema):
    # check-jsonschema ships the Compose Specification and GitHub workflow schemas, so this
    # needs no network: a misspelt key or a wrongly shaped value fails here, not on a deploy.
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(REPO / path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_stack_has_its_six_services():
    assert set(services()) == {"elasticsearch", "setup", "kibana", "kibana-setup", "mailpit",
                               "beatwatch"}  # fmt: skip


@pytest.mark.parametrize("name", sorted(services()))
def test_long_running_services_have_a_healthcheck_and_one_shots_never_restart(name):
    service = services()[name]
    if name in ONE_SHOT:
        assert service.get("restart") == "no"
        assert "healthcheck" not in service
    else:
        check = service.get("healthcheck") or {}
        assert check.get("test") and check["test"][0] in ("CMD", "CMD-SHELL"), name
        assert not check.get("disable"), name
        assert service.get("restart") == "unless-stopped", name


def test_services_wait_for_what_they_need():
    found = {name: s.get("depends_on", {}) for name, s in services().items()}
    conditions = {n: {dep: c["condition"] for dep, c in d.items()} for n, d in found.items()}
    healthy, done = "service_healthy", "service_completed_successfully"
    assert conditions["beatwatch"] == {"elasticsearch": healthy, "mailpit": healthy}
    assert conditions["setup"] == {"elasticsearch": healthy}
    assert conditions["kibana"] == {"elasticsearch": healthy, "setup": done}
    assert conditions["kibana-setup"] == {"kibana": healthy}
    for deps in conditions.values():
        for dep, condition in deps.items():
            assert (condition == done) == (dep in ONE_SHOT), (dep, condition)


def test_every_image_and_base_image_is_pinned():
    images = []
    for service in services().values():
        if "image" in service:
            images.append(service["image"])
        build = service.get("build")
        if build is not None:
            build = {"context": build} if isinstance(build, str) else build
            dockerfile = REPO / build["context"] / build.get("dockerfile", "Dockerfile")
            images += dockerfile_bases(dockerfile, build.get("args", {}))
    assert len(images) >= 8
    for image in images:
        assert image_tag(image) not in ("", "latest"), f"{image} is not pinned"


def test_elasticsearch_kibana_and_ci_run_one_release():
    s = services()
    version = s["elasticsearch"]["build"]["args"]["STACK_VERSION"]
    assert re.fullmatch(r"8\.\d+\.\d+", version)
    stack = [s["kibana"]["image"], s["setup"]["image"], s["kibana-setup"]["image"]]
    stack += dockerfile_bases(REPO / "docker/elasticsearch/Dockerfile", {})  # the ARG default
    stack += [job["services"]["elasticsearch"]["image"] for job in es_jobs()]
    assert stack and {image_tag(image) for image in stack} == {version}
    assert image_tag(s["elasticsearch"]["image"]) == version
    assert s["kibana"]["image"].startswith("docker.elastic.co/kibana/kibana:")


def test_every_compose_variable_is_in_env_example_with_the_same_default():
    text = COMPOSE_TEXT.replace("$$", "")
    used = {m.group(1) or m.group(4) for m in _VARIABLE.finditer(text)}
    documented = env_example()
    assert used and used <= set(documented), used - set(documented)
    assert set(documented) <= used, f"unused in docker-compose.yml: {set(documented) - used}"
    for match in _VARIABLE.finditer(text):
        if match.group(2) == ":-":
            assert documented[match.group(1)] == match.group(3), match.group(0)


def test_the_passwords_have_no_default_in_the_compose_file():
    for name in ("ELASTIC_PASSWORD", "KIBANA_PASSWORD"):
        uses = [m.group(2) for m in _VARIABLE.finditer(COMPOSE_TEXT) if m.group(1) == name]
        assert uses and set(uses) == {":?"}, (name, uses)
        with pytest.raises(AssertionError, match=name):
            interpolate(yaml.safe_load(COMPOSE_TEXT), {**env_example(), name: ""})


def test_published_ports_bind_to_loopback_only():
    ports = [str(p) for s in services().values() for p in s.get("ports", [])]
    assert len(ports) == 4
    assert all(p.startswith("127.0.0.1:") for p in ports), ports


def test_elasticsearch_runs_with_security_on_and_checks_health_with_the_password():
    es = services()["elasticsearch"]
    env = environment(es)
    assert env["xpack.security.enabled"] == "true"
    assert env["discovery.type"] == "single-node"
    assert env["ELASTIC_PASSWORD"] == env_example()["ELASTIC_PASSWORD"]
    heap = env_example()["ES_HEAP"]
    assert env["ES_JAVA_OPTS"] == f"-Xms{heap} -Xmx{heap}"
    assert es["mem_limit"] == env_example()["ES_MEM_LIMIT"]
    check = " ".join(es["healthcheck"]["test"])
    assert "/_cluster/health?wait_for_status=yellow" in check
    assert "elastic:${ELASTIC_PASSWORD}" in check  # left to the container's shell
    assert "elasticsearch-data:/usr/share/elasticsearch/data" in es["volumes"]


def test_the_elasticsearch_image_installs_analysis_icu():
    lines = (REPO / "docker/elasticsearch/Dockerfile").read_text(encoding="utf-8").splitlines()
    assert "RUN bin/elasticsearch-plugin install --batch analysis-icu" in lines


def test_kibana_connects_as_kibana_system_with_the_password_setup_gives_it():
    s = services()
    kibana, setup = environment(s["kibana"]), environment(s["setup"])
    assert kibana["ELASTICSEARCH_USERNAME"] == "kibana_system"
    assert kibana["ELASTICSEARCH_PASSWORD"] == setup["KIBANA_PASSWORD"]
    assert kibana["ELASTICSEARCH_PASSWORD"] != setup["ELASTIC_PASSWORD"]
    assert s["setup"]["entrypoint"][-1] == "/setup/kibana-system-password.sh"
    assert s["kibana-setup"]["entrypoint"][-1] == "/setup/kibana-data-view.sh"
    for name in ONE_SHOT:
        assert "./docker/setup:/setup:ro" in s[name]["volumes"]


def test_the_docker_config_loads_with_the_environment_compose_gives_beatwatch(monkeypatch):
    s = services()
    beatwatch = s["beatwatch"]
    config_text = (REPO / "config/docker.yaml").read_text(encoding="utf-8")
    for name in set(re.findall(r"\$\{(\w+)", config_text)):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment(beatwatch).items():
        monkeypatch.setenv(name, value)

    settings = load_config(REPO / "config/docker.yaml")

    es = settings.store.elasticsearch
    assert settings.store.backend == "elasticsearch"
    assert es.url == "http://elasticsearch:9200"
    assert (es.username, es.password) == ("elastic", env_example()["ELASTIC_PASSWORD"])
    assert es.index == environment(s["kibana-setup"])["DATA_VIEW_INDEX"]
    assert environment(s["kibana-setup"])["DATA_VIEW_TIME_FIELD"] == "published_at"
    assert str(Path(settings.store.path).parent) + "/" in [
        volume.split(":")[1] + "/" for volume in beatwatch["volumes"]
    ]
    smtp = settings.alerts.delivery.smtp
    assert (smtp.host, smtp.port) == ("mailpit", 1025)
    assert settings.sources and settings.alerts.rules  # the included files
    assert beatwatch["command"] == ["--config", "/app/config/docker.yaml", "run"]


# -- the images and the workflow


def test_the_beatwatch_image_runs_as_a_plain_user_without_test_extras():
    lines = [line.strip() for line in (REPO / "Dockerfile").read_text().splitlines()]
    assert dockerfile_bases(REPO / "Dockerfile", {}) == ["python:3.11-slim"]
    assert "RUN pip install --no-cache-dir . \\" in lines
    assert "USER beatwatch" in lines
    assert 'ENTRYPOINT ["beatwatch"]' in lines
    assert 'CMD ["--config", "/app/config/docker.yaml", "run"]' in lines
    assert "COPY config config" in lines


def test_dockerignore_keeps_local_state_and_secrets_out_of_the_image():
    ignored = set((REPO / ".dockerignore").read_text().split())
    assert {".venv", "var", "bench/out", ".git", ".env"} <= ignored


def workflow() -> dict:
    return yaml.safe_load((REPO / ".github/workflows/ci.yml").read_text(encoding="utf-8"))


def es_jobs() -> list[dict]:
    return [j for j in workflow()["jobs"].values() if "elasticsearch" in j.get("services", {})]


def runs(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_the_workflow_runs_ci_run_on_python_311():
    jobs = [j for j in workflow()["jobs"].values() if ".ci/run" in runs(j)]
    assert jobs
    python = [s["with"]["python-version"] for s in jobs[0]["steps"] if "with" in s]
    assert python == ["3.11"]


def test_the_workflow_runs_the_tests_against_an_elasticsearch_service():
    (job,) = es_jobs()
    service = job["services"]["elasticsearch"]
    env = {
        **job.get("env", {}),
        **{k: v for s in job["steps"] for k, v in s.get("env", {}).items()},
    }
    port = service["ports"][0].split(":")[0]
    assert env["BEATWATCH_TEST_ES_URL"] == f"http://localhost:{port}"
    assert service["env"]["discovery.type"] == "single-node"
    assert "--health-cmd" in service["options"]
    assert "make test" in runs(job)


# -- the setup scripts, against a stand-in


class StandIn:
    """A loopback HTTP server that records each request and answers with ``reply(request)``."""

    def __init__(self, reply: Callable[[dict], tuple[int, dict]]):
        self.requests: list[dict] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def handle_one(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                auth = self.headers.get("Authorization", "").removeprefix("Basic ")
                request = {"method": self.command, "path": self.path, "headers": self.headers,
                           "user": base64.b64decode(auth).decode() if auth else None,
                           "json": json.loads(body) if body else None}  # fmt: skip
                stand_in.requests.append(request)
                status, payload = reply(request)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = handle_one

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def stand_in() -> Iterator[Callable[..., StandIn]]:
    started: list[StandIn] = []

    def start(reply: Callable[[dict], tuple[int, dict]]) -> StandIn:
        started.append(StandIn(reply))
        return started[-1]

    yield start
    for server in started:
        server.server.shutdown()
        server.server.server_close()


def run_script(name: str, **env: str) -> subprocess.CompletedProcess:
    if not shutil.which("curl"):
        pytest.skip("curl is not installed")
    base = {"PATH": os.environ["PATH"], "SETUP_ATTEMPTS": "4", "SETUP_RETRY_DELAY": "0"}
    return subprocess.run(["sh", str(SETUP / name)], env={**base, **env},
                          capture_output=True, text=True, timeout=60)  # fmt: skip


ELASTIC, KIBANA = 'el"as\\tic-pw', 'ki"ba\\na-pw'


def test_setup_sets_the_kibana_system_password_as_the_elastic_user(stand_in):
    es = stand_in(lambda request: (200, {}))
    done = run_script("kibana-system-password.sh", ES_URL=es.url, ELASTIC_PASSWORD=ELASTIC,
                      KIBANA_PASSWORD=KIBANA)  # fmt: skip
    assert done.returncode == 0, done.stderr
    (request,) = es.requests
    assert (request["method"], request["path"]) == (
        "POST",
        "/_security/user/kibana_system/_password",
    )
    assert request["user"] == f"elastic:{ELASTIC}"
    assert request["json"] == {"password": KIBANA}


def test_setup_retries_while_elasticsearch_is_unavailable(stand_in):
    answers = iter([503, 503, 200])
    es = stand_in(lambda request: (next(answers), {}))
    done = run_script("kibana-system-password.sh", ES_URL=es.url, ELASTIC_PASSWORD=ELASTIC,
                      KIBANA_PASSWORD=KIBANA)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert len(es.requests) == 3


def test_setup_stops_at_once_on_a_wrong_elastic_password(stand_in):
    es = stand_in(lambda request: (401, {"error": "unable to authenticate"}))
    done = run_script("kibana-system-password.sh", ES_URL=es.url, ELASTIC_PASSWORD=ELASTIC,
                      KIBANA_PASSWORD=KIBANA)  # fmt: skip
    assert done.returncode == 1
    assert "ELASTIC_PASSWORD" in done.stderr
    assert len(es.requests) == 1


def test_setup_refuses_a_kibana_password_elasticsearch_would_refuse(stand_in):
    es = stand_in(lambda request: (200, {}))
    done = run_script("kibana-system-password.sh", ES_URL=es.url, ELASTIC_PASSWORD=ELASTIC,
                      KIBANA_PASSWORD="short")  # fmt: skip
    assert done.returncode == 1
    assert es.requests == []


def fake_kibana(views: dict) -> Callable[[dict], tuple[int, dict]]:
    prefix = "/api/data_views/data_view"

    def reply(request: dict) -> tuple[int, dict]:
        if request["headers"].get("kbn-xsrf") is None:
            return 400, {"message": "Request must contain a kbn-xsrf header."}
        if request["method"] == "GET" and request["path"].startswith(prefix + "/"):
            view = views.get(request["path"].removeprefix(prefix + "/"))
            return (200, {"data_view": view}) if view else (404, {})
        if request["method"] == "POST" and request["path"] == prefix:
            view = request["json"]["data_view"]
            views[view["id"]] = view
            return 200, {"data_view": view}
        return 404, {}

    return reply


def test_the_data_view_is_created_once_and_left_alone_after(stand_in):
    views: dict = {}
    kibana = stand_in(fake_kibana(views))
    env = {**environment(services()["kibana-setup"]), "KIBANA_URL": kibana.url}

    first = run_script("kibana-data-view.sh", **env)
    second = run_script("kibana-data-view.sh", **env)

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert [r["method"] for r in kibana.requests] == ["GET", "POST", "GET"]
    assert kibana.requests[0]["user"] == f"elastic:{env['ELASTIC_PASSWORD']}"
    view = views["beatwatch-articles"]
    assert (view["title"], view["timeFieldName"]) == ("beatwatch-articles", "published_at")
    assert view["allowNoIndex"] is True


def test_the_data_view_setup_fails_when_kibana_refuses(stand_in):
    kibana = stand_in(lambda request: (403, {"message": "forbidden"}))
    done = run_script("kibana-data-view.sh", KIBANA_URL=kibana.url, ELASTIC_PASSWORD=ELASTIC)
    assert done.returncode == 1
    assert "HTTP 403" in done.stderr
    assert [r["method"] for r in kibana.requests] == ["GET"]
