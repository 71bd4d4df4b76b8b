"""Elasticsearch value syntax: byte sizes, time values, booleans and ints in query strings."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from esml_simulator.errors import EsError, illegal_argument, parse_exception

_BYTE_UNITS: list[tuple[str, str, int]] = [
    # (accepted suffix, canonical suffix, multiplier); longest suffixes first
    ("pb", "pb", 1024**5),
    ("tb", "tb", 1024**4),
    ("gb", "gb", 1024**3),
    ("mb", "mb", 1024**2),
    ("kb", "kb", 1024),
    ("p", "pb", 1024**5),
    ("t", "tb", 1024**4),
    ("g", "gb", 1024**3),
    ("m", "mb", 1024**2),
    ("k", "kb", 1024),
    ("b", "b", 1),
]


@dataclass(frozen=True)
class ByteSize:
    """A parsed byte size that remembers how it was written (``getStringRep``)."""

    size: float
    unit: str  # canonical suffix
    bytes: int

    def string_rep(self) -> str:
        if self.bytes <= 0:
            return str(self.bytes)
        return f"{int(self.size)}{self.unit}"

    @staticmethod
    def of_bytes(n: int) -> ByteSize:
        return ByteSize(n, "b", n)


def parse_byte_size(value: str, setting: str) -> ByteSize:
    lower = value.strip().lower()
    unit = next((u for u in _BYTE_UNITS if lower.endswith(u[0])), None)
    if unit is None:
        if lower in {"-1", "0"}:
            return ByteSize(int(lower), "b", int(lower))
        raise parse_exception(
            f"failed to parse setting [{setting}] with value [{value}] as a size in bytes: "
            "unit is missing or unrecognized"
        )
    suffix, canonical, mult = unit
    number = lower[: -len(suffix)].strip()
    try:
        whole = int(number)
    except ValueError:
        try:
            frac = float(number)
        except ValueError:
            raise parse_exception(f"failed to parse [{value}]") from None
        if frac < 0:
            raise parse_exception(
                f"failed to parse setting [{setting}] with value [{value}] as a size in bytes"
            ) from None
        n = int(frac * mult)
        return ByteSize(n, "b", n)
    if whole < 0 and not (whole == -1 and canonical == "b"):
        raise parse_exception(f"failed to parse setting [{setting}] with value [{value}] as a size in bytes")
    return ByteSize(whole, canonical, whole * mult)


def human_bytes(n: int) -> str:
    """``ByteSizeValue.toString()``: largest unit, one decimal, truncated (``1630`` -> ``1.5kb``)."""
    units = [("pb", 1024**5), ("tb", 1024**4), ("gb", 1024**3), ("mb", 1024**2), ("kb", 1024)]
    value, suffix = float(n), "b"
    for name, mult in units:
        if n >= mult:
            value, suffix = n / mult, name
            break
    text = repr(float(value))
    whole, _, frac = text.partition(".")
    digit = frac[:1] if frac else "0"
    return f"{whole}{suffix}" if digit == "0" else f"{whole}.{digit}{suffix}"


_TIME_UNITS: list[tuple[str, float]] = [
    ("nanos", 1e-9),
    ("micros", 1e-6),
    ("ms", 1e-3),
    ("s", 1.0),
    ("m", 60.0),
    ("h", 3600.0),
    ("d", 86400.0),
]


@dataclass(frozen=True)
class TimeValue:
    seconds: float

    def __str__(self) -> str:
        """``TimeValue.toString()``: the largest fitting unit with at most one decimal."""
        if self.seconds < 0:
            return "-1"
        if self.seconds == 0:
            return "0s"
        for suffix, mult in reversed(_TIME_UNITS):
            if self.seconds >= mult or suffix == "nanos":
                value = Decimal(repr(self.seconds / mult)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
                text = format(value.normalize(), "f")
                return f"{text}{suffix}"
        raise AssertionError("unreachable")


def parse_time(value: str, setting: str) -> TimeValue:
    lower = value.strip().lower()
    for suffix in ("nanos", "micros", "ms", "s", "m", "h", "d"):
        if lower.endswith(suffix):
            number = lower[: -len(suffix)].strip()
            mult = dict(_TIME_UNITS)[suffix]
            break
    else:
        if lower in {"-1", "0"}:
            return TimeValue(float(lower))
        raise parse_exception(
            f"failed to parse setting [{setting}] with value [{value}] as a time value: unit is missing or unrecognized"
        )
    try:
        amount = int(number)
    except ValueError:
        if re.fullmatch(r"[+-]?\d*\.\d+", number):
            raise parse_exception(f"failed to parse [{value}], fractional time values are not supported") from None
        raise parse_exception(f"failed to parse [{value}]") from None
    if amount < 0:
        raise parse_exception(
            f"failed to parse setting [{setting}] with value [{value}] as a time value: "
            "negative durations are not supported"
        )
    return TimeValue(amount * mult)


def parse_bool_param(value: str) -> bool:
    """``RestRequest.paramAsBoolean``: empty means true; only ``true``/``false`` otherwise."""
    if value == "" or value == "true":
        return True
    if value == "false":
        return False
    raise illegal_argument(f"Failed to parse value [{value}] as only [true] or [false] are allowed.")


_JAVA_INT = re.compile(r"[+-]?\d+")


def parse_int_param(name: str, value: str) -> int:
    """``RestRequest.paramAsInt``."""
    if _JAVA_INT.fullmatch(value) and -(2**31) <= int(value) < 2**31:
        return int(value)
    raise illegal_argument(
        f"Failed to parse int parameter [{name}] with value [{value}]",
        caused_by={"type": "number_format_exception", "reason": f'For input string: "{value}"'},
    )


def json_int(parser: str, field: str, value: object) -> int:
    """An integer body field (JSON numbers and numeric strings, as the x-content parser allows)."""
    if isinstance(value, bool):
        raise EsError(400, "x_content_parse_exception", f"[1:2] [{parser}] failed to parse field [{field}]")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _JAVA_INT.fullmatch(value.strip()):
        return int(value.strip())
    raise EsError(400, "x_content_parse_exception", f"[1:2] [{parser}] failed to parse field [{field}]")


def json_str(parser: str, field: str, value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return str(value).lower() if isinstance(value, bool) else str(value)
    raise EsError(400, "x_content_parse_exception", f"[1:2] [{parser}] failed to parse field [{field}]")


def json_bool(parser: str, field: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise EsError(400, "x_content_parse_exception", f"[1:2] [{parser}] failed to parse field [{field}]")
