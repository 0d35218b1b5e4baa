from pathlib import Path

import pytest

from cti.errors import ConfigError
from cti.settings import load_settings

NO_ENV: dict[str, str] = {}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cti.toml"
    path.write_text(text)
    return path


def test_given_no_file_when_loading_then_defaults_serve_the_local_stack(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, ""), NO_ENV)
    assert settings.ari.url == "http://127.0.0.1:8088/ari"
    assert settings.ari.app == "cti"
    assert settings.redis.url == "redis://127.0.0.1:6379/0"
    assert settings.database.url.startswith("sqlite+aiosqlite:///")


def test_given_the_shipped_file_then_it_loads() -> None:
    settings = load_settings(Path("config/cti.toml"), NO_ENV)
    assert settings.ari.username == "cti"


def test_given_file_and_env_when_loading_then_env_wins_over_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[ari]\nurl = "http://10.0.0.1:8088/ari"\napp = "from-file"\n')
    env = {"CTI_ARI_URL": "http://127.0.0.2:8088/ari/", "CTI_DATABASE_URL": "postgresql+psycopg://u@h/db"}
    settings = load_settings(path, env)
    assert settings.ari.url == "http://127.0.0.2:8088/ari"
    assert settings.ari.app == "from-file"
    assert settings.database.url == "postgresql+psycopg://u@h/db"


def test_given_cti_config_env_then_that_file_is_read(tmp_path: Path) -> None:
    path = write(tmp_path, '[ari]\napp = "elsewhere"\n')
    assert load_settings(None, {"CTI_CONFIG": str(path)}).ari.app == "elsewhere"


@pytest.mark.parametrize(
    ("env", "source", "key"),
    [
        ({"CTI_ARI_URL": "ftp://x"}, "CTI_ARI_URL", "ari.url"),
        ({"CTI_REDIS_URL": "http://x"}, "CTI_REDIS_URL", "redis.url"),
        ({"CTI_DATABASE_URL": "mysql://u@h/db"}, "CTI_DATABASE_URL", "database.url"),
        ({"CTI_LOG_LEVEL": "LOUD"}, "CTI_LOG_LEVEL", "log.level"),
        ({"CTI_LOG_JSON": "maybe"}, "CTI_LOG_JSON", "log.json"),
        ({"CTI_ARI_REQUEST_TIMEOUT_S": "-1"}, "CTI_ARI_REQUEST_TIMEOUT_S", "ari.request_timeout_s"),
        ({"CTI_OUTBOUND_CALLING_HOURS": "8-21"}, "CTI_OUTBOUND_CALLING_HOURS", "outbound.calling_hours"),
    ],
)
def test_given_bad_env_value_then_error_names_the_variable_and_key(
    tmp_path: Path, env: dict[str, str], source: str, key: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, ""), env)
    assert caught.value.source == source
    assert caught.value.key == key


def test_given_bad_file_value_then_error_names_the_file_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, '[ari]\napp = "has space"\n')
    with pytest.raises(ConfigError, match=r"cti\.toml: ari\.app: ") as caught:
        load_settings(path, NO_ENV)
    assert caught.value.source == str(path)


def test_given_unknown_key_then_it_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"ari\.urll: unknown key"):
        load_settings(write(tmp_path, '[ari]\nurll = "x"\n'), NO_ENV)


def test_given_broken_toml_then_error_names_file_and_position(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cti\.toml: \(syntax\): .*line 1"):
        load_settings(write(tmp_path, "[ari\n"), NO_ENV)


def test_given_missing_file_then_error_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_settings(tmp_path / "absent.toml", NO_ENV)


def test_given_credentials_in_ari_url_then_refused_without_echoing_them(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, ""), {"CTI_ARI_URL": "http://cti:s3cret@127.0.0.1:8088/ari"})
    assert "s3cret" not in str(caught.value)
    assert "ari.username" in str(caught.value)


def test_given_password_when_dumped_then_it_is_masked(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, ""), {"CTI_ARI_PASSWORD": "s3cret"})
    assert settings.ari.password.get_secret_value() == "s3cret"
    assert "s3cret" not in settings.model_dump_json()


@pytest.mark.parametrize(
    ("written", "used"),
    [
        ("sqlite:///cti.db", "sqlite+aiosqlite:///cti.db"),
        ("sqlite:////var/lib/cti/cti.db", "sqlite+aiosqlite:////var/lib/cti/cti.db"),
        ("sqlite://", "sqlite+aiosqlite://"),
        ("SQLite:///cti.db", "sqlite+aiosqlite:///cti.db"),
        ("sqlite+pysqlite:///cti.db", "sqlite+aiosqlite:///cti.db"),
        ("sqlite+aiosqlite:///cti.db", "sqlite+aiosqlite:///cti.db"),
        ("postgresql://cti@db.example/cti", "postgresql+psycopg://cti@db.example/cti"),
        ("postgres://cti:s%40cret@10.0.0.5:5433/cti", "postgresql+psycopg://cti:s%40cret@10.0.0.5:5433/cti"),
        ("postgresql+psycopg2://cti@h/cti?sslmode=require", "postgresql+psycopg://cti@h/cti?sslmode=require"),
        ("postgresql+psycopg://cti@h/cti", "postgresql+psycopg://cti@h/cti"),
    ],
)
def test_a_database_url_written_the_usual_way_runs_on_the_asyncio_driver(written: str, used: str) -> None:
    assert load_settings(None, {"CTI_DATABASE_URL": written}).database.url == used


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        ("mysql://cti@h/cti", "scheme 'mysql': the store runs on SQLite or PostgreSQL"),
        ("postgresql+asyncpg://cti@h/cti", "scheme 'postgresql+asyncpg': the store runs on SQLite or"),
        ("oracle://scott:tiger@h/orcl", "scheme 'oracle'"),
        ("var/cti.sqlite3", "no scheme: the store runs on SQLite or PostgreSQL, e.g. sqlite:///"),
        ("", "no scheme"),
    ],
)
def test_a_database_url_of_another_kind_is_refused_with_what_to_write(written: str, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(None, {"CTI_DATABASE_URL": written})
    assert (caught.value.source, caught.value.key) == ("CTI_DATABASE_URL", "database.url")
    assert reason in str(caught.value)
    assert "tiger" not in str(caught.value)
