"""Numbers with units ("8GB", "100 MHz", '17"'): which units there are, and how they convert.

A small table, read top to bottom: each quantity lists its units (as people write them,
compared without case) and how many of the quantity's first unit each one is. A column
that mixes units of one quantity ("728 MB", "0.73 GB") is converted to its most common
unit; units of two quantities in one column, or a unit not listed here, leave the column
to the other rules (data/decisions.py says which, and why). Storage sizes are decimal, as
drives and shops write them: 1 GB = 1000 MB; the binary ones say so (1 GiB = 1024 MiB).
"""

import re

# quantity -> {unit: how many of the quantity's first unit it is}. Laid out by hand (fmt:
# skip) as a table: one quantity a line, its factors read across, decimal beside binary.
UNITS: dict[str, dict[str, float]] = {
    "data size": {"B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "PB": 1e15,
                  "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40},
    "frequency": {"Hz": 1, "kHz": 1e3, "MHz": 1e6, "GHz": 1e9},
    "length": {"mm": 0.001, "cm": 0.01, "m": 1, "km": 1000, "in": 0.0254, "ft": 0.3048},
    "mass": {"mg": 1e-6, "g": 0.001, "kg": 1, "lb": 0.45359237, "oz": 0.028349523125},
    "time": {"ms": 0.001, "s": 1, "min": 60, "h": 3600, "days": 86400},
    "volume": {"ml": 0.001, "cl": 0.01, "l": 1},
    "power": {"W": 1, "kW": 1000},
}  # fmt: skip
# Other ways to write a unit ('17"' is 17 in, "5'" is 5 ft).
ALIASES = {
    '"': "in",
    "″": "in",
    "inch": "in",
    "inches": "in",
    "'": "ft",
    "′": "ft",
    "feet": "ft",
    "bytes": "B",
    "lbs": "lb",
    "sec": "s",
    "secs": "s",
    "seconds": "s",
    "mins": "min",
    "minutes": "min",
    "hr": "h",
    "hrs": "h",
    "hours": "h",
    "day": "days",
}
# Any spelling, case folded -> the unit as the table writes it: "gb", "Gb" -> "GB".
CANONICAL = {unit.casefold(): unit for units in UNITS.values() for unit in units} | {
    alias.casefold(): unit for alias, unit in ALIASES.items()
}
QUANTITY_OF = {unit: quantity for quantity, units in UNITS.items() for unit in units}
# A number, then (after optional spaces) a word or an inch/foot mark: "8GB", "8 gb", '17"'.
NUMBER_WITH_SUFFIX = re.compile(r"^([-+]?(?:\d[\d,.]*|\.\d+))\s*([^\W\d_]+|\"|'|″|′)$")


def canonical(written: str) -> str | None:
    """'gb' -> 'GB', '"' -> 'in'; None for a unit not in the table."""
    return CANONICAL.get(written.casefold())


def factors_to(unit: str) -> dict[str, float]:
    """Every spelling (case folded) of a unit of `unit`'s quantity -> how many `unit` one
    of it is: for MB, "gb" -> 1000. What serving needs to read "0.73 GB" as 730 MB."""
    units = UNITS[QUANTITY_OF[unit]]
    return {
        spelling: units[name] / units[unit] for spelling, name in CANONICAL.items() if name in units
    }


def quantity(written: str) -> str | None:
    unit = canonical(written)
    return QUANTITY_OF[unit] if unit else None
