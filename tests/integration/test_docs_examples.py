"""Every ModelDeployment the README and docs/ show is accepted by the real API server with the CRD installed
(server-side dry run): the quick start's minimal resource, the reference's full example, the guides'."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.controlplane.runner import REPO

pytestmark = pytest.mark.cluster

#: The README's quick start applies its resource from a heredoc; the pages show YAML blocks.
HEREDOC = re.compile(r"kubectl apply -f - <<EOF\n(.*?)\nEOF\n", re.DOTALL)
YAML_BLOCK = re.compile(r"```yaml\n(.*?)```", re.DOTALL)


def shown_model_deployments() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]:
        text = path.read_text()
        for block in HEREDOC.findall(text) + YAML_BLOCK.findall(text):
            for doc in yaml.safe_load_all(block):
                if isinstance(doc, dict) and doc.get("kind") == "ModelDeployment":
                    found.append((f"{path.relative_to(REPO)}:{doc['metadata']['name']}", doc))
    return found


def test_the_docs_show_the_examples_this_test_is_about() -> None:
    names = {name for name, _ in shown_model_deployments()}
    assert {"README.md:ner-english", "docs/reference/modeldeployment.md:ner-english"} <= names
    assert {"docs/guides/elastic-cloud.md:elser-cloud", "docs/guides/inference-endpoints.md:elser"} <= names


@pytest.mark.parametrize(("name", "resource"), shown_model_deployments(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_shown_model_deployment_passes_a_server_side_dry_run(
    control_plane: Any, namespace: str, tmp_path: Path, name: str, resource: dict[str, Any]
) -> None:
    resource = {**resource, "metadata": {**resource["metadata"], "namespace": namespace}}
    path = tmp_path / "resource.json"
    path.write_text(json.dumps(resource))
    proc = control_plane.kubectl("apply", "-f", str(path), "--dry-run=server", "-o", "json", check=False)
    assert proc.returncode == 0, f"{name}: {proc.stderr}"
    assert json.loads(proc.stdout)["spec"]["modelId"] == resource["spec"]["modelId"]
