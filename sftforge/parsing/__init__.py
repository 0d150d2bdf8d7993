"""Parsing: PDF pages into blocks in reading order (headings, paragraphs, tables, footnotes), running headers and hidden text removed; EPUB books through the same page reader."""
