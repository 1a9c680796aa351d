"""Any corpus as a Hugging Face `datasets` dataset: `biotune corpora export NAME --to datasets FOLDER`.

Documents (PubTator, BioC, brat, JSONL documents, BigBIO) go out in the `bigbio_kb` schema and NER
sentence files as ``id, tokens, ner_tags`` (`biotune.corpora.hf_datasets.file_datasets`). Every
other registered corpus (pre-masked relation pairs, extractive and yes/no QA, sentence pairs,
multi-label texts) is read as training reads it, by the `read_split` of the task its registry entry
names (with the settings the entry gives, `CorpusInfo.settings`), and written as that task's gold
records (`Task.gold_records`, `Task.gold_features`): each row the input record `biotune predict`
takes plus its gold, a closed label set as a `datasets.ClassLabel` in the task's label order
(`Task.label_space` over every split). A corpus folder or an ``hf:`` dataset names no task: its
files are documents or NER sentences.

Here, at the tasks layer, because it reads through a task; `biotune.corpora` lies below the tasks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from biotune.corpora.hf_datasets import file_datasets, is_hf_spec, save_datasets, split_files
from biotune.corpora.registry import CORPORA, CorpusInfo, resolve_corpus
from biotune.corpora.splits import corpus_config
from biotune.io import check_output_folder
from biotune.tasks import get_task
from biotune.tasks.contract import SourceExamples


def export_corpus(name: str, folder: str | Path, data_dir: str | Path | None = None, download: bool = False,
                  overwrite: bool = False) -> Path:
    """Write corpus `name` (registered, a folder, or ``hf:``) as a `datasets.DatasetDict` in `folder`
    (see the module docstring); returns the folder. Written under a temporary name and renamed, so
    an interrupted export leaves nothing; a folder that exists is refused without `overwrite`, one
    that is or holds the corpus's files always."""
    target = check_output_folder(folder, [], "export folder", overwrite)
    paths = resolve_corpus(name, data_dir=data_dir, download=download)
    check_output_folder(target, [p for p in (paths.folder, paths.train, paths.dev, paths.test) if p is not None],
                        "export folder", overwrite)
    info = None if is_hf_spec(name) or Path(name).is_dir() else CORPORA.get(name)
    splits = file_datasets(name, paths, info)
    if splits is None:  # only a registered corpus of another task has files of its task's own
        assert info is not None
        splits = _gold_datasets(info, split_files(paths), data_dir, download)
    return save_datasets(splits, target)


def _gold_datasets(info: CorpusInfo, splits: dict[str, Path], data_dir: str | Path | None,
                   download: bool) -> dict[str, Any]:
    """Each split read by the corpus's task and turned into its gold records, one schema for every split."""
    import datasets

    config = corpus_config(info.name, data_dir, download)
    task = get_task(info.task)
    read = {split: task.read_split(split, config) for split in splits}
    labels = task.label_space([SourceExamples(s.examples, s.annotated_types) for s in read.values()], None)
    features = task.gold_features(labels)
    return {split: datasets.Dataset.from_list(list(task.gold_records(s)), features=features)
            for split, s in read.items()}
