"""Parsing: PDF pages into blocks in reading order (headings, paragraphs, tables, code), running headers removed."""
