"""biotune: fine-tune transformer encoders on biomedical text-mining tasks.

The library API mirrors the CLI one to one; see README.md.
"""

__version__ = "0.1.0"
