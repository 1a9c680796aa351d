"""Corpus registry: the public biomedical NER, relation and QA corpora biotune knows by name, and where to find them.

`resolve_corpus("bc5cdr")` looks in the data folder (argument, then `$BIOTUNE_DATA_DIR`), then
the download cache (`$BIOTUNE_CACHE_DIR/corpora`, default `~/.cache/biotune/corpora`), and
downloads into the cache when asked, or on first use for a corpus whose files have pinned
checksums (bc5cdr, ncbi_disease, bc2gm, linnaeus: `biotune.corpora.fetch`). A folder path is used as is. When nothing is found
the single error says where it looked, which files it expects and where to get them.

Download locations are the MTL-Bioinformatics-2016 collection (Crichton et al., 2017), the
CoNLL-style train/devel/test splits the biomedical NER literature (BioBERT, BLURB) reports on.

A corpus's `files` may name no dev file (None) and may name a split by a glob pattern (BioASQ's
list training questions are spread over twelve gold files): a pattern is present when it matches
a file, and `CorpusPaths` holds the pattern itself, which the readers expand (the QA readers, the
brat reader).

BLURB (Gu et al. 2021) is registered as its own names, `blurb_*`, reading BLURB's processed files
as they are; their folders are relative to a data root laid out as `../shared/data` is (`blurb/`,
`re/`, `qa/`), so one `--data-dir` finds all twelve. `jnlpba` is JNLPBA with its five types in
brat standoff (`documents/jnlpba_brat`); it has no dev split, so one is taken from train by a
fixed rule: the abstracts whose PMID ends in 0 (208), train the others (1,782), a rule anyone can
apply with `ls train/*0.ann`, independent of file order and of any seed. As released, 10 training
abstracts are also test abstracts (one with the same annotations); neither train nor dev reads them
(`JNLPBA_FILES`, `formats.patterns`' `except`), since test text is never training text.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from biotune.corpora.fetch import download_url, fetch_files, is_pinned
from biotune.errors import BiotuneError
from biotune.formats import patterns
from biotune.formats.patterns import is_pattern, pattern_files
from biotune.registry import Registry

MTL_RAW = "https://raw.githubusercontent.com/cambridgeltl/MTL-Bioinformatics-2016/master/data"
BLURB = "https://microsoft.github.io/BLURB/"
BIOASQ = "http://participants-area.bioasq.org/datasets/"  # registration required
GLOB_CHARACTERS = patterns.GLOB_CHARACTERS  # a `files` entry with one of these is a pattern (`formats.patterns`)
BLURB_CITATION = ("Gu et al. (2021), Domain-specific language model pretraining for biomedical natural language "
                  "processing (BLURB), ACM Transactions on Computing for Healthcare 3:1-23.")
JNLPBA_BRAT = "https://github.com/spyysalo/jnlpba"
# JNLPBA's dev split is train's abstracts whose PMID ends in 0, its train split the others, both less the 10
# abstracts that are also test abstracts as released (`formats.patterns`; see the module docstring)
JNLPBA_FILES = ("train/*[!0].ann except test", "train/*0.ann except test", "test/*.ann")
SPLIT_FILES = ("train.tsv", "devel.tsv", "test.tsv")
TRAIN_NAMES = ("train.tsv", "train_dev.tsv")
DEV_NAMES = ("devel.tsv", "dev.tsv")
TEST_NAMES = ("test.tsv",)


@dataclass(frozen=True)
class CorpusInfo:
    """A registered corpus: its entity types (exactly as its tags spell them) and source.

    `url` is the base URL of the folder holding `SPLIT_FILES`; `downloadable` is False when
    that folder cannot be fetched file by file and the user must place the files by hand.
    """

    name: str
    entity_types: tuple[str, ...]
    url: str
    description: str
    citation: str
    downloadable: bool = True
    task: str = "ner"  # the task its files are for
    folder: str | None = None  # its folder under a data folder, when not its name (gad's BLURB split: gad/blurb)
    # its train, dev, test file names (relative to the folder), when not train/devel/test.tsv: dev may be
    # None (no dev split) and each may be a glob pattern (a split spread over several files)
    files: tuple[str, str | None, str] | None = None
    format: str | None = None  # its files' format, when their extension does not say it (PubTator as .txt)
    # NER files whose tags carry no type (bare B/I/O, BLURB's convention): read as its one entity type
    untyped: bool = False
    # keys of its task's config section that its files are read with, as its configs set them (bioasq_list: the
    # list questions of its gold files, qa.type list); what reads the corpus without a config uses them
    # (`biotune corpora export`)
    settings: dict[str, Any] = field(default_factory=dict)

    def folder_in(self, root: str | Path) -> Path:
        """Its corpus folder inside the data folder `root` (`<root>/bc5cdr`, `<root>/gad/blurb`)."""
        return Path(root) / (self.folder or self.name)

    def paths_in(self, folder: Path) -> CorpusPaths | None:
        """Its split files in `folder`, or None unless the folder holds its train and test files."""
        return corpus_paths(folder, self.name, self.files)


@dataclass(frozen=True)
class CorpusPaths:
    """The split files of one corpus folder; `dev` is None when the folder has none.

    A split a registered corpus names by a glob pattern is that pattern (`folder / pattern`).
    """

    name: str
    folder: Path
    train: Path
    dev: Path | None
    test: Path


def _mtl(folder: str) -> str:
    return f"{MTL_RAW}/{folder}"


def _blurb_ner(name: str, folder: str, entity_type: str, what: str, citation: str) -> CorpusInfo:
    """A BLURB NER dataset: its untyped B/I/O files under `blurb/<folder>`, scored as entity-level F1."""
    return CorpusInfo(name, (entity_type,), BLURB, f"{what}, BLURB's files: untyped B/I/O tags read as "
                      f"{entity_type!r}; entity-level F1.", f"{citation}; {BLURB_CITATION}", downloadable=False,
                      folder=f"blurb/{folder}", untyped=True)


def _blurb(name: str, task: str, folder: str, what: str, citation: str, labels: tuple[str, ...] = ()) -> CorpusInfo:
    """A BLURB dataset of another family, its files (train/dev/test.tsv) read as they are under the data root."""
    return CorpusInfo(name, labels, BLURB, f"{what} (BLURB split).", f"{citation}; {BLURB_CITATION}",
                      downloadable=False, task=task, folder=folder)


_CDR = "Li et al. (2016), BioCreative V CDR task corpus, Database 2016:baw068"
_BIOASQ = ("Tsatsaronis et al. (2015), An overview of the BIOASQ large-scale biomedical semantic indexing and "
           "question answering competition, BMC Bioinformatics 16:138")
BLURB_CORPORA = (
    _blurb_ner("blurb_bc5_chem", "bc5cdr_chem", "Chemical", "BC5-chem: chemicals in 1,500 PubMed abstracts", _CDR),
    _blurb_ner("blurb_bc5_disease", "bc5cdr_disease", "Disease", "BC5-disease: diseases in 1,500 PubMed abstracts",
               _CDR),
    _blurb_ner("blurb_ncbi_disease", "ncbi_disease", "Disease", "NCBI-disease: diseases in 793 PubMed abstracts",
               "Dogan, Leaman and Lu (2014), NCBI disease corpus, J Biomed Inform 47:1-10"),
    _blurb_ner("blurb_bc2gm", "bc2gm", "GENE", "BC2GM: gene and protein names in 20,000 sentences",
               "Smith et al. (2008), Overview of BioCreative II gene mention recognition, Genome Biol 9:S2"),
    _blurb_ner("blurb_jnlpba", "jnlpba", "Entity", "JNLPBA: the five GENIA types merged into one class, "
               "-DOCSTART- lines between abstracts",
               "Kim et al. (2004), Introduction to the bio-entity recognition task at JNLPBA, JNLPBA workshop"),
    _blurb("blurb_chemprot", "re", "re/chemprot", "ChemProt: chemical-protein relations CPR:3/4/5/6/9, "
           "entities pre-masked; micro-F1 over the five relations",
           "Krallinger et al. (2017), Overview of the BioCreative VI chemical-protein interaction track",
           ("CHEMICAL", "GENE")),
    _blurb("blurb_ddi", "re", "re/ddi", "DDIExtraction 2013: drug-drug interactions (mechanism, effect, advise, "
           "int); micro-F1 over the four", "Herrero-Zazo et al. (2013), The DDI corpus, J Biomed Inform 46:914-920",
           ("DRUG",)),
    _blurb("blurb_gad", "re", "re/gad/blurb", "GAD: gene-disease associations (binary); F1 of class 1",
           "Bravo et al. (2015), Extraction of relations between genes and diseases from text, BMC Bioinformatics "
           "16:55", ("GENE", "DISEASE")),
    _blurb("blurb_biosses", "similarity", "blurb/biosses", "BIOSSES: 100 sentence pairs scored 0-4 (the mean of "
           "five annotators); Pearson correlation",
           "Sogancioglu, Ozturk and Ozgur (2017), BIOSSES: a semantic sentence similarity estimation system for the "
           "biomedical domain, Bioinformatics 33:i49-i58"),
    _blurb("blurb_hoc", "multilabel", "blurb/hoc", "HoC: sentences of 1,852 abstracts labelled with the ten "
           "hallmarks of cancer; micro-F1 at the abstract level",
           "Baker et al. (2016), Automatic semantic classification of scientific literature according to the "
           "hallmarks of cancer, Bioinformatics 32:432-440"),
    _blurb("blurb_pubmedqa", "yesno", "qa/pubmedqa/blurb", "PubMedQA PQA-L: yes / no / maybe from a question and "
           "its abstract; accuracy", "Jin et al. (2019), PubMedQA: a dataset for biomedical research question "
           "answering, EMNLP-IJCNLP 2019", ("yes", "no", "maybe")),
    _blurb("blurb_bioasq", "yesno", "qa/bioasq/blurb_yesno", "BioASQ yes/no questions with their snippets; "
           "accuracy", _BIOASQ, ("yes", "no")),
)


def _corpus_key(name: str) -> str:
    """Corpus names forgive case, outer spaces, and `-` for `_` (``NCBI-Disease`` is ``ncbi_disease``)."""
    return name.strip().lower().replace("-", "_")


CORPORA: Registry[CorpusInfo] = Registry("corpus", {
    info.name: info
    for info in (
        CorpusInfo(
            "bc5cdr",
            ("Chemical", "Disease"),
            _mtl("BC5CDR-IOB"),
            "BioCreative V CDR: chemicals and diseases in 1,500 PubMed abstracts.",
            "Li et al. (2016), BioCreative V CDR task corpus, Database 2016:baw068.",
        ),
        CorpusInfo(
            "ncbi_disease",
            ("Disease",),
            _mtl("NCBI-disease-IOB"),
            "NCBI disease corpus: disease mentions in 793 PubMed abstracts.",
            "Dogan, Leaman and Lu (2014), NCBI disease corpus, J Biomed Inform 47:1-10.",
        ),
        CorpusInfo(
            "bc2gm",
            ("GENE",),
            _mtl("BC2GM-IOB"),
            "BioCreative II gene mention: gene and protein names in 20,000 sentences.",
            "Smith et al. (2008), Overview of BioCreative II gene mention recognition, Genome Biol 9:S2.",
        ),
        CorpusInfo(
            "jnlpba",
            ("DNA", "RNA", "cell_line", "cell_type", "protein"),
            JNLPBA_BRAT,
            "JNLPBA 2004 shared task (GENIA 3.02): five molecular-biology entity types in 2,000 training and 404 test "
            "abstracts, in brat standoff (the corpus of the SciBERT-on-JNLPBA model card). Dev: the training "
            "abstracts whose PMID ends in 0 (208), train: the other 1,782; the 10 training abstracts that are also "
            "test abstracts are in neither.",
            "Kim et al. (2004), Introduction to the bio-entity recognition task at JNLPBA, JNLPBA workshop.",
            downloadable=False, folder="documents/jnlpba_brat", format="brat", files=JNLPBA_FILES,
        ),
        CorpusInfo(
            "bc4chemd",
            ("Chemical",),
            _mtl("BC4CHEMD"),
            "BioCreative IV CHEMDNER: chemicals and drugs in 10,000 PubMed abstracts.",
            "Krallinger et al. (2015), The CHEMDNER corpus of chemicals and drugs, J Cheminform 7:S2.",
        ),
        CorpusInfo(
            "linnaeus",
            ("Species",),
            _mtl("linnaeus-IOB"),
            "LINNAEUS: species names in 100 PMC full-text articles.",
            "Gerner, Nenadic and Bergman (2010), LINNAEUS: a species name identification system, "
            "BMC Bioinformatics 11:85.",
        ),
        CorpusInfo(
            "species800",
            ("Species",),
            "https://species.jensenlab.org/",
            "S800: species names in 800 PubMed abstracts from eight taxonomic categories. Not in the "
            "MTL collection; the train/devel/test TSV split is BioBERT's (its 's800' folder).",
            "Pafilis et al. (2013), The SPECIES and ORGANISMS resources for fast and accurate "
            "identification of taxonomic names in text, PLoS ONE 8:e65390.",
            downloadable=False,
        ),
        CorpusInfo(
            "chemprot",
            ("CHEMICAL", "GENE"),
            BLURB,
            "ChemProt (BioCreative VI), BLURB split: chemical-protein relations CPR:3/4/5/6/9, entities pre-masked.",
            "Krallinger et al. (2017), Overview of the BioCreative VI chemical-protein interaction track.",
            downloadable=False, task="re",
        ),
        CorpusInfo(
            "ddi",
            ("DRUG",),
            BLURB,
            "DDIExtraction 2013, BLURB split: drug-drug interactions (mechanism, effect, advise, int).",
            "Herrero-Zazo et al. (2013), The DDI corpus, J Biomed Inform 46:914-920.",
            downloadable=False, task="re",
        ),
        CorpusInfo(
            "gad",
            ("GENE", "DISEASE"),
            BLURB,
            "GAD, BLURB split: gene-disease associations (binary).",
            "Bravo et al. (2015), Extraction of relations between genes and diseases from text, BMC Bioinformatics 16:55.",
            downloadable=False, task="re", folder="gad/blurb",
        ),
        CorpusInfo(
            "bc5cdr_cid",
            ("Chemical", "Disease"),
            "https://biocreative.bioinformatics.udel.edu/tasks/biocreative-v/track-3-cdr/",
            "BioCreative V CDR as released (PubTator): 1,500 abstracts with chemical and disease mentions, MeSH "
            "ids and document-level chemical-induced disease (CID) relations.",
            "Li et al. (2016), BioCreative V CDR task corpus, Database 2016:baw068; Wei et al. (2015).",
            downloadable=False, task="re", folder="bc5cdr_pubtator", format="pubtator",
            files=("CDR_TrainingSet.PubTator.txt", "CDR_DevelopmentSet.PubTator.txt", "CDR_TestSet.PubTator.txt"),
        ),
        CorpusInfo(
            "bc5cdr_documents",
            ("Chemical", "Disease"),
            "https://biocreative.bioinformatics.udel.edu/tasks/biocreative-v/track-3-cdr/",
            "BioCreative V CDR as released (PubTator), for NER: the 500 / 500 / 500 abstracts cut into tagged "
            "sentences that keep their document (document context, ner.context). The same tokens and "
            "entities as bc5cdr's TSV files; sentence boundaries are biotune's splitter's.",
            "Li et al. (2016), BioCreative V CDR task corpus, Database 2016:baw068; Wei et al. (2015).",
            downloadable=False, folder="bc5cdr_pubtator", format="pubtator",
            files=("CDR_TrainingSet.PubTator.txt", "CDR_DevelopmentSet.PubTator.txt", "CDR_TestSet.PubTator.txt"),
        ),
        CorpusInfo(
            "bioasq_factoid",
            (),
            BIOASQ,
            "BioASQ 7b factoid questions in BioBERT's SQuAD-v1 form (one question-snippet pair per item): 4,231 "
            "training pairs of 530 questions; the test is the 7b factoid questions, their gold in golden/7B_golden.json.",
            "Tsatsaronis et al. (2015), An overview of the BIOASQ large-scale biomedical semantic indexing and question "
            "answering competition, BMC Bioinformatics 16:138; Lee et al. (2020), BioBERT, Bioinformatics 36:1234-1240.",
            downloadable=False, task="qa", folder="bioasq",
            files=("squad/BioASQ-train-factoid-7b.json", None, "squad/BioASQ-test-factoid-7b.json"),
        ),
        CorpusInfo(
            "bioasq_list",
            (),
            BIOASQ,
            "BioASQ list questions from the official gold files (snippets and exact answers): train on batches 1-4 of "
            "4b-6b, tune on their 5th batches, test on the 88 list questions of 7b.",
            "Tsatsaronis et al. (2015), An overview of the BIOASQ large-scale biomedical semantic indexing and question "
            "answering competition, BMC Bioinformatics 16:138.",
            downloadable=False, task="qa", folder="bioasq/golden",
            files=("[456]B[1-4]_golden.json", "[456]B5_golden.json", "7B_golden.json"), settings={"type": "list"},
        ),
        CorpusInfo(
            "bioasq_yesno",
            ("yes", "no"),
            BLURB,
            "BioASQ yes/no questions, BLURB split (question and snippets, 670 / 75 / 140; the test is 7b's).",
            "Tsatsaronis et al. (2015), An overview of the BIOASQ large-scale biomedical semantic indexing and question "
            "answering competition, BMC Bioinformatics 16:138.",
            downloadable=False, task="yesno", folder="bioasq/blurb_yesno",
        ),
        CorpusInfo(
            "pubmedqa",
            ("yes", "no", "maybe"),
            BLURB,
            "PubMedQA PQA-L (expert-labelled), BLURB split: a question and its abstract (without the conclusion), "
            "answered yes / no / maybe; 450 / 50 / 500 (the official test).",
            "Jin et al. (2019), PubMedQA: a dataset for biomedical research question answering, EMNLP-IJCNLP 2019.",
            downloadable=False, task="yesno", folder="pubmedqa/blurb",
        ),
        *BLURB_CORPORA,
    )
}, normalize=_corpus_key, alternative="a folder with a train and a test file")


def corpus_info(name: str) -> CorpusInfo:
    """The registered corpus called `name` (case, `-` and `_` are forgiven)."""
    return CORPORA.lookup(name)


def corpus_paths(folder: str | Path, name: str | None = None,
                 files: tuple[str, str | None, str] | None = None) -> CorpusPaths | None:
    """The split files in `folder`, or None unless it has a train and a test file.

    `train_dev.tsv` (BioBERT's train+dev merge) counts as train only without a `train.tsv`.
    `files` names a registered corpus's own train, dev and test files instead (see `CorpusInfo.files`).
    """
    folder = Path(folder)
    names = (((f,) if f else ()) for f in files) if files else (TRAIN_NAMES, DEV_NAMES, TEST_NAMES)
    train, dev, test = (_first_file(folder, options) for options in names)
    if train is None or test is None:
        return None
    return CorpusPaths(name or folder.name, folder, train, dev, test)


def default_cache_dir() -> Path:
    """Where downloaded corpora live: `$BIOTUNE_CACHE_DIR/corpora`, else `$XDG_CACHE_HOME/biotune/corpora`
    (`~/.cache/biotune/corpora` when that is unset)."""
    root = os.environ.get("BIOTUNE_CACHE_DIR")
    user_cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return (Path(root) if root else user_cache / "biotune") / "corpora"


def resolve_corpus(
    name_or_path: str | Path, data_dir: str | Path | None = None, download: bool = False
) -> CorpusPaths:
    """The split files of a corpus given as a folder path or a registered name.

    Search order for a name: `data_dir/<name>`, `$BIOTUNE_DATA_DIR/<name>`, the cache, then a
    download into the cache if `download` is True or the corpus's files have pinned checksums
    (`biotune.corpora.fetch`: fetched on first use). Raises one `BiotuneError` that lists the
    folders searched, the expected file names and the download URL when nothing is found.
    """
    if str(name_or_path).startswith("hf:"):
        from biotune.corpora.hf_datasets import resolve_hf_corpus  # it builds on this module's types

        return resolve_hf_corpus(str(name_or_path))
    given = Path(name_or_path)
    if given.is_dir():
        found = corpus_paths(given)
        if found is None:
            raise BiotuneError(f"corpus folder {given} lacks {_expected_files()}")
        return found
    info = corpus_info(str(name_or_path))
    cached = default_cache_dir() / info.name
    folders = [info.folder_in(root) for root in (data_dir, os.environ.get("BIOTUNE_DATA_DIR")) if root]
    for folder in [*folders, cached]:
        found = info.paths_in(folder)
        if found is not None:
            return found
    problem = "download=True was not given"
    fetch = download or is_pinned(info.name)
    if fetch and info.downloadable:
        try:
            fetch_files(info.name, download_url(info.name, info.url), SPLIT_FILES, cached)
            return CorpusPaths(info.name, cached, *(cached / file_name for file_name in SPLIT_FILES))
        except OSError as error:
            problem = f"download failed: {error}"
    elif download:
        problem = "this corpus cannot be downloaded automatically"
    searched = ", ".join(str(folder) for folder in [*folders, cached])
    named = [f for f in info.files or SPLIT_FILES if f]
    expected = ", ".join(named) if info.files else _expected_files()
    raise BiotuneError(
        f"corpus {info.name!r} not found; searched: {searched} ({problem}). A corpus folder needs "
        f"{expected}. Get {', '.join(named)} from {info.url} into one of those folders, "
        f"pass data_dir= or set BIOTUNE_DATA_DIR"
        + (", or pass download=True (--download)." if info.downloadable and not fetch else ".")
    )


def _first_file(folder: Path, names: tuple[str, ...]) -> Path | None:
    """The first of `names` present in `folder`; a glob pattern is present when it matches a file."""
    return next((folder / name for name in names if _present(folder, name)), None)


def _present(folder: Path, name: str) -> bool:
    if is_pattern(folder / name):
        return bool(pattern_files(folder / name))
    return (folder / name).is_file()


def _expected_files() -> str:
    return (
        f"a train file ({' or '.join(TRAIN_NAMES)}), a test file ({' or '.join(TEST_NAMES)}) "
        f"and optionally a dev file ({' or '.join(DEV_NAMES)})"
    )
