"""The trailing quote block of a free-text (Markdown) answer.

A teacher model answering in free text cannot fill a ``citations`` JSON field, so the
``answers_text`` prompt asks it to end with a line ``QUOTES:`` followed by ``> quote`` lines.
:func:`split_quote_block` cuts that block off; the quotes are then verified against the chunk
(``sftforge.grounding.citations.verify_citations``) like JSON citations. We ask for quotes rather
than locating answer sentences in the chunk because a good teacher answer paraphrases: its
sentences are rarely verbatim in the source, while a requested quote is.
"""

from __future__ import annotations

import re

# The marker line (optionally bold or as a heading, as models like to decorate it), then only
# quote lines or blank lines up to the end of the reply.
_BLOCK = re.compile(r"\n[ \t]*(?:#+[ \t]*)?\**QUOTES\**[ \t]*[:：]\**[ \t]*\n((?:[ \t]*(?:>.*)?\n?)*)\s*\Z")


def split_quote_block(text: str) -> tuple[str, list[str]]:
    """``(answer, quotes)``: ``text`` without its trailing ``QUOTES:`` block, and the quotes
    (surrounding quote marks removed). A reply without the block comes back unchanged."""
    match = _BLOCK.search("\n" + text)
    if not match:
        return text.strip(), []
    answer = ("\n" + text)[:match.start()].strip()
    quotes = []
    for line in match.group(1).splitlines():
        quote = line.strip().lstrip(">").strip().strip("\"'“”「」")
        if quote:
            quotes.append(quote)
    return answer, quotes
