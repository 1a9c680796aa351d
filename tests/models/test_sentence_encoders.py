"""Mean pooling leaves padding out; the sentence-transformers files describe mean pooling over the encoder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from biotune.models.sentence_encoders import mean_pool, write_sentence_transformers_files


def test_mean_pool_averages_the_real_tokens_only() -> None:
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 6.0], [100.0, -100.0]],
                           [[4.0, 0.0], [-7.0, 7.0], [9.0, 8.0]]])  # (2 rows, 3 tokens, 2)
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]])  # the first row's last token is padding
    assert mean_pool(hidden, mask).tolist() == [[2.0, 4.0], [2.0, 5.0]]


def test_more_padding_changes_no_embedding_and_bf16_states_pool_in_fp32() -> None:
    torch.manual_seed(0)
    hidden = torch.randn(1, 4, 8)  # (1, tokens, 8)
    padded = torch.cat([hidden, torch.randn(1, 6, 8)], dim=1)  # 6 padding positions holding garbage
    alone = mean_pool(hidden, torch.ones(1, 4, dtype=torch.long))
    assert torch.equal(mean_pool(padded, torch.tensor([[1] * 4 + [0] * 6])), alone)
    assert mean_pool(hidden.bfloat16(), torch.ones(1, 4)).dtype == torch.float32


def test_the_folder_files_are_sentence_transformers_own(tmp_path: Path) -> None:
    write_sentence_transformers_files(tmp_path, 384, 512)
    assert json.loads((tmp_path / "modules.json").read_text()) == [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    assert json.loads((tmp_path / "sentence_bert_config.json").read_text()) == {"max_seq_length": 512,
                                                                               "do_lower_case": False}
    pooling = json.loads((tmp_path / "1_Pooling" / "config.json").read_text())
    assert pooling["word_embedding_dimension"] == 384 and pooling["pooling_mode_mean_tokens"] is True
    assert not any(value for key, value in pooling.items() if key.startswith("pooling_mode_") and key != "pooling_mode_mean_tokens")


def test_sentence_transformers_reads_the_files_as_mean_pooling(tmp_path: Path, word_backbone: Path) -> None:
    """Where the library is installed (it is no dependency of biotune), it rebuilds exactly `mean_pool`."""
    sentence_transformers = pytest.importorskip("sentence_transformers")
    from transformers import AutoModel, AutoTokenizer

    folder = tmp_path / "encoder"
    encoder, tokenizer = AutoModel.from_pretrained(word_backbone), AutoTokenizer.from_pretrained(word_backbone)
    encoder.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    write_sentence_transformers_files(folder, encoder.config.hidden_size, 128)
    texts = ["the patient developed acute tremor after aspirin .", "heparin"]
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        ours = mean_pool(encoder(**batch).last_hidden_state, batch["attention_mask"])
    theirs = sentence_transformers.SentenceTransformer(str(folder), device="cpu").encode(texts, convert_to_tensor=True)
    assert torch.allclose(theirs, ours, atol=1e-5)
