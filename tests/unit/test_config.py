"""Settings: defaults → TOML → env, unknown keys rejected, errors naming the field and line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel

from vantage.config import Settings, load_settings
from vantage.errors import ConfigError


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No VANTAGE variables from the developer's shell, no ./vantage.toml from the cwd."""
    for key in list(os.environ):
        if key.startswith("VANTAGE"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


def write_toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "vantage.toml"
    path.write_text(text)
    return path


def test_defaults() -> None:
    settings = load_settings(environ={})
    assert settings.data_dir == Path(".vantage")
    assert settings.db.url is None
    assert settings.db_url == f"sqlite:///{(Path('.vantage') / 'vantage.db').resolve()}"
    assert settings.blob_root == Path(".vantage") / "blobs"
    assert settings.storage.backend == "local"
    assert settings.jobs.lease_ttl_s == 30.0
    assert settings.jobs.heartbeat_interval_s == 5.0
    assert settings.jobs.max_attempts == 3
    assert settings.worker.concurrency == 2
    assert settings.api.port == 8000
    assert settings.log.level == "INFO"


def test_every_field_has_a_description() -> None:
    missing: list[str] = []

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, field in model.model_fields.items():
            if not field.description:
                missing.append(prefix + name)
            annotation = field.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                walk(annotation, f"{prefix}{name}.")

    walk(Settings, "")
    assert missing == []


def test_toml_overrides_defaults(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path,
        'data_dir = "/srv/vantage"\n\n[jobs]\nlease_ttl_s = 40\nmax_attempts = 7\n\n'
        '[db]\nurl = "postgresql+psycopg://vantage@db:5432/vantage"\n',
    )
    settings = load_settings(path, environ={})
    assert settings.data_dir == Path("/srv/vantage")
    assert settings.jobs.lease_ttl_s == 40.0
    assert settings.jobs.max_attempts == 7
    assert settings.jobs.heartbeat_interval_s == 5.0  # untouched keys keep their default
    assert settings.db_url == "postgresql+psycopg://vantage@db:5432/vantage"


def test_default_toml_in_cwd_is_read(tmp_path: Path) -> None:
    write_toml(tmp_path, "[worker]\nconcurrency = 5\n")
    assert load_settings(environ={}).worker.concurrency == 5


def test_vantage_config_env_names_the_file(tmp_path: Path) -> None:
    other = tmp_path / "other.toml"
    other.write_text("[worker]\nconcurrency = 9\n")
    assert load_settings(environ={"VANTAGE_CONFIG": str(other)}).worker.concurrency == 9
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(environ={"VANTAGE_CONFIG": str(tmp_path / "missing.toml")})


def test_env_overrides_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_toml(tmp_path, "[jobs]\nlease_ttl_s = 40\nmax_attempts = 7\n")
    monkeypatch.setenv("VANTAGE__JOBS__LEASE_TTL_S", "45")
    settings = load_settings(path)
    assert settings.jobs.lease_ttl_s == 45.0
    assert settings.jobs.max_attempts == 7  # the rest of the TOML section still applies


def test_overrides_beat_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VANTAGE__WORKER__CONCURRENCY", "3")
    assert load_settings(worker={"concurrency": 4}).worker.concurrency == 4


def test_unknown_env_key_is_rejected() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={"VANTAGE__DB__UR": "sqlite:///x.db"})
    assert "db.ur" in str(caught.value)
    assert caught.value.fields["field"] == "db.ur"
    assert caught.value.exit_code == 78


@pytest.mark.parametrize(
    ("key", "field"),
    [
        ("VANTAGE__NOPE", "nope"),
        ("VANTAGE__JOBS__LEASE_TTL_S__DEEPER", "jobs.lease_ttl_s.deeper"),
        ("VANTAGE__DATA_DIR__X", "data_dir.x"),
    ],
)
def test_unknown_env_shapes_are_rejected(key: str, field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={key: "1"})
    assert caught.value.fields["field"] == field


def test_env_keys_are_case_insensitive_for_values_and_for_typos(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # pydantic-settings reads VANTAGE__ variables whatever their case...
    monkeypatch.setenv("vantage__jobs__lease_ttl_s", "45")
    assert load_settings().jobs.lease_ttl_s == 45.0
    # ...so a typo in lower case must be caught as well.
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={"vantage__dat_dir": "/tmp/x"})
    assert caught.value.fields["field"] == "dat_dir"


def test_unknown_toml_key_is_rejected(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[jobs]\nlease_ttl_s = 40\nlease_tll_s = 41\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    assert "jobs.lease_tll_s" in str(caught.value)
    assert f"{path}:3" in str(caught.value)


def test_unknown_toml_section_is_rejected(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[job]\nlease_ttl_s = 40\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    assert "job" in caught.value.fields["field"]


def test_bad_toml_value_names_field_and_line(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path, 'data_dir = "/tmp/v"\n\n[jobs]\nlease_ttl_s = 40\nmax_attempts = "lots"\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    message = str(caught.value)
    assert "jobs.max_attempts" in message
    assert f"{path}:5" in message
    assert "'lots'" in message
    assert caught.value.fields == {"field": "jobs.max_attempts", "path": str(path)}


def test_out_of_range_toml_value(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[api]\nport = 70000\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    assert "api.port" in str(caught.value)
    assert f"{path}:2" in str(caught.value)


def test_malformed_toml_is_a_config_error(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[jobs\nlease_ttl_s = ")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    assert str(path) in str(caught.value)


def test_bad_env_value_names_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VANTAGE__JOBS__LEASE_TTL_S", "abc")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "jobs.lease_ttl_s" in str(caught.value)
    assert "'abc'" in str(caught.value)


def test_bad_env_value_does_not_blame_the_toml_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_toml(tmp_path, "[jobs]\nlease_ttl_s = 40\n")
    monkeypatch.setenv("VANTAGE__JOBS__LEASE_TTL_S", "abc")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    # The file says 40, which is fine; pointing the user at it sends them to the wrong place.
    assert f"{path}:" not in str(caught.value)


def test_heartbeat_must_be_at_most_half_the_lease() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={}, jobs={"lease_ttl_s": 4, "heartbeat_interval_s": 2.5})
    assert "jobs.heartbeat_interval_s" in str(caught.value)
    # Exactly half is allowed.
    settings = load_settings(environ={}, jobs={"lease_ttl_s": 4, "heartbeat_interval_s": 2})
    assert settings.jobs.heartbeat_interval_s == 2


def test_heartbeat_rule_in_toml_names_the_section_line(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[jobs]\nlease_ttl_s = 4\nheartbeat_interval_s = 3\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    assert "jobs.heartbeat_interval_s" in str(caught.value)
    assert f"{path}:1" in str(caught.value)


def test_s3_backend_needs_a_bucket() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={}, storage={"backend": "s3"})
    assert "storage.s3_bucket" in str(caught.value)
    settings = load_settings(environ={}, storage={"backend": "s3", "s3_bucket": "media"})
    assert settings.storage.s3_bucket == "media"


def test_settings_are_frozen() -> None:
    settings = load_settings(environ={})
    with pytest.raises(ValueError, match="frozen"):
        settings.jobs.lease_ttl_s = 1.0  # type: ignore[misc]


def test_redacted_hides_the_password() -> None:
    url = "postgresql+psycopg://vantage:s3cret@db:5432/vantage"
    data = load_settings(environ={}, db={"url": url}).redacted()
    assert "s3cret" not in json.dumps(data)
    assert data["db"]["url"] == "postgresql+psycopg://vantage:***@db:5432/vantage"
    assert data["db"]["resolved_url"] == data["db"]["url"]


def test_config_show_prints_redacted_json(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VANTAGE")}
    env["VANTAGE__DATA_DIR"] = str(tmp_path / "data")
    env["VANTAGE__DB__URL"] = "postgresql+psycopg://vantage:hunter2@db:5432/vantage"
    env["VANTAGE__JOBS__MAX_ATTEMPTS"] = "5"
    result = subprocess.run(
        [sys.executable, "-m", "vantage", "config", "show"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "hunter2" not in result.stdout
    data = json.loads(result.stdout)
    assert data["db"]["url"] == "postgresql+psycopg://vantage:***@db:5432/vantage"
    assert data["jobs"]["max_attempts"] == 5
    assert data["data_dir"] == str(tmp_path / "data")
