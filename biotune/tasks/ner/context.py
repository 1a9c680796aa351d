"""Document context: a sentence's model input also holds the text of its neighbours in the document.

Why: in an abstract the sentence before often explains a mention (an abbreviation defined
earlier, a drug named in full once), so a model that reads the neighbouring sentences
recognises more (FLERT, Schweter and Akbik 2020; Luoma and Pyysalo 2020). The neighbours are
read, never tagged: their words carry no label (-100) and get no prediction of their own.

The rule, one function (`model_inputs`) that training features (`features.encode`) and the
tagger (`Tagger.word_log_probs`) both call, so a sentence gets the same input in training,
dev evaluation, `biotune predict` and `biotune tag`:

- `documents[i]` names sentence i's document (`document_keys`). The neighbours of sentence i
  are the sentences next to it in the list with the same document: context never crosses a
  document change, and a sentence whose document is None gets none.
- A sentence is windowed exactly as without context (`align.plan_windows`: long sentences are
  cut into windows, never truncated). Context fills only the room a window leaves under
  `max_length`: a window holding the sentence's first word gets up to `context` subwords of the
  words before the sentence, one holding its last word up to `context` subwords of the words
  after it. Whole words only, nearest first, so the far ends are what is trimmed; when both
  sides want more than the room, each gets at least half of it.
- `context=0` gives the plain windows of `Aligner.windows`.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Sequence

from biotune.errors import BiotuneError
from biotune.formats.sentence import Sentence
from biotune.tasks.ner.align import Aligner, Window, plan_windows, word_pieces

CHUNK = 1024  # sentences tokenised per call; chunks end only at a document change


def document_keys(sentences: Sequence[Sentence]) -> list[Hashable | None]:
    """What `model_inputs` compares to find neighbours: (source file, document), or None for no document.

    The source is part of the key, so two files whose documents share an id (two `train.tsv`
    files with a `-DOCSTART-` on the same line) never lend each other context.
    """
    return [None if s.document is None else (s.source, s.document) for s in sentences]


def check_context(context: int) -> int:
    if isinstance(context, bool) or not isinstance(context, int) or context < 0:
        raise BiotuneError(f"document context must be a whole number of subwords >= 0, got {context!r}")
    return context


def model_inputs(token_lists: Sequence[Sequence[str]], documents: Sequence[Hashable | None] | None,
                 aligner: Aligner, context: int = 0) -> list[Window]:
    """The windows of every sentence, each with its document context (see the module docstring).

    `documents` is None or one entry per sentence. Window `sentence_index` is the sentence's
    index in `token_lists`; `positions` point at the owned words' first subwords.
    """
    check_context(context)
    keys: Sequence[Hashable | None] = documents if documents is not None else [None] * len(token_lists)
    if len(keys) != len(token_lists):
        raise BiotuneError(f"{len(token_lists)} sentences but {len(keys)} document entries")
    out: list[Window] = []
    for start, end in _chunks(keys, CHUNK):
        pieces = word_pieces(aligner.tokenizer, token_lists[start:end])
        for offset, sentence in enumerate(pieces):
            if not sentence:
                continue
            index = start + offset
            for plan in plan_windows(aligner.lengths(sentence), aligner.budget):
                left: list[int] = []
                right: list[int] = []
                if context and keys[index] is not None:
                    left, right = _context(pieces, keys[start:end], offset, plan, aligner, context)
                out.append(aligner.window(index, sentence, plan, left, right))
    return out


def _context(pieces: Sequence[Sequence[Sequence[int]]], keys: Sequence[Hashable | None], i: int,
             plan: tuple[int, int, int, int], aligner: Aligner, context: int) -> tuple[list[int], list[int]]:
    """Left and right context subwords for one window of sentence `i` of a chunk."""
    start, end = plan[0], plan[1]
    room = aligner.budget - sum(aligner.lengths(pieces[i][start:end]))
    before = _neighbour_words(pieces, keys, i, -1) if start == 0 else iter(())
    after = _neighbour_words(pieces, keys, i, +1) if end == len(pieces[i]) else iter(())
    before_words, after_words = list(_take(before, min(context, room))), list(_take(after, min(context, room)))
    wanted_after = sum(map(len, after_words))
    left = list(_take(iter(before_words), max(room // 2, room - wanted_after)))
    right = list(_take(iter(after_words), room - sum(map(len, left))))
    return [p for word in reversed(left) for p in word], [p for word in right for p in word]


def _neighbour_words(pieces: Sequence[Sequence[Sequence[int]]], keys: Sequence[Hashable | None], i: int,
                     step: int) -> Iterator[Sequence[int]]:
    """The words of the same document's sentences before (`step=-1`) or after (`+1`) sentence `i`, nearest first."""
    j = i + step
    while 0 <= j < len(pieces) and keys[j] == keys[i]:
        yield from (reversed(pieces[j]) if step < 0 else pieces[j])
        j += step


def _take(words: Iterator[Sequence[int]], cap: int) -> Iterator[Sequence[int]]:
    """Words from the front of `words` while their subwords total at most `cap` (stops at the first that does not fit)."""
    used = 0
    for word in words:
        used += len(word)
        if used > cap:
            return
        yield word


def _chunks(keys: Sequence[Hashable | None], size: int) -> Iterator[tuple[int, int]]:
    """`[start, end)` ranges of about `size` sentences that never cut a document."""
    start = 0
    for i in range(1, len(keys) + 1):
        if i == len(keys) or (i - start >= size and (keys[i] is None or keys[i] != keys[i - 1])):
            yield start, i
            start = i
