"""Run etcd and kube-apiserver on loopback, the way controller-runtime's envtest does.

Used by the session-scoped pytest fixture (attached: children die with the
test run) and by ``make cluster-up`` / ``make cluster-down`` (detached, with
pid files). See docs/development.md, "The local control plane".
"""

from __future__ import annotations

import base64
import json
import os
import random
import shutil
import socket
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import yaml

from harness.certs import TinyCA, service_account_keys
from harness.polling import wait_for
from harness.process import Process, stop_from_pid_files

REPO = Path(__file__).resolve().parents[1]
DEFAULT_BIN = REPO / ".local" / "bin"
START_TIMEOUT = float(os.environ.get("ESML_CONTROLPLANE_START_TIMEOUT", "60"))
FRONT_PROXY_CLIENT = "front-proxy-client"  # the common name extension API servers are told to accept


def _ephemeral_low() -> int:
    """The lowest port the kernel hands to outgoing connections (``ip_local_port_range``)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A port free now, for a server started next. Chosen below the kernel's ephemeral range: a port from that
    range (what binding port 0 gives) can be taken by any outgoing connection before the server binds it."""
    low = _ephemeral_low()
    for _ in range(200):
        port = random.randint(10_000, low - 1) if low > 11_000 else 0
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise RuntimeError("no free port below the ephemeral range")


def strict_context(ca: Path, cert: Path | None = None, key: Path | None = None) -> ssl.SSLContext:
    """A client context with Python 3.13's default strict X.509 flags, on any Python."""
    ctx = ssl.create_default_context(cafile=str(ca))
    ctx.verify_flags |= ssl.VERIFY_X509_STRICT | ssl.VERIFY_X509_PARTIAL_CHAIN
    if cert is not None:
        ctx.load_cert_chain(str(cert), str(key) if key else None)
    return ctx


class ControlPlane:
    def __init__(
        self,
        state_dir: Path,
        *,
        bin_dir: Path = DEFAULT_BIN,
        crds_dir: Path | None = REPO / "crds",
        kubeconfig: Path | None = None,
    ) -> None:
        self.state_dir = state_dir.resolve()
        self.bin_dir = bin_dir
        self.crds_dir = crds_dir
        self.kubeconfig = (kubeconfig or self.state_dir / "kubeconfig").resolve()
        self.processes: list[Process] = []
        self.server = ""
        self.timings: dict[str, float] = {}

    # -- binaries -------------------------------------------------------------------------
    def binary(self, name: str) -> str:
        path = self.bin_dir / name
        if not path.exists():
            raise FileNotFoundError(
                f"{path} is missing: build the control plane with `make controlplane` (harness/build.sh)"
            )
        return str(path)

    # -- lifecycle ------------------------------------------------------------------------
    def start(self, *, detach: bool = False) -> None:
        t0 = time.monotonic()
        stop_from_pid_files(self.state_dir) if self.state_dir.exists() else None
        shutil.rmtree(self.state_dir, ignore_errors=True)
        self.state_dir.mkdir(parents=True)
        try:
            self._make_pki()
            self.timings["pki"] = time.monotonic() - t0
            self._start_etcd(detach)
            self.timings["etcd"] = time.monotonic() - t0
            self._start_apiserver(detach)
            self.timings["apiserver"] = time.monotonic() - t0
            self._write_kubeconfig(self.kubeconfig, "admin", self.admin_cert)
            wait_for(
                lambda: self._get("/api/v1/namespaces/default") is not None,
                timeout=START_TIMEOUT,
                what="the default namespace",
                processes=self.processes,
            )
            if self.crds_dir is not None:
                self.install_crds(self.crds_dir)
            self.timings["ready"] = time.monotonic() - t0
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        # apiserver first, then etcd (reverse start order)
        for proc in reversed(self.processes):
            proc.stop()
        self.processes.clear()
        if self.state_dir.exists():
            stop_from_pid_files(self.state_dir)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.state_dir, ignore_errors=True)

    # -- pieces ---------------------------------------------------------------------------
    def _make_pki(self) -> None:
        pki = self.state_dir / "pki"
        self.ca = TinyCA(pki, "esml-controlplane-ca")
        self.serving = self.ca.server("apiserver", ["localhost", "127.0.0.1"])
        self.admin_cert = self.ca.client("admin", "admin", ["system:masters"])
        self.sa = service_account_keys(pki)
        # The aggregation layer: kube-apiserver calls extension API servers (APIService) with this
        # front-proxy client certificate; they trust its own CA (requestheader CA), not the cluster CA.
        self.front_proxy_ca = TinyCA(pki / "front-proxy", "esml-front-proxy-ca")
        self.front_proxy_client = self.front_proxy_ca.client("front-proxy-client", FRONT_PROXY_CLIENT)

    def _spawn(self, name: str, argv: list[str], detach: bool) -> Process:
        proc = Process(
            name, argv, self.state_dir / f"{name}.log", detach=detach, pid_file=self.state_dir / f"{name}.pid"
        )
        self.processes.append(proc)
        return proc

    def _start_etcd(self, detach: bool) -> None:
        client, peer = free_port(), free_port()
        self.etcd_url = f"http://127.0.0.1:{client}"
        etcd = self._spawn(
            "etcd",
            [
                self.binary("etcd"),
                f"--data-dir={self.state_dir / 'etcd'}",
                f"--listen-client-urls={self.etcd_url}",
                f"--advertise-client-urls={self.etcd_url}",
                f"--listen-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-cluster=default=http://127.0.0.1:{peer}",
                "--unsafe-no-fsync=true",
                "--log-level=warn",
            ],
            detach,
        )

        def healthy() -> bool:
            with urllib.request.urlopen(f"{self.etcd_url}/health", timeout=1) as resp:  # noqa: S310
                return bool(json.load(resp).get("health") == "true")

        wait_for(healthy, timeout=START_TIMEOUT, what="etcd /health", processes=[etcd])

    def _start_apiserver(self, detach: bool) -> None:
        port = free_port()
        self.server = f"https://127.0.0.1:{port}"
        pki = self.state_dir / "pki"
        self._spawn(
            "kube-apiserver",
            [
                self.binary("kube-apiserver"),
                f"--etcd-servers={self.etcd_url}",
                "--bind-address=127.0.0.1",
                f"--secure-port={port}",
                f"--cert-dir={pki}",
                f"--tls-cert-file={self.serving.cert}",
                f"--tls-private-key-file={self.serving.key}",
                f"--client-ca-file={self.ca.cert}",
                "--authorization-mode=RBAC",
                f"--service-account-issuer={self.server}/",
                f"--service-account-key-file={self.sa.cert}",
                f"--service-account-signing-key-file={self.sa.key}",
                "--service-cluster-ip-range=10.0.0.0/24",
                "--allow-privileged=true",
                "--disable-admission-plugins=ServiceAccount",
                # Loopback only: no default route is needed, and no endpoints are reconciled.
                "--advertise-address=127.0.0.1",
                "--endpoint-reconciler-type=none",
                # The aggregation layer (APIService): front-proxy certificates and request headers.
                f"--requestheader-client-ca-file={self.front_proxy_ca.cert}",
                f"--requestheader-allowed-names={FRONT_PROXY_CLIENT}",
                "--requestheader-username-headers=X-Remote-User",
                "--requestheader-group-headers=X-Remote-Group",
                "--requestheader-extra-headers-prefix=X-Remote-Extra-",
                f"--proxy-client-cert-file={self.front_proxy_client.cert}",
                f"--proxy-client-key-file={self.front_proxy_client.key}",
            ],
            detach,
        )
        wait_for(
            lambda: self._get("/readyz", raw=True) == "ok",
            timeout=START_TIMEOUT,
            what="kube-apiserver /readyz",
            processes=self.processes,
        )

    def start_controller_manager(
        self, *, hpa_sync_period: float = 1.0, downscale_stabilization: float = 5.0
    ) -> Process:
        """kube-controller-manager with the HPA, namespace and garbage-collector controllers only.

        For the tests that need a real HPA (``hpa_sync_period`` instead of the default 15 s, and
        ``downscale_stabilization`` instead of 300 s). The caller stops it (``Process.stop``).
        """
        port = free_port()
        serving = self.ca.server("kube-controller-manager", ["localhost", "127.0.0.1"])
        name = "kube-controller-manager"
        proc = Process(  # not in self.processes: it comes and goes with the tests that need it
            name,
            [
                self.binary("kube-controller-manager"),
                f"--kubeconfig={self.kubeconfig}",
                f"--authentication-kubeconfig={self.kubeconfig}",
                f"--authorization-kubeconfig={self.kubeconfig}",
                "--controllers=horizontal-pod-autoscaler-controller,namespace-controller,garbage-collector-controller",
                f"--horizontal-pod-autoscaler-sync-period={hpa_sync_period:g}s",
                f"--horizontal-pod-autoscaler-downscale-stabilization={downscale_stabilization:g}s",
                "--leader-elect=false",
                "--bind-address=127.0.0.1",
                f"--secure-port={port}",
                f"--tls-cert-file={serving.cert}",
                f"--tls-private-key-file={serving.key}",
            ],
            self.state_dir / f"{name}.log",
            detach=False,
            pid_file=self.state_dir / f"{name}.pid",
        )
        ctx = strict_context(self.ca.cert)

        def healthy() -> bool:
            with urllib.request.urlopen(f"https://127.0.0.1:{port}/healthz", context=ctx, timeout=2) as resp:
                return bool(resp.read().decode() == "ok")

        wait_for(healthy, timeout=START_TIMEOUT, what="kube-controller-manager /healthz", processes=[proc])
        return proc

    def restart_apiserver(self, while_down: Callable[[], None] | None = None) -> float:
        """Stop kube-apiserver and start it again with the same flags and port while etcd stays up.

        ``while_down`` runs between the two. Returns the seconds the API server was unavailable.
        """
        old = next(p for p in self.processes if p.name == "kube-apiserver")
        argv = [str(arg) for arg in cast(list[str], old.popen.args)]
        started = time.monotonic()
        old.stop()
        self.processes.remove(old)
        if while_down is not None:
            while_down()
        self._spawn("kube-apiserver", argv, detach=False)
        wait_for(
            lambda: self._get("/readyz", raw=True) == "ok",
            timeout=START_TIMEOUT,
            what="kube-apiserver /readyz after a restart",
            processes=self.processes,
        )
        return time.monotonic() - started

    def _get(self, path: str, *, raw: bool = False) -> Any:
        ctx = strict_context(self.ca.cert, self.admin_cert.cert, self.admin_cert.key)
        with urllib.request.urlopen(f"{self.server}{path}", context=ctx, timeout=2) as resp:  # noqa: S310
            body = resp.read().decode()
        return body if raw else json.loads(body)

    def _write_kubeconfig(self, path: Path, user: str, pair: Any) -> None:
        def b64(p: Path) -> str:
            return base64.b64encode(p.read_bytes()).decode()

        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "esml-local",
                    "cluster": {"server": self.server, "certificate-authority-data": b64(self.ca.cert)},
                }
            ],
            "users": [
                {
                    "name": user,
                    "user": {"client-certificate-data": b64(pair.cert), "client-key-data": b64(pair.key)},
                }
            ],
            "contexts": [{"name": f"{user}@esml-local", "context": {"cluster": "esml-local", "user": user}}],
            "current-context": f"{user}@esml-local",
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(yaml.safe_dump(config))
        tmp.chmod(0o600)
        tmp.replace(path)

    def kubeconfig_for(self, user: str, groups: tuple[str, ...] = ()) -> Path:
        """A kubeconfig for another identity (client certificate CN=user, O=groups)."""
        pair = self.ca.client(f"user-{user}", user, groups)
        path = self.state_dir / f"kubeconfig-{user}"
        self._write_kubeconfig(path, user, pair)
        return path

    # -- using it -------------------------------------------------------------------------
    def kubectl(
        self,
        *args: str,
        check: bool = True,
        input: str | None = None,
        kubeconfig: Path | None = None,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        cmd = [self.binary("kubectl"), f"--kubeconfig={kubeconfig or self.kubeconfig}", *args]
        proc = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise subprocess.CalledProcessError(proc.returncode, cmd, proc.stdout, proc.stderr)
        return proc

    def install_crds(self, crds_dir: Path) -> None:
        files = sorted(crds_dir.glob("*.yaml"))
        if not files:
            return
        self.kubectl("apply", "--server-side", "--force-conflicts", *[f"-f={f}" for f in files])
        names = [
            doc["metadata"]["name"]
            for f in files
            for doc in yaml.safe_load_all(f.read_text())
            if doc and doc.get("kind") == "CustomResourceDefinition"
        ]
        for name in names:
            self.kubectl("wait", "--for=condition=Established", "--timeout=60s", f"crd/{name}")

    def api_client(self) -> Any:
        import kubernetes

        config: Any = kubernetes.config  # untyped
        return config.new_client_from_config(config_file=str(self.kubeconfig))
