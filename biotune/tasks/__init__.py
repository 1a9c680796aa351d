"""What varies per task (examples, label space, featurisation, heads, metrics): one sub-package per task, `re/` first."""
