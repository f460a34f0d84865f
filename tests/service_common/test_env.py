import pytest

from service_common.env import MissingSettingError, env_int, env_str, require_env


def test_require_env_names_the_missing_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOME_TOKEN", raising=False)
    with pytest.raises(MissingSettingError) as error:
        require_env("SOME_TOKEN", "the token of something")
    assert str(error.value).startswith("SOME_TOKEN is not set: it is the token of something.")


def test_require_env_rejects_blank(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOME_TOKEN", "   ")
    with pytest.raises(MissingSettingError):
        require_env("SOME_TOKEN", "x")


def test_require_env_returns_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOME_TOKEN", "s3cret")
    assert require_env("SOME_TOKEN", "x") == "s3cret"


def test_optional_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("A_PORT", "5061")
    monkeypatch.delenv("B_PORT", raising=False)
    monkeypatch.setenv("C_NAME", "")
    assert env_int("A_PORT", 1) == 5061
    assert env_int("B_PORT", 7) == 7
    assert env_str("C_NAME", "default") == "default"
    monkeypatch.setenv("A_PORT", "fifty")
    with pytest.raises(MissingSettingError, match="A_PORT must be an integer"):
        env_int("A_PORT", 1)
