"""Sub-commands of the ``emopillars`` CLI (one module each)."""
