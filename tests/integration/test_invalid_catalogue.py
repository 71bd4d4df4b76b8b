"""The catalogue of invalid ModelDeployments (tests/invalid/*.yaml) against the real kube-apiserver.

Each file is one case and says, in its leading comment block, what the API
server (or kubectl) answers:

* ``# expect: <text>``: text that must appear in the rejection (one or more lines;
  all must appear);
* ``# via: api``: send the file's bytes as they are (``Content-Type: application/yaml``,
  ``fieldValidation=Strict``) instead of through ``kubectl apply``, for what kubectl
  would hide (it resolves duplicate keys itself, see the last test).

By default a file goes through ``kubectl apply --validate=strict`` (server-side
strict field validation, so unknown and duplicate fields are errors, not
warnings). In a file with several documents every document but the last must be
accepted and the last one must be rejected: that is how transition rules
(immutability) are exercised, in one kubectl call.
"""

from __future__ import annotations

import json
import re
import ssl
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from harness.runner import ControlPlane, strict_context

REPO = Path(__file__).resolve().parents[2]
CATALOGUE = REPO / "tests" / "invalid"
FILES = sorted(CATALOGUE.glob("*.yaml"))
MINIMUM_CASES = 30
#: Every kind of bad input the catalogue must cover, by file-name prefix.
CATEGORIES = (
    "type-",
    "range-",
    "pattern-",
    "enum-",
    "required-",
    "oneof-",
    "cel-",
    "immutable-",
    "unknown-field-",
    "huge-",
    "long-",
    "unicode-",
    "yaml-anchor-",
    "yaml-alias-",
    "yaml-duplicate-key",
)
DIRECTIVE = re.compile(r"^#\s*(expect|via):\s*(.*?)\s*$")
VIA = ("kubectl", "api")

pytestmark = pytest.mark.cluster


@dataclass(frozen=True)
class Case:
    path: Path
    expect: tuple[str, ...]
    via: str
    names: tuple[str, ...]  # metadata.name of each document, in order


def load_case(path: Path) -> Case:
    """Parse a catalogue file; fails the test when its expectation is missing or malformed."""
    text = path.read_text(encoding="utf-8")
    expect: list[str] = []
    via = "kubectl"
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            break  # directives live in the leading comment block only
        match = DIRECTIVE.match(line)
        if match is None:
            continue
        key, value = match.groups()
        if key == "expect":
            assert value and value != "TODO", f"{path.name}: empty expectation"
            expect.append(value)
        else:
            assert value in VIA, f"{path.name}: via must be one of {VIA}, got {value!r}"
            via = value
    assert expect, f"{path.name}: no '# expect: <text>' line in the leading comment block"
    documents = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    assert documents, f"{path.name}: no document"
    assert via == "kubectl" or len(documents) == 1, f"{path.name}: via: api sends exactly one document"
    names = tuple(str(doc.get("metadata", {}).get("name", "")) for doc in documents)
    return Case(path, tuple(expect), via, names)


@dataclass(frozen=True)
class Answer:
    accepted: bool
    output: str  # what was accepted (kubectl's stdout, or the stored object)
    message: str  # the rejection (kubectl's stderr, or the API Status message)


def via_kubectl(plane: ControlPlane, namespace: str, path: Path) -> Answer:
    proc = plane.kubectl("apply", "--validate=strict", "-n", namespace, "-f", str(path), check=False)
    return Answer(proc.returncode == 0, proc.stdout, proc.stderr)


def via_api(plane: ControlPlane, namespace: str, path: Path) -> Answer:
    url = f"{plane.server}/apis/esml.io/v1alpha1/namespaces/{namespace}/modeldeployments?fieldValidation=Strict"
    request = urllib.request.Request(  # noqa: S310 (https to the test's own API server)
        url,
        data=path.read_bytes(),
        method="POST",
        headers={"Content-Type": "application/yaml", "Accept": "application/json"},
    )
    context: ssl.SSLContext = strict_context(plane.ca.cert, plane.admin_cert.cert, plane.admin_cert.key)
    try:
        with urllib.request.urlopen(request, context=context, timeout=30) as response:  # noqa: S310
            return Answer(True, response.read().decode(), "")
    except urllib.error.HTTPError as error:
        status = json.loads(error.read().decode())
        return Answer(False, "", f"{error.code} {status.get('reason')}: {status.get('message')}")


@pytest.fixture(scope="module")
def catalogue_namespace(control_plane: ControlPlane) -> Iterator[str]:
    """One namespace for the whole catalogue (every file uses its own resource name): one call per case."""
    name = f"invalid-{uuid.uuid4().hex[:8]}"
    control_plane.kubectl("create", "namespace", name)
    yield name
    control_plane.kubectl("delete", "namespace", name, "--wait=false", check=False)


def test_the_catalogue_covers_every_kind_of_bad_input() -> None:
    assert len(FILES) >= MINIMUM_CASES, f"{CATALOGUE} holds {len(FILES)} cases, fewer than {MINIMUM_CASES}"
    cases = [load_case(path) for path in FILES]
    missing = [prefix for prefix in CATEGORIES if not any(p.name.startswith(prefix) for p in FILES)]
    assert missing == [], f"no case for {missing}"
    # Resource names are unique across files, so that the cases can share one namespace.
    owners: dict[str, str] = {}
    for case in cases:
        for name in set(case.names):
            assert owners.setdefault(name, case.path.name) == case.path.name, f"{name!r} used twice"
    # Transition rules need a first document that is accepted and a second one for the same object.
    for case in cases:
        if case.path.name.startswith("immutable-"):
            assert len(case.names) == 2 and case.names[0] == case.names[1], case.path.name


@pytest.mark.parametrize("path", FILES, ids=[path.stem for path in FILES])
def test_invalid_resource_is_rejected_with_its_message(
    control_plane: ControlPlane, catalogue_namespace: str, path: Path
) -> None:
    case = load_case(path)
    send = via_api if case.via == "api" else via_kubectl
    answer = send(control_plane, catalogue_namespace, path)
    assert not answer.accepted, f"{path.name} was accepted:\n{answer.output}"
    for name in case.names[:-1]:
        assert f"modeldeployment.esml.io/{name} created" in answer.output, (
            f"{path.name}: the first document was not accepted:\n{answer.output}\n{answer.message}"
        )
    for text in case.expect:
        assert text in answer.message, f"{path.name}: {text!r} not in the rejection:\n{answer.message}"


DUPLICATE_KEY_FILES = [path for path in FILES if path.name.startswith("yaml-duplicate-key")]


def contains(expected: object, actual: object) -> bool:
    """Whether ``actual`` has every leaf of ``expected`` (the API server adds defaults)."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(contains(v, actual.get(k)) for k, v in expected.items())
    return expected == actual


@pytest.mark.parametrize("path", DUPLICATE_KEY_FILES, ids=[path.stem for path in DUPLICATE_KEY_FILES])
def test_kubectl_resolves_duplicate_keys_itself_and_the_last_one_wins(
    control_plane: ControlPlane, catalogue_namespace: str, path: Path
) -> None:
    """What the duplicate-key files meet through kubectl: no error and no warning, even with
    ``--validate=strict``. kubectl keeps the last of the duplicate keys (as PyYAML does), so the
    API server never sees the duplicate; that is why those files are sent with ``via: api``."""
    assert load_case(path).via == "api", f"{path.name} must be sent as-is (via: api)"
    proc = control_plane.kubectl(
        "apply",
        "--validate=strict",
        "--dry-run=server",
        "-o",
        "json",
        "-n",
        catalogue_namespace,
        "-f",
        str(path),
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "duplicate" not in proc.stderr and "already set" not in proc.stderr, proc.stderr
    last_wins = yaml.safe_load(path.read_text(encoding="utf-8"))["spec"]
    stored = json.loads(proc.stdout)["spec"]
    assert contains(last_wins, stored), (last_wins, stored)
