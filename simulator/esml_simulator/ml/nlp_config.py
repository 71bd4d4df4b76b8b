"""Defaults and checks Elasticsearch applies to an NLP model's inference config when the model is created.

``fill_mask`` takes its ``mask_token`` from the tokenizer (``[MASK]`` for the
BERT family, ``<mask>`` for the RoBERTa family; BERT when no tokenization is
given), and GET shows it. A ``mask_token`` that differs is refused with
Elasticsearch's text; the error's exact nesting in Elasticsearch (a parse
exception around an ``IllegalArgumentException``) is simplified to one
``illegal_argument_exception`` whose reason names the Java exception, as the
rendered cause does.
"""

from __future__ import annotations

import copy
from typing import Any

from esml_simulator.errors import illegal_argument

MASK_TOKENS = {
    "bert": "[MASK]",
    "bert_ja": "[MASK]",
    "deberta_v2": "[MASK]",
    "mpnet": "<mask>",
    "roberta": "<mask>",
    "xlm_roberta": "<mask>",
}


def _tokenizer(settings: dict[str, Any]) -> str:
    tokenization = settings.get("tokenization")
    if isinstance(tokenization, dict) and tokenization:
        return str(next(iter(tokenization)))
    return "bert"


def with_defaults(inference_config: Any) -> Any:
    """A copy of the config with the defaults set (ValueError-free: bad tokens raise Elasticsearch's error)."""
    if not isinstance(inference_config, dict) or not isinstance(inference_config.get("fill_mask"), dict):
        return inference_config
    out = copy.deepcopy(inference_config)
    settings = out["fill_mask"]
    expected = MASK_TOKENS.get(_tokenizer(settings), "[MASK]")
    requested = settings.get("mask_token")
    if requested is not None and requested != expected:
        raise illegal_argument(
            f"java.lang.IllegalArgumentException: Mask token requested was [{requested}] but must be "
            f"[{expected}] for this model"
        )
    settings["mask_token"] = expected
    return out
