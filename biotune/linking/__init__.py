"""Entity linking: mention text -> concept id, in layers a user can see and choose.

- `terms`: the shared text and id conventions (`normalise`, `canonical_id`, `pseudo_id`);
- `vocabulary`: ``term<TAB>id`` vocabularies (MEDIC, CTD, MeSH, a user's own, a corpus's
  training mentions) with content fingerprints;
- `abbreviations`: Schwartz & Hearst short form / long form pairs of a document;
- `lexicon` + `fuzzy`: exact, normalised and character n-gram TF-IDF look-up per entity type;
- `dense` + `contrastive`: a SapBERT-style encoder, its memory-mapped index of every name, and
  its training;
- `linker`: `Linker`, the layers composed, for mentions (`link`) and documents (`link_documents`),
  built once and saved as a folder that `Linker.load` opens in well under a second;
- `evaluation`: accuracy@k on gold mentions (BioSyn's rule for composite ids);
- `dictionary`: the first linker (`DictionaryLinker`: untyped exact and normalised look-up of
  training mentions and one ``term<TAB>id`` file), kept for scripts written against it.

The tag job and the service link through `Linker` (`biotune.serving.linking_stage`): ``--link``
takes a linker folder, or a ``term<TAB>id`` file that becomes a `Linker` giving every predicted
type the same names, looked up exactly then normalised.
"""

from biotune.linking.abbreviations import Abbreviation, abbreviation_map, find_abbreviations
from biotune.linking.dictionary import (EXACT, NORMALISED, UNLINKED, DictionaryLinker, LinkCounts, LinkingAccuracy,
                                        linking_accuracy, read_dictionary)
from biotune.linking.links import STAGES, Candidate, Link, StageCounts
from biotune.linking.linker import LinkedDocument, Linker
from biotune.linking.terms import NO_ID, PSEUDO_PREFIX, canonical_id, gold_ids, normalise, pseudo_id, usable_id
from biotune.linking.vocabulary import (Vocabulary, make_vocabulary, mention_vocabularies, mention_vocabulary,
                                        read_vocabulary)

__all__ = [
    "Abbreviation", "abbreviation_map", "find_abbreviations",
    "EXACT", "NORMALISED", "UNLINKED", "DictionaryLinker", "LinkCounts", "LinkingAccuracy", "linking_accuracy",
    "read_dictionary",
    "STAGES", "Candidate", "Link", "StageCounts", "LinkedDocument", "Linker",
    "NO_ID", "PSEUDO_PREFIX", "canonical_id", "gold_ids", "normalise", "pseudo_id", "usable_id",
    "Vocabulary", "make_vocabulary", "mention_vocabularies", "mention_vocabulary", "read_vocabulary",
]
