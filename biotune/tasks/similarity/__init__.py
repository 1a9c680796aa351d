"""Sentence similarity (`task: similarity`): a score for a pair of sentences, learnt by regression (BIOSSES)."""
