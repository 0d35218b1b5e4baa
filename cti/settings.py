"""One typed settings object, read from ``config/cti.toml`` and ``CTI_*`` environment variables.

Every key of a section can be overridden by ``CTI_<SECTION>_<KEY>`` (``CTI_ARI_URL``,
``CTI_DATABASE_URL``, ``CTI_REDIS_URL``, ``CTI_LOG_JSON``...): the environment wins over the
file, and the file over the defaults. Errors name the key and where its value came from, so
a bad value is fixed in the right place. The file is chosen by ``--config``, else
``CTI_CONFIG``, else ``config/cti.toml`` in the working directory when it exists.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from cti.errors import ConfigError
from cti.kpi.definitions import KpiConfig
from cti.kpi.targets import Targets
from cti.outbound.rules import parse_calling_hours
from cti.timezones import TimeZoneName

DEFAULT_CONFIG_PATH = Path("config/cti.toml")
ENV_PREFIX = "CTI_"


def _default_sounds_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "hotline-cti" / "sounds"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AriSettings(_Section):
    """Where Asterisk's REST interface is, who we are to it, and our Stasis app name."""

    url: str = "http://127.0.0.1:8088/ari"
    username: str = "cti"
    password: SecretStr = SecretStr("cti-dev-secret")
    app: str = Field(default="cti", pattern=r"^[A-Za-z0-9_.-]+$")
    request_timeout_s: float = Field(default=10.0, gt=0)
    reconnect_cap_s: float = Field(default=5.0, gt=0)
    hotline_context: str = "hotline"
    hotline_extension: str = "4000"

    @field_validator("url")
    @classmethod
    def _http_url_without_credentials(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http(s) URL such as http://127.0.0.1:8088/ari")
        if parts.username or parts.password:
            # URLs get logged; credentials belong in ari.username / ari.password.
            raise ValueError("must not contain credentials: set ari.username and ari.password")
        return value.rstrip("/")


class RedisSettings(_Section):
    """Redis holds the live state: queue entries, agent presence, claims."""

    url: str = "redis://127.0.0.1:6379/0"
    outbox_stream: str = "cti:events"  # call events on their way to the SQL store

    @field_validator("url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        if urlsplit(value).scheme not in ("redis", "rediss", "unix"):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return value


#: URL schemes as people write them -> the asyncio driver the store runs on (SQLAlchemy's
#: ``dialect+driver``; ``postgres`` is what Heroku-style and libpq tools print).
ASYNC_DATABASE_SCHEMES = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+pysqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "postgresql+psycopg2": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
}


def async_database_url(url: str) -> str:
    """``url`` with its scheme mapped to the asyncio driver, or ``ValueError`` saying why not."""
    scheme, separator, rest = url.partition("://")
    driver = ASYNC_DATABASE_SCHEMES.get(scheme.lower()) if separator else None
    if driver is None:
        shown = f"scheme {scheme!r}" if separator else "no scheme"
        raise ValueError(
            f"{shown}: the store runs on SQLite or PostgreSQL, e.g. sqlite:///var/cti.sqlite3 "
            "or postgresql://USER@HOST/DB"
        )
    return f"{driver}://{rest}"


class DatabaseSettings(_Section):
    """The SQL store: SQLite by default, PostgreSQL in production."""

    url: str = "sqlite+aiosqlite:///var/cti.sqlite3"
    #: Connections the service keeps open to a database server (PostgreSQL), beside up to 10
    #: more opened for a peak and closed once returned. A burst of callers is looked up at once
    #: (the hotline's first step, one connection each), beside the desk's pops and the outbox's
    #: drainer: with SQLAlchemy's 5, every burst opened a dozen connections again (a server
    #: process forked for each, on the callers' and the pops' way).
    pool_size: int = Field(default=20, ge=1, le=200)

    @field_validator("url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        return async_database_url(value)


class LogSettings(_Section):
    """Logging: human lines by default, one JSON object per line for log shippers."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    json_lines: bool = Field(default=False, alias="json")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


#: espeak-ng voice per flow language (`espeak-ng --voices` lists them).
DEFAULT_VOICES: Mapping[str, str] = MappingProxyType({"zh": "cmn", "en": "en"})
#: Words per minute per flow language. espeak-ng counts a Mandarin syllable as a word, so the
#: same number sounds far slower in Mandarin: 280 gives about 4.4 characters a second, close to
#: a calm announcer; 165 for English is a little under espeak-ng's hurried default of 175.
DEFAULT_RATES: Mapping[str, int] = MappingProxyType({"zh": 280, "en": 165})
#: For a language with a voice but no rate of its own.
DEFAULT_RATE = 165
Rate = Annotated[int, Field(ge=80, le=450)]  # espeakRATE_MINIMUM..MAXIMUM (speak_lib.h)


class SoundsSettings(_Section):
    """Rendered prompts: where they live (Asterisk reads the same absolute path) and their voice."""

    dir: Path = Field(default_factory=_default_sounds_dir)
    voices: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_VOICES))
    rates: dict[str, Rate] = Field(default_factory=lambda: dict(DEFAULT_RATES))


class KpiSettings(_Section):
    """KPI rules the center chooses (docs/kpi.md); reports print them beside the numbers."""

    ring_cycle_s: float = Field(default=5.0, gt=0)  # China 5 s (1 on, 4 off); US 6 s
    threshold_s: float = Field(default=20.0, ge=0)  # service level T
    short_abandon_s: float = Field(default=0.0, ge=0)
    timezone: TimeZoneName = "Asia/Shanghai"  # hours, days, weeks and months are the center's
    # GET /api/kpi: reports run in worker processes, at most this many at once ...
    report_workers: int = Field(default=2, ge=1, le=32)
    # ... with at most this many more waiting (then 503, Retry-After);
    report_queue_max: int = Field(default=8, ge=0)
    # ... over at most this many days (no `from`: this many days before `to`).
    max_period_days: int = Field(default=400, ge=1)
    # The center's targets, the HTML report's headline figures are read against (shares, 0..1):
    # at least these shares answered within three rings, within T, leads contacted within a
    # minute; at most this share abandoned.
    target_three_ring_rate: float = Field(default=0.90, ge=0, le=1)
    target_service_level: float = Field(default=0.80, ge=0, le=1)
    target_abandon_rate: float = Field(default=0.05, ge=0, le=1)
    target_one_minute_contact_rate: float = Field(default=0.95, ge=0, le=1)
    language: Literal["zh", "en"] = "zh"  # the HTML report's, unless --language says otherwise
    # `cti kpi publish` writes the daily, weekly and monthly reports here; the web app serves them.
    publish_dir: Path = Path("var/reports")  # beside the SQLite store, relative to the working directory

    def config(
        self,
        ring_cycle_s: float | None = None,
        threshold_s: float | None = None,
        short_abandon_s: float | None = None,
    ) -> KpiConfig:
        """The KPI rules of these settings, with any of them overridden (``--ring-cycle``...)."""
        return KpiConfig(
            ring_cycle_s=self.ring_cycle_s if ring_cycle_s is None else ring_cycle_s,
            threshold_s=self.threshold_s if threshold_s is None else threshold_s,
            short_abandon_s=self.short_abandon_s if short_abandon_s is None else short_abandon_s,
        )

    def targets(self) -> Targets:
        return Targets(
            three_ring_rate=self.target_three_ring_rate,
            service_level=self.target_service_level,
            abandon_rate=self.target_abandon_rate,
            one_minute_contact_rate=self.target_one_minute_contact_rate,
        )


class WebSettings(_Section):
    """The HTTP API and (later) the agent desktop. Every endpoint needs a token with a role."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    # Lines "<role> <token>" (roles: agent, supervisor, manager, api). Keep it out of the
    # repository in production; the shipped file holds development tokens only.
    tokens_file: Path = Path("config/web-tokens.dev")
    # Signs the desktop's sign-in tokens (JWT, HS256). Every instance of one center shares it;
    # the shipped value is for development only.
    signing_key: SecretStr = SecretStr("cti-dev-signing-key-change-me-0123456789abcdef")
    session_ttl_s: int = Field(default=900, ge=30, le=86_400)  # a token lives this long; renew before
    replay_max: int = Field(default=1000, ge=10)  # push events kept per topic for a reconnect's replay
    # Create the demo's users (public passwords, cti.desk.demo) at start, and log them: demo only.
    demo_users: bool = False


class IvrSettings(_Section):
    """Where the IVR flows and their data are: one flow file per entry point (Stasis argument)."""

    flows_dir: Path = Path("ivr_flows")
    stations_file: Path = Path("config/stations.csv")  # roadside help: area code -> nearest station
    lookup_timeout_s: float = Field(default=2.0, gt=0)  # a slower CRM counts as "not found"


class AcdSettings(_Section):
    """Where agents and queues are configured (cti.acd.model), and the demo's convenience."""

    config_file: Path = Path("config/acd.toml")
    auto_login: bool = False  # log every configured agent in at start (demo; agents log in themselves)
    redis_prefix: str = "cti:acd"  # keys of the live agent and queue state (one per center)
    # The codes an agent records a call with at wrap-up (cti.desk.dispositions).
    dispositions_file: Path = Path("config/dispositions.toml")


class OutboundSettings(_Section):
    """Dialling out (cti.outbound): how numbers are read, the rules no dial may break, and the
    defaults of leads and campaigns. The rules' defaults are the strictest in force somewhere
    (calling hours in the callee's local time, 5 calls per number in 24 h and 3 in 5 minutes,
    72 h without a redial after an abandoned call, a 3 % abandon cap)."""

    region: str = "CN"  # numbers without a country code are read as this country's
    allowed_regions: list[str] = ["CN"]  # countries that may be dialled (ISO 3166 codes)
    # phonenumbers' number types that may be dialled: never premium rate, shared cost, ...
    allowed_types: list[str] = ["mobile", "fixed_line", "fixed_line_or_mobile"]
    # The dial string of a customer's number ({number}: E.164 with its +; {national}: without).
    trunk: str = "PJSIP/{number}@carrier"
    caller_id: str = ""  # the number customers see; empty: the trunk's
    calling_hours: str = "08:00-21:00"  # in the callee's local time
    max_calls_24h: int = Field(default=5, ge=1)
    max_calls_5min: int = Field(default=3, ge=1)
    abandon_lockout_h: float = Field(default=72.0, ge=0)
    abandon_cap: float = Field(default=0.03, gt=0, lt=1)
    no_agent_s: float = Field(default=2.0, gt=0)  # an answered customer waits this long for an agent
    lead_deadline_s: float = Field(default=60.0, gt=0)  # a new lead is to be contacted within this

    @field_validator("calling_hours")
    @classmethod
    def _calling_hours(cls, value: str) -> str:
        """Read at load, so a bad window stops the start naming the key (rules' reader says why)."""
        parse_calling_hours(value)
        return value


class Settings(_Section):
    """Everything the service and the CLI are configured with."""

    ari: AriSettings = AriSettings()
    redis: RedisSettings = RedisSettings()
    database: DatabaseSettings = DatabaseSettings()
    log: LogSettings = LogSettings()
    sounds: SoundsSettings = SoundsSettings()
    kpi: KpiSettings = KpiSettings()
    web: WebSettings = WebSettings()
    ivr: IvrSettings = IvrSettings()
    acd: AcdSettings = AcdSettings()
    outbound: OutboundSettings = OutboundSettings()


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError as exc:
        raise ConfigError(str(path), "(file)", "no such file") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), "(syntax)", str(exc)) from exc


def _env_key(section: str, key: str) -> str:
    return f"{ENV_PREFIX}{section}_{key}".upper()


def _section_keys(section: str) -> list[str]:
    model = Settings.model_fields[section].annotation
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise TypeError(f"settings section {section} is not a model")
    return [field.alias or name for name, field in model.model_fields.items()]


def _apply_env(data: dict[str, Any], env: Mapping[str, str]) -> dict[str, str]:
    """Overlay CTI_<SECTION>_<KEY> values onto ``data``; return which env var set which key."""
    origins: dict[str, str] = {}
    for section in Settings.model_fields:
        for key in _section_keys(section):
            name = _env_key(section, key)
            if name in env:
                data.setdefault(section, {})[key] = env[name]
                origins[f"{section}.{key}"] = name
    return origins


def resolve_config_path(explicit: Path | None, env: Mapping[str, str]) -> Path | None:
    """The config file to read: --config, else CTI_CONFIG, else ./config/cti.toml if present."""
    if explicit is not None:
        return explicit
    if env.get("CTI_CONFIG"):
        return Path(env["CTI_CONFIG"])
    return DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.exists() else None


def load_settings(path: Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read the settings; raise ``ConfigError`` naming the key and its source on bad input."""
    env = os.environ if env is None else env
    config_path = resolve_config_path(path, env)
    data = _read_toml(config_path) if config_path else {}
    source = str(config_path) if config_path else "defaults"
    origins = _apply_env(data, env)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"])
        where = origins.get(key, source)
        reason = first["msg"]
        if first["type"] == "extra_forbidden":
            reason = "unknown key"
        raise ConfigError(where, key, reason) from exc
