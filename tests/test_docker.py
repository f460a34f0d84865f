"""There is no Docker engine here: these tests keep the Dockerfile and compose file honest
by checking they install from the same lock file and run the same entry points as setup."""

import re
from pathlib import Path

import yaml

from scripts.stack import StackLayout, local_secrets, service_specs

REPO_ROOT = Path(__file__).resolve().parents[1]


def _dockerfile() -> str:
    return (REPO_ROOT / "Dockerfile").read_text()


def test_image_uses_python_310() -> None:
    assert re.search(r"^FROM python:3\.10", _dockerfile(), re.MULTILINE)


def test_image_installs_from_the_same_lock_file_the_same_way_as_setup() -> None:
    setup = (REPO_ROOT / "scripts" / "setup.sh").read_text()
    dockerfile = _dockerfile()
    assert "COPY requirements.lock" in dockerfile
    assert 'pip install --quiet --disable-pip-version-check --no-deps -r "$LOCK"' in setup
    assert "pip install --quiet --disable-pip-version-check --no-deps -r requirements.lock" in dockerfile
    pip_version = re.search(r"PIP_VERSION=(\S+)", setup)
    assert pip_version and f'"pip=={pip_version.group(1)}"' in dockerfile


def test_image_trains_with_the_setup_script() -> None:
    assert "scripts/train.py --if-needed" in (REPO_ROOT / "scripts" / "setup.sh").read_text()
    assert "RUN python scripts/train.py --if-needed" in _dockerfile()


def test_compose_runs_the_same_entry_points_as_the_stack(tmp_path: Path) -> None:
    compose = yaml.safe_load((REPO_ROOT / "compose.yaml").read_text())
    layout = StackLayout.from_environment({"STACK_DIR": str(tmp_path)})
    for spec in service_specs(layout, local_secrets(layout, {}), [], {}):
        compose_command = compose["services"][spec.name]["command"]
        assert compose_command[0] == "python"
        assert compose_command[1:3] == spec.command[1:3], spec.name  # "-m", the same module
        # The same options, except --reset: the stack reloads demo data, production keeps it.
        stack_options = {a for a in spec.command if a.startswith("--")} - {"--reset"}
        assert stack_options <= set(compose_command), spec.name
        # Every environment variable the stack gives a service, compose gives it too.
        compose_env = set(compose["services"][spec.name]["environment"])
        missing = set(spec.env) - compose_env - {"ORDERS_DATABASE_URL", "RECORDS_DATABASE_URL",
                                                 "TRACKER_SQLITE_PATH", "RASA_TELEMETRY_ENABLED",
                                                 "TF_CPP_MIN_LOG_LEVEL"}
        assert not missing, f"{spec.name} lacks {missing} in compose.yaml"


def test_no_secret_is_baked_into_the_image_or_compose() -> None:
    for text in (_dockerfile(), (REPO_ROOT / "compose.yaml").read_text()):
        assert not re.search(r"(TOKEN|PASSWORD)\s*[:=]\s*['\"]?[A-Za-z0-9+/_-]{12,}", text)


def test_every_compose_service_is_restarted_when_it_dies() -> None:
    compose = yaml.safe_load((REPO_ROOT / "compose.yaml").read_text(encoding="utf-8"))

    assert {name: service.get("restart") for name, service in compose["services"].items()} == {
        name: "unless-stopped" for name in compose["services"]
    }


def test_rasa_runs_as_replicas_behind_a_sticky_proxy() -> None:
    compose = yaml.safe_load((REPO_ROOT / "compose.yaml").read_text(encoding="utf-8"))
    rasa, proxy = compose["services"]["rasa"], compose["services"]["proxy"]
    nginx = (REPO_ROOT / "deploy" / "nginx.conf").read_text(encoding="utf-8")

    assert rasa["deploy"]["replicas"] == "${RASA_REPLICAS:-2}"
    assert "ports" not in rasa  # replicas cannot share a host port; the proxy publishes it
    assert rasa["environment"]["SANIC_WORKERS"] == "1"
    assert proxy["ports"] == ["5005:5005"]
    assert proxy["volumes"] == ["./deploy/nginx.conf:/etc/nginx/nginx.conf:ro"]
    upstream = re.search(r"upstream rasa_replicas \{(.*?)\}", nginx, re.DOTALL)
    assert upstream and upstream.group(1).split() == ["ip_hash;", "server", "rasa:5005;"]
    assert "proxy_pass http://rasa_replicas;" in nginx
    assert "proxy_set_header Upgrade $http_upgrade;" in nginx
    assert "proxy_set_header Connection $connection_upgrade;" in nginx
