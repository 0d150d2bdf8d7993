"""Chunk selection rules: which chunks are front/back matter and how much substance a chunk has.

``headings`` maps section titles (English and Chinese) to a chunk kind; ``signals`` reads the
text itself (dot leaders, citation lines, index lines, licence and thanks wording, URL/number/
name shares). The stage that applies them is ``tasks/select_chunks.py``.
"""

from typing import Literal

Kind = Literal["body", "front_matter", "toc", "licence", "acknowledgements", "references",
               "index", "author_notes", "boilerplate"]
