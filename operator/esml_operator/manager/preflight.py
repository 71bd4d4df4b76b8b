"""Checks made once before kopf starts; a failure is one line and exit status 2, as for a wrong setting.

* The Kubernetes connection must load: ``--kubeconfig``, else the in-cluster
  service account, else ``KUBECONFIG`` or ``~/.kube/config``. Without this
  check kopf logs a traceback and retries its login every minute, forever.
* Out of a cluster, the Lease's namespace must exist (by default it is the
  install's, ``esml-system``): a Lease in a namespace that is missing can
  never be created, and the operator would only log failures.

Only a definite answer fails the start: if the API server cannot say whether
the namespace exists (unreachable, or no permission to read namespaces), the
start goes on and the election loop reports what happens.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from esml_operator.kube.config import load_api_client
from esml_operator.kube.errors import KubeError
from esml_operator.kube.namespaces import namespace_exists
from esml_operator.leaderelection.elector import LeaseNamespace, lease_namespace
from esml_operator.settings import Settings

logger = logging.getLogger(__name__)

DEFAULT_KUBECONFIG = "~/.kube/config"
KUBECONFIG_HINT = "pass --kubeconfig FILE or set KUBECONFIG (in a cluster, the pod's service account is used)"
_REASON_LIMIT = 200
_NAMESPACE_TIMEOUT = 10.0
# The loader's words for a context (or the user or cluster a context names) that is not in the file.
_MISSING_ENTRY = re.compile(r"Expected object with name (?P<name>.*) in .*/(?P<kind>\w+) list")


class StartupError(Exception):
    """A start-up check failed; the message is one line for the user (exit status 2)."""


def check(settings: Settings, environ: Mapping[str, str] | None = None) -> None:
    """Every start-up check; :class:`StartupError` for the first that fails (runs its own event loop)."""
    asyncio.run(check_async(settings, environ))


async def check_async(settings: Settings, environ: Mapping[str, str] | None = None) -> None:
    api_client = await kube_client(settings, environ)
    try:
        if settings.leader_election:
            namespace = lease_namespace(settings.lease_namespace, environ=environ)
            await check_lease_namespace(settings, api_client, namespace)
    finally:
        await api_client.close()


async def kube_client(settings: Settings, environ: Mapping[str, str] | None = None) -> Any:
    """The operator's Kubernetes client, or :class:`StartupError` naming what to fix."""
    try:
        return await load_api_client(settings)
    except Exception as error:  # the loader raises its own, OS, YAML and decoding errors: each means "unusable"
        raise StartupError(kubeconfig_problem(settings, error, os.environ if environ is None else environ)) from None


def kubeconfig_problem(settings: Settings, error: Exception, environ: Mapping[str, str]) -> str:
    """One line: which kubeconfig could not be used and why, and how to name another."""
    variable = environ.get("KUBECONFIG", "")
    if settings.kubeconfig:
        where = f"--kubeconfig {settings.kubeconfig!r}"
    elif variable:
        where = f"KUBECONFIG {variable!r}"
    elif Path(DEFAULT_KUBECONFIG).expanduser().exists():
        where = DEFAULT_KUBECONFIG
    else:
        return (
            "no Kubernetes API to talk to: not in a cluster (no service account) and no kubeconfig "
            f"(KUBECONFIG is not set and {DEFAULT_KUBECONFIG} does not exist); {KUBECONFIG_HINT}"
        )
    return f"{where} is not a usable kubeconfig: {_reason(error)}; {KUBECONFIG_HINT}"


def _reason(error: Exception) -> str:
    """Why a kubeconfig did not load, in one short line without file contents (a YAML error shows none)."""
    if isinstance(error, UnicodeDecodeError):
        text = "it is not UTF-8 text"
    elif isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
        text = f"it is not valid YAML (line {error.problem_mark.line + 1}: {error.problem})"
    elif isinstance(error, yaml.YAMLError):
        text = "it is not valid YAML"
    elif isinstance(error, OSError):
        text = error.strerror or type(error).__name__
    else:
        text = str(error).removeprefix("Invalid kube-config file. ").removeprefix("Invalid kube-config. ")
        missing = _MISSING_ENTRY.search(text)
        if text.startswith("No configuration found"):
            text = "no such file"
        elif text.endswith("file is empty"):
            text = "the file is empty"
        elif missing:
            text = f"it has no {missing['kind'].removesuffix('s')} named {missing['name']!r}"
    text = " ".join(text.split())
    return text if len(text) <= _REASON_LIMIT else text[: _REASON_LIMIT - 3] + "..."


async def check_lease_namespace(settings: Settings, api_client: Any, namespace: LeaseNamespace) -> None:
    """:class:`StartupError` if the Lease's namespace certainly does not exist; checked out of a cluster only.

    In a pod the default is the pod's own namespace, and the install's RBAC does not let it read namespaces.
    """
    if namespace.in_cluster:
        return
    try:
        exists = await namespace_exists(api_client, namespace.name, request_timeout=_NAMESPACE_TIMEOUT)
    except KubeError as error:  # no permission, or no answer: the API server cannot say
        _unchecked(namespace, f"HTTP {error.status} {error.reason}".strip() if error.status else type(error).__name__)
    else:
        if not exists:
            raise StartupError(_missing_namespace(settings, namespace))


def _missing_namespace(settings: Settings, namespace: LeaseNamespace) -> str:
    if settings.lease_namespace.strip():
        return (
            f"--lease-namespace {namespace.name!r}: there is no such namespace, so the leader-election Lease "
            f"cannot be created; create it (kubectl create namespace {namespace.name}) or name another"
        )
    return (
        f"the leader-election Lease's namespace {namespace.name!r} ({namespace.source}) does not exist: install "
        f"the operator or create it (kubectl create namespace {namespace.name}), so that this process and any "
        "installed replica elect one leader; or pass --lease-namespace NAMESPACE, or --no-leader-election if no "
        "other replica can run"
    )


def _unchecked(namespace: LeaseNamespace, why: str) -> None:
    logger.warning("could not check that the Lease's namespace %s exists (%s); starting anyway", namespace.name, why)
