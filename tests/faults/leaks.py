"""Planted secrets and the scan for them.

Every scenario of the faults suite connects with distinctive values planted
for the session: the ``elastic`` password, an API key and the private key of
the CA (put into the CA Secret next to ``ca.crt``, as cert-manager does, so
the operator reads it but must never show it). After each test the places a
person or a tool can read are searched for them, raw and in the encodings
they travel in: the operator's log at DEBUG (tracebacks included), its
metrics, the Events and the whole ModelDeployment objects (status included).
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

MIN_LENGTH = 8  # shorter fragments would match by chance


def encodings(secret: str) -> set[str]:
    """The value, its base64 (Secret data), and for ``id:key`` pairs the base64 of the pair (an API key header)."""
    out = {secret, base64.b64encode(secret.encode()).decode()}
    return {s for s in out if len(s) >= MIN_LENGTH}


def pem_forms(pem: str) -> set[str]:
    """A PEM key: the whole text, its base64, its body in one line, and each body line."""
    body_lines = [line for line in pem.strip().splitlines() if not line.startswith("-----")]
    out = encodings(pem.strip()) | {"".join(body_lines)}
    out |= {line for line in body_lines if len(line) >= 32}
    return out


@dataclass
class Planted:
    """The session's secret values (random, so a hit cannot be a coincidence)."""

    password: str = field(default_factory=lambda: f"planted-Pw-{secrets.token_hex(8)}")
    api_key_id: str = field(default_factory=lambda: f"plantedid{secrets.token_hex(4)}")
    api_key_secret: str = field(default_factory=lambda: f"planted-Key-{secrets.token_hex(10)}")
    wrong_password: str = field(default_factory=lambda: f"planted-Wrong-{secrets.token_hex(8)}")
    ca_keys: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)  # other secrets a test made (API keys Elasticsearch generated)

    @property
    def api_key(self) -> str:
        """The encoded API key, as a credentials Secret holds it (``base64(id:key)``)."""
        return base64.b64encode(f"{self.api_key_id}:{self.api_key_secret}".encode()).decode()

    @property
    def forged_api_key(self) -> str:
        """The planted key id with a wrong secret part (Elasticsearch answers 401)."""
        return base64.b64encode(f"{self.api_key_id}:{self.wrong_password}".encode()).decode()

    def add_ca_key(self, path: Path) -> str:
        pem = path.read_text()
        self.ca_keys.append(pem)
        return pem

    def forms(self) -> set[str]:
        out: set[str] = set()
        for value in (self.password, self.api_key_secret, self.wrong_password, self.api_key, self.forged_api_key):
            out |= encodings(value)
        for user_password in (f"elastic:{self.password}", f"elastic:{self.wrong_password}"):
            out |= encodings(user_password)
        for value in self.extra:
            out |= encodings(value)
            decoded = base64.b64decode(value + "==").decode(errors="replace")
            if ":" in decoded:  # an encoded API key: its secret part too
                out |= encodings(decoded.split(":", 1)[1])
        for pem in self.ca_keys:
            out |= pem_forms(pem)
        return out


@dataclass
class Scan:
    places: dict[str, int]  # place -> bytes scanned
    hits: list[str]  # "place: secret prefix…"
    tracebacks: int


def scan(planted: Planted, places: dict[str, str]) -> Scan:
    forms = planted.forms()
    hits = []
    for where, text in places.items():
        for secret in forms:
            if secret in text:
                hits.append(f"{where}: {secret[:4]}… ({len(secret)} characters)")
    tracebacks = sum(text.count("Traceback (most recent call last)") for text in places.values())
    return Scan({k: len(v) for k, v in places.items()}, hits, tracebacks)


def exception_texts(log: str) -> Iterable[str]:
    """The traceback blocks of a log (exception text, scanned on its own as well)."""
    return re.findall(r"Traceback \(most recent call last\):\n(?:[ \t].*\n|\S.*Error.*\n?)+", log)
