"""`biotune link`: build a linker folder from vocabularies, train a dense linker, evaluate a linker.

    biotune link build --vocab Chemical=mesh.tsv --vocab Disease=medic.tsv --output linker/
    biotune link build --vocab Disease=medic.tsv --prefer MESH --output linker/
    biotune link train --vocab Disease=medic.tsv --mentions train.pubtator --steps 300 --output dense/
    biotune link build --vocab Disease=medic.tsv --dense dense/ --output linker/
    biotune link evaluate linker/ --documents test.pubtator

The folder `build` writes is what `Linker.load` opens (and what a tag job or the service is
given): building reads the vocabularies and fits the fuzzy index once, so loading does neither.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from biotune.cli.console import console, friendly
from biotune.errors import BiotuneError

app = typer.Typer()
link_app = typer.Typer(help="Entity linking: build a linker folder, train a dense linker, evaluate a linker.",
                       no_args_is_help=True)
app.add_typer(link_app, name="link")

VocabOption = Annotated[list[str], typer.Option(
    "--vocab", help="TYPE=FILE, a term<TAB>id[<TAB>alternative ids] vocabulary of an entity type; repeatable, "
    "several for one type in priority order: --vocab Chemical=mesh.tsv --vocab Disease=medic.tsv")]
MentionsOption = Annotated[list[Path] | None, typer.Option(
    "--mentions", help="documents whose gold concept ids teach names (training mentions, linked first); repeatable")]
TypeMapOption = Annotated[list[str] | None, typer.Option(
    "--type-map", help="SOURCE=TYPE: link mentions of type SOURCE with TYPE's vocabularies; repeatable "
    "(NCBI-disease: --type-map SpecificDisease=Disease)")]
FormatOption = Annotated[str | None, typer.Option("--format", help="document format (default: by extension)")]


def pairs(values: Sequence[str], option: str, example: str) -> list[tuple[str, str]]:
    """``KEY=VALUE`` option values as pairs, in order; anything else is a one-line error naming the option."""
    found = []
    for value in values:
        key, sign, rest = value.partition("=")
        if not sign or not key.strip() or not rest.strip():
            raise BiotuneError(f"{option} {value!r}: expected {example}")
        found.append((key.strip(), rest.strip()))
    return found


def vocabulary_files(values: Sequence[str]) -> dict[str, list[str]]:
    files: dict[str, list[str]] = {}
    for type_, path in pairs(values, "--vocab", "TYPE=FILE (e.g. Disease=medic.tsv)"):
        files.setdefault(type_, []).append(path)
    return files


def type_mapping(values: Sequence[str] | None) -> dict[str, str]:
    """The `--type-map SOURCE=TYPE` options of `build` and `train` as a mapping."""
    return dict(pairs(values or [], "--type-map", "SOURCE=TYPE (e.g. SpecificDisease=Disease)"))


@link_app.command("build")
@friendly
def build(
    vocab: VocabOption,
    output: Annotated[Path, typer.Option(help="the linker folder to write (must not exist)")],
    mentions: MentionsOption = None,
    type_map: TypeMapOption = None,
    dense: Annotated[Path | None, typer.Option(
        help="a dense linker folder (`biotune link train`) built from these vocabularies")] = None,
    fuzzy: Annotated[bool, typer.Option(help="build the character n-gram TF-IDF stage")] = True,
    abbreviations: Annotated[bool, typer.Option(help="link a short form as its long form in its document")] = True,
    fuzzy_threshold: Annotated[float, typer.Option(min=0.0, max=1.0, help="lowest fuzzy cosine accepted")] = 0.7,
    dense_threshold: Annotated[float, typer.Option(min=-1.0, max=1.0, help="lowest dense cosine accepted")] = 0.0,
    prefer: Annotated[str | None, typer.Option(
        help="id namespace to link to when a concept has an id in it among its alternatives, e.g. MESH "
        "(MEDIC names some diseases by OMIM ids; BC5CDR and NCBI-disease use MeSH); bare ids count as MESH")] = None,
    format: FormatOption = None,
) -> None:
    """Build a linker folder once (tables, fuzzy index, optional dense linker) that `Linker.load` opens fast."""
    from biotune.linking import Linker, mention_vocabularies

    if output.exists():
        raise BiotuneError(f"linker folder {output} already exists: choose a new folder (or remove it to rebuild)")
    started = time.perf_counter()
    files = vocabulary_files(vocab)
    mapping = type_mapping(type_map)
    first = mention_vocabularies(mentions or [], list(files), mapping, format)
    linker = Linker.from_files(files, dense, first=first, fuzzy=fuzzy, abbreviations=abbreviations,
                               fuzzy_threshold=fuzzy_threshold, dense_threshold=dense_threshold, type_map=mapping,
                               prefer=prefer)
    linker.save(output)
    for type_, lexicon in linker.lexicons.items():
        console.print(f"{type_}: {len(lexicon.exact.keys)} terms, {len(lexicon.normalised.keys)} normalised names, "
                      f"{len(lexicon.concepts)} concepts from {', '.join(v['source'] for v in lexicon.vocabularies)}",
                      highlight=False, soft_wrap=True)
    preferred = f", {linker.prefer} ids preferred" if linker.prefer is not None else ""
    console.print(f"linker {output} (fingerprint {linker.fingerprint}{preferred}) built in "
                  f"{time.perf_counter() - started:.1f} s", highlight=False, soft_wrap=True)


@link_app.command("train")
@friendly
def train(
    vocab: VocabOption,
    output: Annotated[Path, typer.Option(help="the dense linker folder to write (must not exist)")],
    mentions: MentionsOption = None,
    type_map: TypeMapOption = None,
    encoder: Annotated[str, typer.Option(help="encoder to fine-tune: a folder, a hub id, or minilm")] = "minilm",
    steps: Annotated[int, typer.Option(min=1, help="optimisation steps (the time budget)")] = 300,
    batch_size: Annotated[int, typer.Option(min=2, help="pairs per step (in-batch negatives)")] = 64,
    learning_rate: Annotated[float, typer.Option(min=0.0, help="peak learning rate")] = 2e-5,
    max_length: Annotated[int, typer.Option(min=4, help="subwords per name")] = 32,
    seed: Annotated[int, typer.Option(help="random seed")] = 42,
    format: FormatOption = None,
) -> None:
    """Fine-tune an encoder so a mention and its concept's names embed close, and index every vocabulary name."""
    from biotune.linking import mention_vocabularies, read_vocabulary
    from biotune.linking.contrastive import TrainingSettings, train_dense_linker
    from biotune.linking.dense import Encoder
    from biotune.models.backbones import resolve_backbone

    if output.exists():
        raise BiotuneError(f"dense linker folder {output} already exists: choose a new folder")
    files = vocabulary_files(vocab)
    vocabularies = {type_: [read_vocabulary(path) for path in paths] for type_, paths in files.items()}
    mapping = type_mapping(type_map)
    unknown = sorted(set(mapping.values()) - set(files))
    if unknown:
        raise BiotuneError(f"--type-map maps to {', '.join(unknown)}, which no --vocab names (types: {', '.join(files)})")
    taught = mention_vocabularies(mentions or [], list(files), mapping, format)
    training = [(term, type_, concept) for type_, vocabs in taught.items() for v in vocabs
                for term, concept in zip(v.terms, v.ids)]
    settings = TrainingSettings(steps=steps, batch_size=batch_size, learning_rate=learning_rate, seed=seed)
    started = time.perf_counter()
    linker, losses = train_dense_linker(Encoder.load(resolve_backbone(encoder), max_length), vocabularies, training,
                                        settings)
    linker.save(output)
    first, last = (sum(part) / len(part) for part in (losses[:20], losses[-20:]))
    console.print(f"dense linker {output}: {steps} steps, loss {first:.3f} -> {last:.3f}, {len(linker.rows)} names "
                  f"indexed, {time.perf_counter() - started:.0f} s", highlight=False, soft_wrap=True)


@link_app.command("evaluate")
@friendly
def evaluate(
    linker_dir: Annotated[Path, typer.Argument(help="a linker folder (`biotune link build`)")],
    documents: Annotated[Path, typer.Option(help="documents with gold concept ids (PubTator, BioC, JSONL, brat)")],
    format: FormatOption = None,
) -> None:
    """Accuracy@1 and @5 on the gold mentions of DOCUMENTS, per type (composite gold ids: any part counts)."""
    from biotune.formats.document_formats import iter_documents
    from biotune.linking import Linker
    from biotune.linking.evaluation import accuracy_by_type
    from biotune.tables import markdown_table

    linker = Linker.load(linker_dir)
    results = accuracy_by_type(linker, iter_documents(documents, format))
    rows = [[type_, str(r.mentions), f"{100 * r.accuracy(1):.2f}", f"{100 * r.accuracy(5):.2f}",
             ", ".join(f"{stage} {r.stages_right.get(stage, 0)}/{n}" for stage, n in sorted(r.stages.items()))]
            for type_, r in results.items()]
    print(markdown_table(["type", "mentions", "acc@1 (%)", "acc@5 (%)", "stage: right at 1 / linked"], rows,
                         ["left", "right", "right", "right", "left"]))
    console.print(f"linker {linker_dir} (fingerprint {linker.fingerprint}); right when the prediction names any id of "
                  "a composite gold id or one of the predicted concept's alternative ids (BioSyn's rule)",
                  highlight=False, soft_wrap=True)
