import os
import subprocess
from pathlib import Path

from scripts import train

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_finds_a_python_310() -> None:
    result = subprocess.run(
        ["bash", "scripts/find_python310.sh"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    interpreter = result.stdout.strip()
    version = subprocess.run(
        [interpreter, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True, check=True
    )
    assert version.stdout.strip() == "(3, 10)"


def test_explains_what_to_install_when_there_is_no_python_310(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYENV_ROOT": str(tmp_path / "pyenv")}
    if os.path.exists("/usr/bin/python3.10"):
        env["PATH"] = str(tmp_path)  # the machine has a system 3.10: hide it
    result = subprocess.run(
        ["/bin/bash", "scripts/find_python310.sh"], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert "Python 3.10 is required and none was found" in result.stderr
    assert "pyenv install 3.10" in result.stderr


def test_rejects_a_python_that_is_not_310(tmp_path: Path) -> None:
    fake = tmp_path / "python3.10"
    fake.write_text("#!/bin/sh\nexit 1\n")  # answers like a 3.11 would to the version check
    fake.chmod(0o755)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "HOME": str(tmp_path), "PYENV_ROOT": str(tmp_path / "p")}
    if os.path.exists("/usr/bin/python3.10"):
        env["PATH"] = str(tmp_path)
    result = subprocess.run(
        ["/bin/bash", "scripts/find_python310.sh"], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 1


def test_the_model_depends_on_config_domain_data_and_nlu_code() -> None:
    names = {str(p.relative_to(REPO_ROOT)) for p in train.input_files()}
    assert {"config.yml", "domain.yml", "requirements.lock"} <= names
    assert any(n.startswith("bot/data/") for n in names)
    assert "bot/nlu/components.py" in names
    assert not any("__pycache__" in n for n in names)


def test_training_is_skipped_only_when_inputs_are_unchanged(tmp_path: Path, monkeypatch) -> None:
    model = tmp_path / "aftersales.tar.gz"
    stamp = tmp_path / "aftersales.fingerprint"
    monkeypatch.setattr(train, "MODEL_PATH", model)
    monkeypatch.setattr(train, "FINGERPRINT_PATH", stamp)
    current = train.fingerprint()
    assert not train.is_up_to_date(current)  # no model yet
    model.write_bytes(b"model")
    stamp.write_text(current + "\n")
    assert train.is_up_to_date(current)
    assert not train.is_up_to_date("0" * 64)  # any input changed
