"""The default stop list: common English words that are also gene symbols.

Official gene symbols include ordinary words (`WAS`, `SET`, `MICE`, `IMPACT`), and a
dictionary of symbols would tag every "was" and "mice" in a corpus as a gene. A dictionary
term whose text equals one of these words, ignoring case, is dropped before matching, so the
gene itself is not found either: the price of precision. The list is small on purpose:
English words found among the ~56k human gene symbols, plus `HR` (the usual abbreviation of
"hour") and `AND` (a guard for dictionaries extended with aliases). Extend it per dictionary with
`stop_list` / `stop_words`, or switch it off with `default_stop_words=False`.
"""

from __future__ import annotations

GENE_STOP_WORDS: frozenset[str] = frozenset(
    """
    ACHE AND BAD BID CAMP CAPS CAST CAT CHAT CLOCK COIL COPE FRY GALE GEM GRASP HR IMPACT ITCH
    KIN KIT LARGE MALL MARS MAX MET MICE NODAL OAT PALM PIGS POLE POLL PRUNE RAN REST SAG SELL
    SET SHE SKI SON STAR STRAP TANK TRIO TUB VAULT WARS WAS
    """.split()
)
