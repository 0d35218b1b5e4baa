"""Roadside service stations by area code, for the ``say_station`` node.

The data is a small CSV (``config/stations.csv``) a center keeps up to date without code;
"nearest" means the station serving the caller's telephone area, which is how the source
center's agents pointed callers to help.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cti.ivr.errors import FlowError

_COLUMNS = ("area_code", "city", "city_en", "name", "name_en", "address", "address_en", "phone")


@dataclass(frozen=True)
class Station:
    area_code: str
    city: str
    city_en: str
    name: str
    name_en: str
    address: str
    address_en: str
    phone: str

    def placeholders(self, language: str) -> dict[str, str]:
        """Values for a ``say_station`` template: English names for ``en``, Chinese otherwise."""
        if language == "en":
            return {
                "city": self.city_en,
                "name": self.name_en,
                "address": self.address_en,
                "phone": self.phone,
            }
        return {"city": self.city, "name": self.name, "address": self.address, "phone": self.phone}


def nearest_station(stations: Mapping[str, Station], area_code: str) -> Station | None:
    """The station for an area code, with or without the trunk prefix 0 the caller keyed."""
    code = area_code.strip()
    return stations.get(code) or stations.get("0" + code)


def load_stations(path: Path) -> dict[str, Station]:
    """Read the station CSV; a missing column or a duplicate area code is a ``FlowError``."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = set(_COLUMNS) - set(reader.fieldnames or ())
        if missing:
            raise FlowError(f"{path}: missing columns {sorted(missing)}")
        stations: dict[str, Station] = {}
        for row in reader:
            station = Station(**{column: (row[column] or "").strip() for column in _COLUMNS})
            if station.area_code in stations:
                raise FlowError(f"{path}:{reader.line_num}: area code {station.area_code} listed twice")
            stations[station.area_code] = station
    return stations
