"""The ``external.metrics.k8s.io/v1beta1`` API: each ModelDeployment's inference load, for an HPA.

kube-apiserver's aggregation layer forwards the requests for this API group
(registered by an ``APIService``, see ``manifests/components/external-metrics``)
over TLS, presenting its front-proxy client certificate. Only that certificate
is accepted: it is signed by the request-header CA (``--requestheader-client-ca-file``,
else the ConfigMap ``kube-system/extension-apiserver-authentication``) and its
common name must be one of the allowed names. kube-apiserver has already
authenticated and authorized the caller (RBAC on ``external.metrics.k8s.io``);
its name arrives in ``X-Remote-User``.

``GET /apis/external.metrics.k8s.io/v1beta1/namespaces/{namespace}/{metric}?labelSelector=...``
answers one item per ModelDeployment of that namespace whose labels
(``namespace``, ``name``, ``deployment_id``, ``model_id``) match the selector.
Values come from the leader's last poll of each cluster; a replica that is not
leading answers 503, so the HPA reports the gap instead of scaling on nothing.
"""

from __future__ import annotations

import json
import logging
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from esml_operator.elasticsearch.load import InferenceLoad
from esml_operator.kube.configmaps import config_map_data
from esml_operator.metrics.load import LOAD_SERIES, LoadView, ResourceLoad
from esml_operator.metrics.selectors import SelectorError, parse_selector
from esml_operator.reconcile.timeutil import format_time

logger = logging.getLogger(__name__)

GROUP, VERSION = "external.metrics.k8s.io", "v1beta1"
GROUP_VERSION = f"{GROUP}/{VERSION}"
PREFIX = f"/apis/{GROUP}/{VERSION}"
AUTH_CONFIGMAP = ("kube-system", "extension-apiserver-authentication")

#: The served metrics: the per-deployment load series of /metrics, under the names a query uses.
METRICS: Mapping[str, Callable[[InferenceLoad], float | None]] = {s.sample_name: s.read for s in LOAD_SERIES}


@dataclass(frozen=True)
class ClientTrust:
    """Who may call: certificates signed by ``ca_pem`` whose common name is in ``allowed_names`` (empty: any)."""

    ca_pem: str
    allowed_names: tuple[str, ...] = ()


def quantity(value: float) -> str:
    """A Kubernetes quantity: whole numbers as such, else in the largest of milli-, micro- or nano-units that
    holds the value exactly (``1500m``, ``42500u``), rounded to nano-units at worst."""
    if float(value).is_integer():
        return str(int(value))
    for suffix, factor in (("m", 1e3), ("u", 1e6)):
        scaled = value * factor
        if abs(scaled - round(scaled)) < 1e-6:
            return f"{round(scaled)}{suffix}"
    return f"{round(value * 1e9)}n"


def _status(code: int, reason: str, message: str) -> web.Response:
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    return web.json_response(body, status=code)


def _common_name(peercert: Any) -> str | None:
    if not isinstance(peercert, dict):
        return None
    for rdn in peercert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return None


def metric_labels(item: ResourceLoad) -> dict[str, str]:
    return {
        "namespace": item.namespace,
        "name": item.name,
        "deployment_id": item.deployment_id,
        "model_id": item.model_id,
    }


class ExternalMetricsApi:
    """The request handling (no TLS here: :class:`~esml_operator.metrics.http.HttpServer` adds it)."""

    def __init__(self, loads: LoadView, *, leading: Callable[[], bool], allowed_names: Sequence[str] = ()) -> None:
        self._loads, self._leading, self._allowed = loads, leading, tuple(allowed_names)

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._authenticate])
        app.router.add_get(PREFIX, self.discovery)
        app.router.add_get(PREFIX + "/namespaces/{namespace}/{metric}", self.values)
        return app

    @web.middleware
    async def _authenticate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """The TLS layer has checked the chain; here the name (a missing certificate is refused too)."""
        name = _common_name(request.transport.get_extra_info("peercert") if request.transport else None)
        if name is None or (self._allowed and name not in self._allowed):
            logger.warning("external metrics: refused a client certificate with common name %r", name)
            return _status(401, "Unauthorized", "only the API server's front-proxy client certificate is accepted")
        response: web.StreamResponse = await handler(request)
        return response

    async def discovery(self, request: web.Request) -> web.Response:
        resources = [
            {"name": name, "singularName": "", "namespaced": True, "kind": "ExternalMetricValueList", "verbs": ["get"]}
            for name in METRICS
        ]
        return web.json_response(
            {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": GROUP_VERSION, "resources": resources}
        )

    async def values(self, request: web.Request) -> web.Response:
        namespace, metric = request.match_info["namespace"], request.match_info["metric"]
        read = METRICS.get(metric)
        if read is None:
            return _status(404, "NotFound", f"no external metric {metric!r}; served: {', '.join(METRICS)}")
        try:
            selected = parse_selector(request.query.get("labelSelector"))
        except SelectorError as error:
            return _status(400, "BadRequest", str(error))
        if not self._leading():
            return _status(503, "ServiceUnavailable", "this replica is not the leader; it has no inference load")
        items = []
        for found in self._loads.loads(namespace):
            labels = metric_labels(found)
            value = read(found.load)
            if value is None or not selected(labels):
                continue
            items.append(
                {
                    "metricName": metric,
                    "metricLabels": labels,
                    "timestamp": format_time(found.at),
                    "value": quantity(value),
                }
            )
        logger.debug(
            "external metric %s in %s for %s: %d item(s)",
            metric,
            namespace,
            request.headers.get("X-Remote-User", "?"),
            len(items),
        )
        return web.json_response(
            {"kind": "ExternalMetricValueList", "apiVersion": GROUP_VERSION, "metadata": {}, "items": items}
        )


def server_context(cert_file: str, key_file: str, trust: ClientTrust) -> ssl.SSLContext:
    """TLS that requires a client certificate signed by the request-header CA."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    context.load_verify_locations(cadata=trust.ca_pem)
    context.verify_mode = ssl.CERT_REQUIRED
    return context


async def load_trust(ca_file: str, allowed_names: Sequence[str], api_client: Any) -> ClientTrust:
    """The request-header CA and allowed names: from the settings, else from kube-apiserver's ConfigMap."""
    if ca_file:
        return ClientTrust(Path(ca_file).read_text(encoding="ascii"), tuple(allowed_names))  # noqa: ASYNC240 (start-up)
    namespace, name = AUTH_CONFIGMAP
    data = await config_map_data(api_client, namespace, name)
    ca = data.get("requestheader-client-ca-file")
    if not ca:
        raise RuntimeError(
            f"ConfigMap {AUTH_CONFIGMAP[0]}/{AUTH_CONFIGMAP[1]} has no requestheader-client-ca-file: the API server "
            "runs without the aggregation layer (--requestheader-client-ca-file), so it cannot call this API"
        )
    names = tuple(allowed_names) or tuple(json.loads(data.get("requestheader-allowed-names") or "[]"))
    return ClientTrust(ca, names)
