"""The emulated Elasticsearch version and what it changes (the release notes of each 8.x and 9.x version)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

#: The newest 9.x behaviour the simulator knows.
DEFAULT_VERSION = "9.2.0"
OLDEST_SUPPORTED = (8, 0, 0)


@dataclass(frozen=True, order=True)
class EsVersion:
    major: int
    minor: int
    patch: int

    @staticmethod
    def parse(text: str) -> EsVersion:
        match = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", text.strip())
        if not match:
            raise ValueError(f"invalid Elasticsearch version {text!r}; expected X.Y.Z")
        version = EsVersion(int(match[1]), int(match[2]), int(match[3]))
        if (version.major, version.minor, version.patch) < OLDEST_SUPPORTED or version.major > 9:
            raise ValueError(f"unsupported Elasticsearch version {text}; the simulator emulates 8.0.0 to 9.x")
        return version

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    def at_least(self, major: int, minor: int, patch: int = 0) -> bool:
        return (self.major, self.minor, self.patch) >= (major, minor, patch)

    # -- features --------------------------------------------------------------------------
    @property
    def assignment_naming(self) -> bool:
        """8.3 renamed ``allocation``/``allocation_state`` to ``assignment``/``assignment_state``."""
        return self.at_least(8, 3)

    @property
    def new_thread_names(self) -> bool:
        """8.3 renamed ``model_threads``/``inference_threads``."""
        return self.at_least(8, 3)

    @property
    def route_allocations(self) -> bool:
        """8.4: ``current_allocations``/``target_allocations``, ``cache_size``, power-of-two threads."""
        return self.at_least(8, 4)

    @property
    def has_memory_stats(self) -> bool:
        """``GET _ml/memory/_stats`` and ``GET _ml/memory/{node_id}/_stats`` (8.2)."""
        return self.at_least(8, 2)

    @property
    def has_processor_limits(self) -> bool:
        """``_ml/info`` ``limits.max_single_ml_node_processors``/``total_ml_processors`` (PR 101392, 8.12)."""
        return self.at_least(8, 12)

    @property
    def has_infer_api(self) -> bool:
        """8.3: ``POST _ml/trained_models/{id}/_infer`` serves deployments; ``deployment/_infer`` is deprecated
        (a ``Warning`` on every call; 9.x keeps the route and the warning)."""
        return self.at_least(8, 3)

    @property
    def has_cache_clear(self) -> bool:
        """``POST _ml/trained_models/{deployment_id}/deployment/cache/_clear`` (8.5)."""
        return self.at_least(8, 5)

    @property
    def has_fill_mask_token(self) -> bool:
        """``fill_mask.mask_token``: defaulted from the tokenizer and checked (release UNCONFIRMED; 8.7 here)."""
        return self.at_least(8, 7)

    @property
    def has_priority(self) -> bool:
        return self.at_least(8, 6)

    @property
    def has_update(self) -> bool:
        return self.at_least(8, 6)

    @property
    def has_deployment_id(self) -> bool:
        return self.at_least(8, 8)

    @property
    def has_memory_fields(self) -> bool:
        return self.at_least(8, 11)

    @property
    def has_manage_inference(self) -> bool:
        """``manage_inference`` grants start/stop (added with the inference API; exact version unconfirmed)."""
        return self.at_least(8, 11)

    @property
    def update_query_param(self) -> bool:
        return self.at_least(8, 15)

    @property
    def start_query_overrides_body(self) -> bool:
        return self.at_least(8, 15)

    @property
    def has_adaptive(self) -> bool:
        return self.at_least(8, 16)

    @property
    def has_finish_pending_work(self) -> bool:
        return self.major >= 9

    # -- inference endpoints (the inference API pages of each release) ---------------------------
    @property
    def has_inference(self) -> bool:
        """``_inference`` PUT/GET/DELETE (service ``elser``)."""
        return self.at_least(8, 11)

    @property
    def inference_endpoint_naming(self) -> bool:
        """GET lists ``endpoints`` and a missing id is ``Inference endpoint not found [id]``; before, ``models``
        and ``Model not found [id]`` (Elastic's 8.11-era YAML tests). Release UNCONFIRMED: 8.13 here."""
        return self.at_least(8, 13)

    @property
    def has_elasticsearch_service(self) -> bool:
        return self.at_least(8, 13)

    @property
    def inference_delete_flags(self) -> bool:
        """DELETE ``force``/``dry_run`` and the ``pipelines``/``indexes`` response fields."""
        return self.at_least(8, 15)

    @property
    def has_inference_endpoints_816(self) -> bool:
        """8.16: ``deployment_id`` attach, default endpoints, live ``num_allocations`` on GET, ``_update``,
        ``adaptive_allocations`` in service settings, ``chunking_settings``, ``elser`` deprecated."""
        return self.at_least(8, 16)

    @property
    def has_rerank_default(self) -> bool:
        """``.rerank-v1-elasticsearch`` (release UNCONFIRMED; the simulator lists it from 8.18)."""
        return self.at_least(8, 18)

    @property
    def inference_update_merges(self) -> bool:
        """PR 121231 (8.18.0/9.0.0): ``_update`` reads ``adaptive_allocations`` and the body task type,
        and updates an attached endpoint's ``deployment_id``; before, only an integer ``num_allocations``."""
        return self.at_least(8, 18)

    @property
    def inference_put_timeout(self) -> bool:
        """PUT ``?timeout`` (PR 126805): 8.19.0 on 8.x, 9.1.0 on 9.x."""
        return self.at_least(9, 1) or (self.major == 8 and self.at_least(8, 19))

    @property
    def stop_refuses_endpoint_deployments(self) -> bool:
        """ML ``_stop`` refused for endpoint deployments unless ``force`` (PR 129325): 8.18.4, 8.19.0,
        9.1.0; on 9.0 the patch is UNCONFIRMED (the simulator says 9.0.4)."""
        if self.major == 8:
            return self.at_least(8, 18, 4)
        return self.at_least(9, 1) or self.at_least(9, 0, 4)

    @property
    def endpoint_ownership_409(self) -> bool:
        """9.2.0 (PR 130940): ML ``_update`` 409 for owned deployments, inference ``_update`` 409 for attached."""
        return self.at_least(9, 2)

    @property
    def queue_default(self) -> int:
        return 10_000 if self.at_least(8, 17) else 1024

    @property
    def queue_max(self) -> int | None:
        if self.at_least(8, 17):
            return 100_000
        if self.at_least(8, 4):
            return 1_000_000
        return None

    @property
    def compatible_majors(self) -> tuple[int, int]:
        return (self.major, self.major - 1)

    # -- identity --------------------------------------------------------------------------
    @property
    def lucene_version(self) -> str:
        return "10.3.1" if self.major >= 9 else "9.12.0"

    @property
    def min_wire(self) -> str:
        return "8.19.0" if self.major >= 9 else "7.17.0"

    @property
    def min_index(self) -> str:
        return "8.0.0" if self.major >= 9 else "7.0.0"

    @property
    def build_hash(self) -> str:
        return hashlib.sha1(f"esml-simulator-{self}".encode()).hexdigest()  # noqa: S324 - not security
