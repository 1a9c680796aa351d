"""Texts every reader, aligner and tagger must survive (see DESIGN.md, Tests).

Each entry is a whole text; tests typically tokenise it, write it into a file, or tag it,
and check that nothing crashes and that character offsets stay exact.
"""

AWKWARD_TEXTS: list[str] = [
    "",
    "   ",
    "\t\t",
    "\n",
    "Aspirin\u200binduced zero\u200bwidth space",
    "\u200b",
    "zero\u200dwidth joiner and non\u200cjoiner",
    "word\u2060joiner and \ufeffBOM inside",
    "Emoji \U0001F48A pill and \U0001F469\u200D\U0001F52C scientist and \U0001F44D\U0001F3FD and \U0001F1EC\U0001F1E7",
    "dose \u223C 5 mg/kg",
    "IL-2" + "a" * 300 + " long word",
    "x" * 300,
    "tab\tseparated\twords",
    "non\u00a0breaking\u00a0space and narrow\u202fno-break",
    "caf\u00e9 vs cafe\u0301 (combining acute) and a\u0308\u0301 stacked",
    "\u0301leading combining mark",
    "\u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627 RTL text with \u202eoverride\u202c",
    "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8 \u4e2d\u6587 CJK",
    "line\u2028separator and paragraph\u2029separator",
    "control\x00char and \x07bell",
    "Parkinson's disease (PD) at 2.5 mg/kg.",
]
