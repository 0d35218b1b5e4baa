"""Reading a TOML file into a pydantic model, with errors that name the file, the key and why.

Every configuration file the service reads at start (agents and queues, dispositions) goes
through here, so a bad one is refused before anything starts, in the same words.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from cti.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def load_toml_model(path: Path, model: type[M]) -> M:
    """``model`` validated from the TOML file at ``path``; ``ConfigError`` names the key and the
    reason (the first problem pydantic found)."""
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
        return model.model_validate(data)
    except FileNotFoundError as exc:
        raise ConfigError(str(path), "(file)", "no such file") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), "(syntax)", str(exc)) from exc
    except ValidationError as exc:
        error = exc.errors()[0]
        key = ".".join(str(part) for part in error["loc"]) or "(top level)"
        reason = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
        raise ConfigError(str(path), key, reason) from exc
