"""The ``quanta`` command: parsing, printing and exit codes only (no quantization logic)."""
