"""docker-compose.yml, config/asterisk and config/cti.toml must agree: ports, mounts, credentials."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from cti.settings import Settings, load_settings

PROJECT = Path(__file__).resolve().parents[2]
ASTERISK = PROJECT / "config" / "asterisk"


def asterisk_conf(name: str) -> dict[str, dict[str, str]]:
    """Sections of an Asterisk .conf file: '[name](template)' headers, 'key = value' or 'key => value'."""
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for raw in (ASTERISK / name).read_text().splitlines():
        line = raw.split(";", 1)[0].strip()
        if header := re.match(r"^\[([^\]]+)\]", line):
            current = sections.setdefault(header.group(1), {})
        elif match := re.match(r"^([\w/.-]+)\s*=>?\s*(.*)$", line):
            current[match.group(1)] = match.group(2).strip()
    return sections


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((PROJECT / "docker-compose.yml").read_text())
    return data["services"]


@pytest.fixture(scope="module")
def settings() -> Settings:
    return load_settings(PROJECT / "config" / "cti.toml", {})


def test_every_service_shares_the_hosts_loopback(compose: dict[str, Any]) -> None:
    assert {name: svc.get("network_mode") for name, svc in compose.items()} == dict.fromkeys(compose, "host")


def test_asterisk_mounts_the_projects_config_as_etc_asterisk(compose: dict[str, Any]) -> None:
    assert "./config/asterisk:/etc/asterisk:ro" in compose["asterisk"]["volumes"]


def test_ari_endpoint_agrees(settings: Settings) -> None:
    http = asterisk_conf("http.conf")["general"]
    url = urlsplit(settings.ari.url)
    assert (http["enabled"], http["bindaddr"], int(http["bindport"])) == ("yes", url.hostname, url.port)
    assert url.path == "/ari"


def test_ari_credentials_and_app_agree(settings: Settings) -> None:
    users = asterisk_conf("ari.conf")
    user = users[settings.ari.username]
    assert user["type"] == "user"
    assert user["read_only"] == "no"
    assert user["password"] == settings.ari.password.get_secret_value()
    assert asterisk_conf("extensions.conf")["globals"]["CTI_APP"] == settings.ari.app


def test_hotline_extension_agrees(settings: Settings) -> None:
    text = (ASTERISK / "extensions.conf").read_text()
    assert f"[{settings.ari.hotline_context}]" in text
    assert re.search(rf"^exten => {settings.ari.hotline_extension},1,", text, re.M)


def test_redis_port_agrees(compose: dict[str, Any], settings: Settings) -> None:
    command = compose["redis"]["command"]
    redis = urlsplit(settings.redis.url)
    assert command[command.index("--port") + 1] == str(redis.port)
    assert command[command.index("--bind") + 1] == redis.hostname


def test_postgres_credentials_agree(compose: dict[str, Any]) -> None:
    env = compose["postgres"]["environment"]
    url = urlsplit(compose["cti"]["environment"]["CTI_DATABASE_URL"])
    assert (url.username, url.password, url.path.lstrip("/")) == (
        env["POSTGRES_USER"],
        env["POSTGRES_PASSWORD"],
        env["POSTGRES_DB"],
    )
    assert f"port={url.port}" in compose["postgres"]["command"]
    load_settings(PROJECT / "config" / "cti.toml", {"CTI_DATABASE_URL": url.geturl()})  # a valid setting


def test_prompts_are_at_the_same_path_for_asterisk_and_the_service(compose: dict[str, Any]) -> None:
    sounds = compose["cti"]["environment"]["CTI_SOUNDS_DIR"]
    assert f"cti-sounds:{sounds}" in compose["asterisk"]["volumes"]
    assert f"cti-sounds:{sounds}" in compose["cti"]["volumes"]
    settings = load_settings(PROJECT / "config" / "cti.toml", {"CTI_SOUNDS_DIR": sounds})
    assert str(settings.sounds.dir) == sounds


def test_sip_stays_on_loopback() -> None:
    transport = asterisk_conf("pjsip.conf")["transport-udp"]
    assert transport["bind"].startswith("127.0.0.1:")


def test_the_shipped_redis_keeps_its_data_across_a_restart_and_never_evicts(compose: dict[str, Any]) -> None:
    for command in (
        " ".join(compose["redis"]["command"]),
        (PROJECT / "scripts" / "services.sh").read_text(),
    ):
        assert "--appendonly yes" in command
        assert "--maxmemory-policy noeviction" in command
