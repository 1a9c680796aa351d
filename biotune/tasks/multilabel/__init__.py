"""Multi-label text classification (HoC's hallmarks of cancer): any number of labels per text."""
