"""Parsers of the inbound files, one module per source system (FORMATS.md)."""
