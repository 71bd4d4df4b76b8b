"""Keep credentials out of every message, log line and error body the client produces."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

REDACTED = "[REDACTED]"

# ``scheme://user:password@host`` (or ``user@host``): replace the userinfo part.
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)[^/\s@?#]+@")


class Redactor:
    """Replaces configured secret strings and URL userinfo with ``[REDACTED]``.

    The connection layer registers the password, the API key in every form it
    is sent (raw, ``id:key``, encoded) and the ``Authorization`` header token,
    so the header value can never leak either. Longer secrets are replaced
    first so that a secret containing another one (``id:key`` and ``key``)
    leaves nothing behind. Empty strings are ignored.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        unique = {s for s in secrets if s}
        self._secrets = tuple(sorted(unique, key=len, reverse=True))

    @property
    def secrets(self) -> tuple[str, ...]:
        return self._secrets

    def __repr__(self) -> str:
        return f"Redactor(<{len(self._secrets)} secrets>)"

    def text(self, value: str) -> str:
        for secret in self._secrets:
            value = value.replace(secret, REDACTED)
        return _USERINFO.sub(lambda m: f"{m.group('scheme')}{REDACTED}@", value)

    def value(self, value: Any) -> Any:
        """Redact every string inside a JSON-like value (dicts, lists, strings)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.text(str(k)): self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value
