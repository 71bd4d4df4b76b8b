"""docs/reference/modeldeployment.md and docs/operations/troubleshooting.md held to the CRD and the code.

The reference documents every spec and status field of the CRD and invents none, lists exactly its printer
columns, every condition reason and event reason the operator can write (read from the source by
``tests.support.reasons``) and every error class; troubleshooting has an entry for every reason.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from tests.controlplane.runner import REPO
from tests.support import reasons

REFERENCE = REPO / "docs" / "reference" / "modeldeployment.md"
TROUBLESHOOTING = REPO / "docs" / "operations" / "troubleshooting.md"
CRD = REPO / "crds" / "esml.io_modeldeployments.yaml"
CONDITION_TYPES = {"Ready", "Reconciling", "Stalled", "ElasticsearchReachable", "AutoscalerConflict"}


def _version() -> dict[str, Any]:
    (version,) = yaml.safe_load(CRD.read_text())["spec"]["versions"]
    return dict(version)


def _paths(schema: dict[str, Any], prefix: str = "") -> set[str]:
    """Every field under ``schema``, as the docs write them: ``a.b``, ``list[].field``."""
    found: set[str] = set()
    for name, child in schema.get("properties", {}).items():
        path = f"{prefix}{name}"
        found.add(path)
        found |= _paths(child, f"{path}.")
        if "items" in child:
            found |= _paths(child["items"], f"{path}[].")
    return found


def table(text: str, heading: str) -> list[list[str]]:
    """The cells of the first Markdown table after ``heading`` (a whole heading line), header row left out."""
    start = text.index(f"\n{heading}\n")
    rows: list[list[str]] = []
    for line in text[start:].splitlines()[1:]:
        if line.startswith("|"):
            rows.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]])
        elif rows:
            break
    assert len(rows) > 2, f"no table under {heading!r}"
    return [row for row in rows[2:]]


def first_column(text: str, heading: str) -> list[str]:
    names = []
    for row in table(text, heading):
        match = re.fullmatch(r"`([^`]+)`", row[0])
        assert match, f"{heading}: the first cell {row[0]!r} is not one `name`"
        names.append(match.group(1))
    return names


def test_every_spec_field_is_documented_and_none_invented() -> None:
    schema = _version()["schema"]["openAPIV3Schema"]["properties"]["spec"]
    documented = first_column(REFERENCE.read_text(), "## Spec")
    assert len(documented) == len(set(documented)), "a spec field is documented twice"
    assert set(documented) == _paths(schema), {
        "missing": sorted(_paths(schema) - set(documented)),
        "not in the CRD": sorted(set(documented) - _paths(schema)),
    }


def test_every_status_field_is_documented_and_none_invented() -> None:
    schema = _version()["schema"]["openAPIV3Schema"]["properties"]["status"]
    documented = first_column(REFERENCE.read_text(), "## Status")
    assert set(documented) == _paths(schema), {
        "missing": sorted(_paths(schema) - set(documented)),
        "not in the CRD": sorted(set(documented) - _paths(schema)),
    }


def test_the_printer_columns_are_the_crds() -> None:
    columns = ["NAME"] + [c["name"].upper() for c in _version()["additionalPrinterColumns"]]
    assert first_column(REFERENCE.read_text(), "## Printer columns") == columns


def test_the_reason_walk_sees_the_reasons_the_issue_found_undocumented() -> None:
    """The walk is not vacuous: reasons from literals, constants, local variables and (reason, message) pairs."""
    found = reasons.condition_reasons()
    assert {"ScaledToZero", "ScalingToZero", "Restarting", "ScalingDown"} <= found  # constant, literal, variable
    assert {"EndpointCannotScaleToZero", "DeploymentUsedByInferenceEndpoint"} <= found  # a returned pair
    assert {"SecretNotFound", "InvalidSpec", "NoConflict", "NotStalled"} <= found
    assert {"DeploymentStarted", "Resumed"} <= reasons.event_reasons()


def test_every_reason_constant_is_a_reason_the_walk_finds() -> None:
    known = reasons.condition_reasons() | reasons.event_reasons() | CONDITION_TYPES
    blind = {name: value for name, value in reasons.reason_constants().items() if value not in known}
    assert not blind, f"reason constants in reconcile/ that the walk does not see used as a reason: {blind}"


def test_every_condition_reason_is_in_the_reference_and_none_stale() -> None:
    documented = first_column(REFERENCE.read_text(), "## Reasons")
    written = reasons.condition_reasons()
    assert len(documented) == len(set(documented)), "a reason is listed twice"
    assert set(documented) == written, {
        "undocumented": sorted(written - set(documented)),
        "stale": sorted(set(documented) - written),
    }


def test_every_error_class_is_in_the_reference_and_none_stale() -> None:
    assert set(first_column(REFERENCE.read_text(), "### Reasons from errors")) == reasons.error_classes()


def test_every_event_reason_is_in_the_reference_and_none_stale() -> None:
    assert set(first_column(REFERENCE.read_text(), "## Events")) == reasons.event_reasons()


def test_troubleshooting_has_an_entry_for_every_reason() -> None:
    text = TROUBLESHOOTING.read_text()
    headings = re.findall(r"^### `([^`]+)`$", text, flags=re.MULTILINE)
    assert len(headings) == len(set(headings)), "a reason has two entries"
    missing = reasons.condition_reasons() - set(headings)
    assert not missing, f"no troubleshooting entry for {sorted(missing)}"
    stale = {h for h in headings if not re.fullmatch(r"[a-z_]+_exception", h)} - reasons.condition_reasons()
    assert not stale, f"entries for reasons the operator never writes: {sorted(stale)}"
    unnamed = {name for name in reasons.error_classes() if f"`{name}`" not in text}
    assert not unnamed, f"error classes troubleshooting does not name: {sorted(unnamed)}"
