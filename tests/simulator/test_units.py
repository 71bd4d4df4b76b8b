"""Elasticsearch value syntax used by the simulator."""

from __future__ import annotations

import pytest

from esml_simulator.errors import EsError
from esml_simulator.rest.params import levenshtein_similarity
from esml_simulator.units import human_bytes, parse_byte_size, parse_time


@pytest.mark.parametrize(
    ("value", "rep", "n"),
    [
        ("10kb", "10kb", 10240),
        ("10k", "10kb", 10240),
        ("0", "0", 0),
        ("0b", "0", 0),
        ("20MB", "20mb", 20 * 1024**2),
        ("1.5kb", "1536b", 1536),
    ],
)
def test_byte_sizes(value: str, rep: str, n: int) -> None:
    parsed = parse_byte_size(value, "cache_size")
    assert (parsed.string_rep(), parsed.bytes) == (rep, n)


@pytest.mark.parametrize(
    ("n", "text"), [(1630, "1.5kb"), (0, "0b"), (10240, "10kb"), (251661404, "240mb"), (1023, "1023b")]
)
def test_human_bytes(n: int, text: str) -> None:
    assert human_bytes(n) == text


@pytest.mark.parametrize(
    ("value", "seconds", "text"), [("30s", 30, "30s"), ("1m", 60, "1m"), ("1500ms", 1.5, "1.5s"), ("0", 0, "0s")]
)
def test_time_values(value: str, seconds: float, text: str) -> None:
    parsed = parse_time(value, "timeout")
    assert (parsed.seconds, str(parsed)) == (seconds, text)


def test_time_value_errors() -> None:
    with pytest.raises(EsError, match="fractional"):
        parse_time("1.5s", "timeout")
    with pytest.raises(EsError, match="negative"):
        parse_time("-5s", "timeout")


def test_lucene_levenshtein() -> None:
    assert levenshtein_similarity("forse", "force") == pytest.approx(0.8)
    assert levenshtein_similarity("", "") == 1.0
