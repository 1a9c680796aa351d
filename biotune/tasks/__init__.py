"""What varies per task (reading, labels, featurisation, heads, metrics), one sub-package per task.

`re/` holds relation extraction's building blocks; NER still lives in the older layout until
the task contract (issue 10) moves it to `ner/` and registers both tasks by name.
"""
