"""Sentence similarity (`task: similarity`): a score for a pair of sentences, learnt by regression (BIOSSES)."""

TASK = "similarity"  # the task's registered name (`biotune.tasks.TASKS`), recorded in its folders' config.json
