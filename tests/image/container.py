"""Run the operator image with podman as the install's Deployment runs it (make test-image).

What a kubelet would do is read from the kustomize render of ``manifests/`` (the pod's user and
group, read-only root filesystem, dropped capabilities, no privilege escalation, the emptyDir at
/tmp with its size limit, the memory limit, the command, args and env, the grace period), so a
change to the manifest changes the test. Two things differ, on purpose: the container shares the
host's network (the test API server and the simulator listen on loopback), so its health and
metrics endpoints move to free ports; and the downward-API variables get the test's values.

podman notes for these machines: crun fails on cgroups in hybrid mode, so ``--runtime runc``;
and runc needs explicit ``nofile`` and ``nproc`` limits below the host's hard limits.
"""

from __future__ import annotations

import json
import re
import resource
import shutil
import subprocess
import time
import tomllib
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.dockerfile import REPO

VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
IMAGE = f"localhost/esml-operator:{VERSION}"
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
TMP = "/tmp"  # noqa: S108 (the emptyDir's mount path in the pod, not a file of ours)
UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "K": 10**3, "M": 10**6, "G": 10**9, "": 1}


def podman(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("podman")
    assert binary, "podman is not installed: run `make podman` (make test-image does)"
    proc = subprocess.run([binary, *args], capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"podman {' '.join(args[:2])} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


def require_image(image: str = IMAGE) -> str:
    """The image must have been built (make test-image builds it first); its absence is a failure."""
    assert podman("image", "exists", image, check=False).returncode == 0, f"no image {image}: run `make image`"
    return image


def quantity(text: str) -> int:
    """A Kubernetes memory quantity in bytes (``256Mi``, ``64Mi``, ``1G``)."""
    match = re.fullmatch(r"(\d+)([KMG]i?)?", str(text))
    assert match, f"unsupported quantity {text!r}"
    return int(match[1]) * UNITS[match[2] or ""]


def ulimit(kind: int, wanted: int) -> int:
    """``wanted``, or the host's hard limit if that is lower (runc refuses limits above it)."""
    hard = resource.getrlimit(kind)[1]
    return wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)


@dataclass
class PodSpec:
    """What the kubelet would apply, taken from the install's Deployment."""

    user: str
    read_only: bool
    no_new_privileges: bool
    drop: list[str]
    tmp_size: int
    memory: int
    command: list[str]
    args: list[str]
    env: dict[str, str]
    grace: int
    downward: dict[str, str] = field(default_factory=dict)  # variable -> fieldPath

    @classmethod
    def from_deployment(cls, deployment: dict[str, Any]) -> PodSpec:
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        security = {**pod.get("securityContext", {}), **container["securityContext"]}
        (tmp_mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == TMP]
        (tmp,) = [v for v in pod["volumes"] if v["name"] == tmp_mount["name"]]
        env = {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}
        downward = {
            e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"] for e in container.get("env", []) if "valueFrom" in e
        }
        return cls(
            user=f"{security['runAsUser']}:{security['runAsGroup']}",
            read_only=security["readOnlyRootFilesystem"],
            no_new_privileges=not security["allowPrivilegeEscalation"],
            drop=security["capabilities"]["drop"],
            tmp_size=quantity(tmp["emptyDir"]["sizeLimit"]),
            memory=quantity(container["resources"]["limits"]["memory"]),
            command=container["command"],
            args=container["args"],
            env=env,
            grace=int(pod["terminationGracePeriodSeconds"]),
            downward=downward,
        )

    def podman_args(self, name: str, env: dict[str, str], mounts: dict[Path, str]) -> list[str]:
        """``podman run`` arguments for this pod; ``env`` adds to (and wins over) the manifest's."""
        argv = [
            "run",
            "--detach",
            "--name",
            name,
            "--runtime",
            "runc",
            "--network",
            "host",
            "--user",
            self.user,
            "--cap-drop",
            ",".join(self.drop).lower(),
            *limits(),
            "--memory",
            str(self.memory),
            # Only the emptyDir is writable: podman's own tmpfs mounts on a read-only root are off.
            "--read-only" if self.read_only else "--read-only=false",
            "--read-only-tmpfs=false",
            "--tmpfs",
            f"{TMP}:rw,nosuid,nodev,size={self.tmp_size},mode=1777",
            "--entrypoint",
            json.dumps(self.command),
        ]
        if self.no_new_privileges:
            argv += ["--security-opt", "no-new-privileges"]
        for source, target in mounts.items():
            argv += ["--volume", f"{source}:{target}:ro"]
        for key, value in {**self.env, **env}.items():
            argv += ["--env", f"{key}={value}"]
        return argv


def limits() -> list[str]:
    nofile, nproc = ulimit(resource.RLIMIT_NOFILE, 8192), ulimit(resource.RLIMIT_NPROC, 4096)
    return ["--ulimit", f"nofile={nofile}:{nofile}", "--ulimit", f"nproc={nproc}:{nproc}"]


def run_once(image: str, *argv: str, user: str | None = None, entrypoint: str = "python") -> str:
    """stdout of one command in a throw-away container (no network, read-only root)."""
    options = ["--user", user] if user else []
    proc = podman(
        "run",
        "--rm",
        "--runtime",
        "runc",
        "--network",
        "none",
        "--read-only",
        *limits(),
        *options,
        "--entrypoint",
        entrypoint,
        image,
        *argv,
    )
    return proc.stdout


class Container:
    """A detached container; always removed by :meth:`remove` (tests call it in a finally)."""

    def __init__(self, spec: PodSpec, image: str, env: dict[str, str], mounts: dict[Path, str]) -> None:
        self.spec = spec
        self.name = f"esml-image-test-{uuid.uuid4().hex[:8]}"
        proc = podman(*spec.podman_args(self.name, env, mounts), image, *spec.args, check=False)
        if proc.returncode != 0:
            self.remove()  # a container that failed to start still exists
            raise AssertionError(f"podman run failed ({proc.returncode}):\n{proc.stderr}")
        self.id = proc.stdout.strip()

    def state(self) -> dict[str, Any]:
        out = podman("inspect", "--format", "{{json .State}}", self.name).stdout
        return dict(json.loads(out))

    def running(self) -> bool:
        return bool(self.state()["Running"])

    def logs(self) -> str:
        proc = podman("logs", self.name, check=False)
        return proc.stdout + proc.stderr

    def stop(self) -> tuple[float, int]:
        """SIGTERM from the runtime, SIGKILL after the pod's grace period: (seconds it took, exit code)."""
        start = time.monotonic()
        podman("stop", "--time", str(self.spec.grace), self.name, timeout=self.spec.grace + 60)
        elapsed = time.monotonic() - start
        return elapsed, int(self.state()["ExitCode"])

    def remove(self) -> None:
        podman("rm", "--force", "--time", "0", self.name, check=False)
