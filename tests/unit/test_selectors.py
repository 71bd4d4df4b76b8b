"""Label selectors in the string form an HPA sends (k8s.io/apimachinery labels.Parse semantics)."""

from __future__ import annotations

import pytest

from esml_operator.metrics.selectors import SelectorError, parse_selector

LABELS = {"namespace": "team-a", "name": "elser", "deployment_id": "elser-1", "model_id": ".elser_model_2"}


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        ("", True),
        ("name=elser", True),
        ("name==elser", True),
        ("name=other", False),
        ("name!=other", True),
        ("name!=elser", False),
        ("missing!=x", True),  # != matches when the label is absent, as in Kubernetes
        ("name in (elser,other)", True),
        ("name in (a, b)", False),
        ("name notin (a,b)", True),
        ("missing notin (a)", True),
        ("missing in (a)", False),
        ("name", True),
        ("!name", False),
        ("!missing", True),
        ("name=elser,deployment_id=elser-1", True),
        ("name=elser, deployment_id in (x,y)", False),
        ("name=", False),  # an empty value is valid: it selects an empty (or, with !=, any other) value
    ],
)
def test_selectors(selector: str, matches: bool) -> None:
    assert parse_selector(selector)(LABELS) is matches


@pytest.mark.parametrize(
    "selector",
    # a label value cannot start with '.', so a model id like .elser_model_2 is no selector value
    ["name=a b", "name in a,b", "name>1", ",name", "name=a,", "in (a)", "model_id=.elser_model_2"],
)
def test_malformed_selectors_are_errors(selector: str) -> None:
    with pytest.raises(SelectorError):
        parse_selector(selector)
