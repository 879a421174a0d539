"""The benchmark behind ``flexpower bench`` and its plain-pandas baseline."""
