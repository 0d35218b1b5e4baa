"""An Asterisk of one's own, for a test or a drill that kills or restarts Asterisk: it acts on
its own instance, never on the project's Asterisk that the other tests share.

It runs from the project's cached root (``scripts/asterisk.sh root``) with the project's config
(``config/asterisk/``) copied to ``/etc/asterisk-<name>`` inside it, its own run, spool, log and
database directories, and its own ARI and SIP ports; it is started the way the script starts the
shared one (a private mount namespace with /proc, /dev and the prompts bind-mounted), and killed
and started again by its own pid. ``scripts/asterisk.sh`` leaves such instances alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from cti.settings import load_settings

PROJECT = Path(__file__).resolve().parents[2]

#: What an own Asterisk changes in the project's config: its own directories, ARI and SIP ports,
#: AMI on a port of its own or none, no DUNDi (it would fight the shared Asterisk for UDP 4520).
_ASTERISK_DIRS = ("astetcdir", "astrundir", "astspooldir", "astlogdir", "astdbdir")


@dataclass
class OwnAsterisk:
    """One Asterisk, named ``name`` (unique among those running), ARI on ``http_port`` and SIP on
    ``sip_port``: ``install()``, ``await start()``, ``kill()``, ``remove()``. ``unshare`` and
    ``chroot`` exec, so the process's pid is Asterisk's."""

    name: str
    http_port: int
    sip_port: int
    sounds_dir: Path | None = None  # the prompts it plays; default: the settings' [sounds] dir
    ami_port: int | None = None  # AMI (a bench's clock, ``bench/ami_clock.py``) on this port; None: off
    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        script = PROJECT / "scripts" / "asterisk.sh"
        self.root = Path(
            subprocess.run([script, "root"], check=True, capture_output=True, text=True).stdout.strip()
        )
        self.settings = load_settings(PROJECT / "config" / "cti.toml")
        self.sounds = (self.sounds_dir or self.settings.sounds.dir).resolve()

    @property
    def ari_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/ari"

    def _inside(self, key: str) -> str:
        base = {
            "astetcdir": "/etc/asterisk",
            "astrundir": "/var/run/asterisk",
            "astdbdir": "/var/lib/asterisk",
        }
        return f"{base.get(key, '/var/' + key[3:-3] + '/asterisk')}-{self.name}"

    def install(self) -> None:
        """Its config: the project's, with its own directories and ports."""
        etc = self.root / self._inside("astetcdir").lstrip("/")
        shutil.rmtree(etc, ignore_errors=True)
        shutil.copytree(PROJECT / "config" / "asterisk", etc)
        conf = (etc / "asterisk.conf").read_text()
        for key in _ASTERISK_DIRS:
            conf = re.sub(rf"^{key} => .*$", f"{key} => {self._inside(key)}", conf, flags=re.M)
            (self.root / self._inside(key).lstrip("/")).mkdir(parents=True, exist_ok=True)
        (etc / "asterisk.conf").write_text(conf)
        http = (etc / "http.conf").read_text()
        (etc / "http.conf").write_text(
            re.sub(r"^bindport = .*$", f"bindport = {self.http_port}", http, flags=re.M)
        )
        pjsip = (etc / "pjsip.conf").read_text()
        (etc / "pjsip.conf").write_text(
            pjsip.replace("bind = 127.0.0.1:5060", f"bind = 127.0.0.1:{self.sip_port}")
        )
        manager = (etc / "manager.conf").read_text()
        if self.ami_port is None:
            manager = manager.replace("enabled = yes", "enabled = no", 1)
        else:
            manager = re.sub(r"^port = .*$", f"port = {self.ami_port}", manager, count=1, flags=re.M)
        (etc / "manager.conf").write_text(manager)
        with (etc / "modules.conf").open("a") as modules:
            modules.write("noload => pbx_dundi.so\n")

    async def start(self) -> None:
        (self.root / str(self.sounds).lstrip("/")).mkdir(parents=True, exist_ok=True)
        mounts = 'mount --bind /proc "$1/proc" && mount --bind /dev "$1/dev" && mount --bind "$2" "$1$2"'
        command = [
            "unshare", "--mount", "--propagation", "private", "sh", "-c",
            f'{mounts} && exec chroot "$1" asterisk -f -C "$3/asterisk.conf"',
            "start", str(self.root), str(self.sounds), self._inside("astetcdir"),
        ]  # fmt: skip
        log = (self.root / self._inside("astlogdir").lstrip("/") / "stdout.log").open("ab")
        self.process = subprocess.Popen(  # noqa: ASYNC220 (starting it is instant; it is waited for below)
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=log
        )
        user = self.settings.ari
        auth = {"Authorization": aiohttp.encode_basic_auth(user.username, user.password.get_secret_value())}
        async with aiohttp.ClientSession(headers=auth) as http:
            for _ in range(600):  # 503 "Asterisk not booted" until it is fully booted
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"{self.ari_url}/asterisk/info") as answer:
                        if answer.status == 200:
                            return
                if self.process.poll() is not None:
                    break
                await asyncio.sleep(0.1)
        raise RuntimeError(f"Asterisk {self.name} did not start; see {self.root}{self._inside('astlogdir')}")

    @property
    def pid(self) -> int:
        assert self.process is not None, "not started"
        return self.process.pid

    def kill(self) -> None:
        """SIGKILL, by its own pid: a crash, every channel gone with it."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)

    def remove(self) -> None:
        """Stop it and remove its directories from the root."""
        self.kill()
        for key in _ASTERISK_DIRS:
            shutil.rmtree(self.root / self._inside(key).lstrip("/"), ignore_errors=True)
