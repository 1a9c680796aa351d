"""Continued masked-language-model pretraining of an encoder on domain text (BioBERT's recipe;
Gururangan et al. 2020's task-adaptive pretraining): `biotune pretrain CONFIG`.

config.py (the YAML schema) -> sources.py (text of each document, test splits refused) ->
packing.py (a document -> windows of subwords, never crossing documents) -> masking.py
(whole-word 80/10/10 masks, a pure function of seed, epoch and example index) -> stream.py (the
streamed, seeded, bounded-memory dataset) -> model.py (the encoder with its MLM head, fresh and
tied to the input embeddings when it has none) -> run.py (Trainer, checkpoints, resume, record).
"""
