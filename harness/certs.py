"""A throw-away PKI for the local control plane, made with the openssl CLI.

The certificates pass Python's strict X.509 verification (the default flags of
Python 3.13: ``VERIFY_X509_STRICT``): the CA has critical basicConstraints and
keyUsage plus a subject key identifier; leaves carry an authority key
identifier. See docs/development.md, "The local control plane".
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

CA_EXT = "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n"
LEAF_EXT = (
    "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
    "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n"
)


def _run(*args: str, cwd: Path) -> None:
    proc = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args[:2])} failed: {proc.stderr.strip()}")


def _ec_key(path: Path) -> None:
    _run(
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        str(path),
        cwd=path.parent,
    )


@dataclass(frozen=True)
class Pair:
    cert: Path
    key: Path


class TinyCA:
    """A CA in a directory; issues server and client certificates."""

    def __init__(self, directory: Path, name: str = "esml-test-ca") -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.cert = self.dir / "ca.crt"
        self.key = self.dir / "ca.key"
        if not self.cert.exists():
            _ec_key(self.key)
            (self.dir / "ca.ext").write_text(CA_EXT)
            _run("req", "-new", "-key", "ca.key", "-subj", f"/CN={name}", "-out", "ca.csr", cwd=self.dir)
            _run(
                "x509",
                "-req",
                "-in",
                "ca.csr",
                "-signkey",
                "ca.key",
                "-days",
                "7",
                "-extfile",
                "ca.ext",
                "-out",
                "ca.crt",
                cwd=self.dir,
            )

    def _issue(self, name: str, subject: str, extra_ext: str) -> Pair:
        key = self.dir / f"{name}.key"
        cert = self.dir / f"{name}.crt"
        _ec_key(key)
        (self.dir / f"{name}.ext").write_text(LEAF_EXT + extra_ext)
        _run("req", "-new", "-key", key.name, "-subj", subject, "-out", f"{name}.csr", cwd=self.dir)
        _run(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "7",
            "-extfile",
            f"{name}.ext",
            "-out",
            cert.name,
            cwd=self.dir,
        )
        return Pair(cert, key)

    def server(self, name: str, hosts: list[str]) -> Pair:
        sans = ",".join((f"IP:{h}" if h.replace(".", "").isdigit() or ":" in h else f"DNS:{h}") for h in hosts)
        return self._issue(name, f"/CN={hosts[0]}", f"extendedKeyUsage=serverAuth\nsubjectAltName={sans}\n")

    def client(self, name: str, user: str, groups: list[str] | tuple[str, ...] = ()) -> Pair:
        subject = "".join(f"/O={g}" for g in groups) + f"/CN={user}"
        return self._issue(name, subject, "extendedKeyUsage=clientAuth\n")


def service_account_keys(directory: Path) -> Pair:
    key = directory / "sa.key"
    pub = directory / "sa.pub"
    _run("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(key), cwd=directory)
    _run("pkey", "-in", str(key), "-pubout", "-out", str(pub), cwd=directory)
    return Pair(pub, key)
