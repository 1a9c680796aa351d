"""Dictionary specs and loading: formats, filters, tokenised terms, and errors that name file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from biotune.errors import BiotuneError
from biotune.silver.dictionary import load_dictionary
from biotune.silver.spec import DictionarySpec, parse_spec
from biotune.silver.stopwords import GENE_STOP_WORDS

GENE_TABLE = (
    "term\ttype\tcategory\tname\n"
    "BRCA1\tGene\tprotein_coding\tBRCA1 DNA repair\n"
    "IL-2\tGene\tprotein_coding\tinterleukin 2\n"
    "TNF-α\tGene\tprotein_coding\ttumor necrosis factor\n"
    "MIR21\tGene\tmiRNA\tmicroRNA 21\n"
    "T\tGene\tprotein_coding\tbrachyury\n"
    "WAS\tGene\tprotein_coding\tWAS actin nucleation\n"
    "Brca1\tGene\tprotein_coding\tduplicate when case is ignored\n"
    "\n"
    "SET\tGene\tprotein_coding\tSET nuclear proto-oncogene\n"
)

SHARED_GENES = Path(__file__).resolve().parents[3] / "shared" / "data" / "dictionaries" / "gene_symbols.tsv"


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def texts(spec: DictionarySpec) -> list[str]:
    return [term.text for term in load_dictionary(spec).terms]


def test_table_terms_are_tokenised_like_text_and_filtered(tmp_path: Path) -> None:
    dictionary = load_dictionary(DictionarySpec(path=write(tmp_path / "genes.tsv", GENE_TABLE)))
    assert [(t.text, t.tokens, t.type) for t in dictionary.terms] == [
        ("BRCA1", ("BRCA1",), "Gene"),
        ("IL-2", ("IL", "-", "2"), "Gene"),
        ("TNF-α", ("TNF", "-", "α"), "Gene"),
        ("MIR21", ("MIR21",), "Gene"),
    ]
    assert dictionary.counts == {"rows": 8, "kept": 4, "too short": 1, "stop word": 2, "duplicate": 1}
    assert dictionary.types == ["Gene"] and not dictionary.case_sensitive


def test_case_sensitive_keeps_case_variants_and_min_length_counts_characters(tmp_path: Path) -> None:
    path = write(tmp_path / "genes.tsv", GENE_TABLE)
    assert texts(DictionarySpec(path=path, case_sensitive=True)) == ["BRCA1", "IL-2", "TNF-α", "MIR21", "Brca1"]
    assert texts(DictionarySpec(path=path, min_length=5)) == ["BRCA1", "TNF-α", "MIR21"]
    assert texts(DictionarySpec(path=path, min_length=1, default_stop_words=False)) == [
        "BRCA1", "IL-2", "TNF-α", "MIR21", "T", "WAS", "SET"
    ]


def test_category_filter_and_fixed_type(tmp_path: Path) -> None:
    path = write(tmp_path / "genes.tsv", GENE_TABLE)
    spec = DictionarySpec(path=path, category=("miRNA",), type="GENE")
    dictionary = load_dictionary(spec)
    assert [(t.text, t.type) for t in dictionary.terms] == [("MIR21", "GENE")]
    assert dictionary.counts["other category"] == 7
    renamed = write(tmp_path / "hgnc.tsv", GENE_TABLE.replace("term\ttype\tcategory", "symbol\tkind\tlocus_group"))
    spec = DictionarySpec(path=renamed, term_column="symbol", type_column="kind", category_column="locus_group",
                          category=("miRNA", "protein_coding"))
    assert texts(spec) == ["BRCA1", "IL-2", "TNF-α", "MIR21"]


def test_stop_words_inline_and_from_a_file_ignore_case(tmp_path: Path) -> None:
    path = write(tmp_path / "genes.tsv", GENE_TABLE)
    stop_file = write(tmp_path / "stop.txt", "# words that are not genes here\nil-2\n\n")
    spec = DictionarySpec(path=path, stop_words=("mir21",), stop_list=stop_file)
    assert texts(spec) == ["BRCA1", "TNF-α"]
    assert {"WAS", "SET", "CAT", "MAX", "IMPACT", "MICE"} <= GENE_STOP_WORDS


def test_plain_list_takes_its_type_from_the_spec(tmp_path: Path) -> None:
    path = write(tmp_path / "chemicals.txt", "# chemicals\naspirin\n\n  cisplatin  \nL-DOPA\n")
    dictionary = load_dictionary(DictionarySpec(path=path, type="Chemical"))
    assert [(t.text, t.tokens, t.type) for t in dictionary.terms] == [
        ("aspirin", ("aspirin",), "Chemical"),
        ("cisplatin", ("cisplatin",), "Chemical"),
        ("L-DOPA", ("L", "-", "DOPA"), "Chemical"),
    ]


@pytest.mark.parametrize(
    ("name", "content", "spec", "message"),
    [
        ("g.tsv", "symbol\ttype\nBRCA1\tGene\n", {}, "g.tsv:1: no column 'term' (term_column) in the header: "
         "'symbol', 'type'"),
        ("g.tsv", "term\ttyp\nBRCA1\tGene\n", {}, "did you mean 'typ'?"),
        ("g.tsv", "term\ttype\nBRCA1\tGene\nTP53\n", {}, "g.tsv:3: expected 2 tab-separated columns"),
        ("g.tsv", "term\ttype\nBRCA1\tGene\n \tGene\n", {}, "g.tsv:3: empty term"),
        ("g.tsv", "term\ttype\nBRCA1\tGene\nTP53\t \n", {}, "g.tsv:3: empty type"),
        ("g.tsv", "term\ttype\nBRCA1\tGene\n\u200b\u200b\tGene\n", {}, "g.tsv:3: term '\\u200b\\u200b' has no token"),
        ("g.tsv", "\n\n", {}, "g.tsv is empty"),
        ("g.tsv", b"term\ttype\nBRCA1\tGene\nTP\xff3\tGene\n", {}, "g.tsv:3: not valid UTF-8"),
        ("g.tsv", "term\ttype\nT\tGene\nWAS\tGene\n", {}, "no term left (2 rows; dropped: 1 too short, 1 stop word)"),
        ("g.tsv", "term\ttype\tcategory\nBRCA1\tGene\tprotein_coding\n", {"category": ("protein-coding gene",)},
         "category 'protein-coding gene' never occurs in column 'category' (values: 'protein_coding' (1))"),
        ("g.txt", "BRCA1\n", {}, "plain term list: give its entity type"),
        ("g.txt", "BRCA1\tGene\n", {"type": "Gene"}, "g.txt:1: a term list line holds a tab"),
        ("g.txt", "BRCA1\n", {"type": "Gene", "stop_list": "missing_stop.txt"},
         "stop list missing_stop.txt does not exist"),
    ],
)
def test_bad_dictionaries_name_file_and_line(
    tmp_path: Path, name: str, content: str | bytes, spec: dict[str, object], message: str
) -> None:
    path = write(tmp_path / name, content)
    with pytest.raises(BiotuneError) as error:
        load_dictionary(DictionarySpec(path=path, **spec))
    assert message in str(error.value)
    assert str(path) in str(error.value) or "stop list" in str(error.value)


def test_missing_dictionary_file(tmp_path: Path) -> None:
    with pytest.raises(BiotuneError, match="dictionary file .*nope.tsv does not exist"):
        load_dictionary(DictionarySpec(path=tmp_path / "nope.tsv"))


def test_parse_spec_overrides_shared_options() -> None:
    shared = {"type": "Gene", "min_length": 3, "category": ["protein_coding"], "term_column": None}
    spec = parse_spec("dir:x/genes.tsv:type=GENE,category=miRNA|lincRNA,case-sensitive=true,stop_words=CAT", shared)
    assert spec.path == Path("dir:x/genes.tsv")
    assert (spec.type, spec.category, spec.case_sensitive, spec.min_length) == ("GENE", ("miRNA", "lincRNA"), True, 3)
    assert spec.stop_words == ("CAT",) and spec.term_column == "term"
    assert parse_spec("genes.tsv") == DictionarySpec(path=Path("genes.tsv"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("genes.tsv:tpye=GENE", "unknown option 'tpye' (did you mean 'type'?)"),
        ("genes.tsv:min_length=two", "min_length: Input should be a valid integer"),
        ("genes.tsv:type=GENE,oops", "expected KEY=VALUE, found 'oops'"),
        ("genes.tsv:type= ", "type: Value error, '' is not a usable entity type"),
    ],
)
def test_parse_spec_errors_name_the_spec_and_key(text: str, message: str) -> None:
    with pytest.raises(BiotuneError) as error:
        parse_spec(text)
    assert f"dictionary spec {text!r}" in str(error.value) and message in str(error.value)


@pytest.mark.skipif(not SHARED_GENES.is_file(), reason="shared gene symbol dictionary not present")
def test_shared_gene_symbols_load_with_category_filter() -> None:
    dictionary = load_dictionary(DictionarySpec(path=SHARED_GENES, category=("protein_coding",), case_sensitive=True))
    symbols = {term.text for term in dictionary.terms}
    assert 19000 < len(symbols) < 20517 and {"BRCA1", "TP53", "A1BG"} <= symbols
    assert not symbols & GENE_STOP_WORDS and "T" not in symbols
