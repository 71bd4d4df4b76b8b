"""Checks for single settings, used by :class:`esml_operator.settings.Settings`.

Each check is called as ``check(flag, value)`` and raises :class:`ValueError`
with a message that names the flag (``--request-timeout must be ...``), the
name a user typed; the settings loader adds the environment variable when the
value came from there. Factories (:func:`endpoint_url`, :func:`dns1123_label`)
return such a check, so a new setting reuses them in one line.
"""

from __future__ import annotations

import math
import os
import re
import urllib.parse
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

Check = Callable[[str, Any], None]

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("plain", "json")
EVENT_LOOPS = ("auto", "uvloop", "asyncio")

# Kubernetes object names (k8s.io/apimachinery validation): a namespace is a
# DNS-1123 label, most other names (a Lease's) a DNS-1123 subdomain.
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_LABEL_RULE = (
    "a DNS-1123 label: at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit"
)
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_SUBDOMAIN_RULE = (
    "a DNS-1123 subdomain: at most 253 lower-case letters, digits, '-' and '.', "
    "each part between dots starting and ending with a letter or digit"
)


def positive(flag: str, value: float) -> None:
    """A finite number > 0 (timeouts, intervals, rates)."""
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{flag} must be a number > 0, got {value:g}")


def non_negative(flag: str, value: float) -> None:
    """A finite number >= 0."""
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{flag} must be a number >= 0, got {value:g}")


def at_least_one(flag: str, value: int) -> None:
    """A whole number >= 1 (counts)."""
    if value < 1:
        raise ValueError(f"{flag} must be at least 1, got {value}")


def log_level(flag: str, value: str) -> None:
    """One of Python's level names, in any case (``debug`` is ``DEBUG``)."""
    if value.upper() not in LOG_LEVELS:
        raise ValueError(f"{flag} must be one of {', '.join(LOG_LEVELS)} (any case), got {value!r}")


def one_of(choices: tuple[str, ...]) -> Check:
    """Exactly one of ``choices`` (case matters)."""
    listed = " or ".join(filter(None, (", ".join(choices[:-1]), choices[-1])))

    def check(flag: str, value: str) -> None:
        if value not in choices:
            raise ValueError(f"{flag} must be {listed}, got {value!r}")

    return check


log_format = one_of(LOG_FORMATS)
event_loop = one_of(EVENT_LOOPS)


def existing_file(flag: str, value: str) -> None:
    """Empty (not set), or a readable file."""
    if not value:
        return
    path = Path(value)
    if not path.exists():
        raise ValueError(f"{flag} {value!r}: no such file")
    if not path.is_file():
        raise ValueError(f"{flag} {value!r} is not a file")
    if not os.access(path, os.R_OK):
        raise ValueError(f"{flag} {value!r} is not readable")


def endpoint_url(*, schemes: Iterable[str] = ("http", "https"), allow_empty: bool = True) -> Check:
    """A check for a URL with one of ``schemes``, a host and an explicit port (empty: disabled).

    For endpoints the operator serves or calls, such as ``--liveness-endpoint``.
    """
    allowed = tuple(schemes)

    def check(flag: str, value: str) -> None:
        if not value and allow_empty:
            return
        problem = url_problem(value, schemes=allowed, require_port=True)
        if problem:
            raise ValueError(f"{flag} {value!r} {problem} (for example {allowed[0]}://127.0.0.1:8080/path)")

    return check


def url_problem(value: str, *, schemes: tuple[str, ...], require_port: bool) -> str | None:
    """What keeps ``value`` from being a URL with one of ``schemes``, a host (and a port); None if nothing."""
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in schemes:
        return f"must start with {' or '.join(scheme + '://' for scheme in schemes)}"
    if not parts.hostname:
        return "has no host"
    try:
        port = parts.port
    except ValueError:
        return "has an invalid port (expected 1 to 65535)"
    if port == 0 or (port is None and require_port):
        return "needs a port from 1 to 65535"
    return None


def non_empty_items(flag: str, value: tuple[str, ...]) -> None:
    """A list whose items are all non-empty text (an empty item is an error, never skipped)."""
    if any(not item.strip() for item in value):
        raise ValueError(f"{flag} must not have empty items, got {','.join(value)!r}")


def url_port(value: str) -> int:
    """The port of a URL that passed :func:`endpoint_url` (which requires one)."""
    return int(urllib.parse.urlsplit(value).port or 0)


def dns1123_label(*, allow_empty: bool = False) -> Check:
    """A check for a Kubernetes namespace name (empty allowed only if ``allow_empty``)."""

    def check(flag: str, value: str) -> None:
        if not value and allow_empty:
            return
        _name(flag, value, _LABEL, 63, _LABEL_RULE)

    return check


def dns1123_subdomain(flag: str, value: str) -> None:
    """A Kubernetes object name such as a Lease's."""
    _name(flag, value, _SUBDOMAIN, 253, _SUBDOMAIN_RULE)


def namespaces(flag: str, value: tuple[str, ...]) -> None:
    """Every item a namespace name; an empty item is an error, never skipped."""
    for item in value:
        if not item:
            shown = f" (in {','.join(value)!r})" if len(value) > 1 else ""
            raise ValueError(f"{flag} must not be empty{shown}")
        _name(flag, item, _LABEL, 63, _LABEL_RULE)


def eck_url_template(flag: str, template: str) -> None:
    """An http(s) URL template using only the known placeholders, and at least {service} or {port}.

    ``https://localhost:{port}`` (a port-forward, or a test) is as valid as the
    in-cluster default: a template must only depend on the referenced Service.
    """
    try:
        sample = template.format(service="svc", namespace="ns", port=9200, name="es")
    except (KeyError, IndexError, ValueError) as error:
        raise ValueError(
            f"{flag} {template!r} is not a valid template ({error!r}); "
            "known placeholders: {service}, {namespace}, {port}, {name}"
        ) from None
    if "{service}" not in template and "{port}" not in template:
        raise ValueError(f"{flag} must contain {{service}} or {{port}}, got {template!r}")
    problem = url_problem(sample, schemes=("https", "http"), require_port=False)
    if problem:
        raise ValueError(
            f"{flag} {template!r} {problem} once filled in ({sample!r}); "
            "for example https://{service}.{namespace}.svc:{port}"
        )


def _name(flag: str, value: str, pattern: re.Pattern[str], limit: int, rule: str) -> None:
    if not value:
        raise ValueError(f"{flag} must not be empty")
    if len(value) > limit or not pattern.fullmatch(value):
        raise ValueError(f"{flag} {value!r} is not a valid Kubernetes name ({rule})")
