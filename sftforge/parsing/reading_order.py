"""Reading order of boxes on a page by recursive XY-cut (columns are read one after the other).

Input: text-region and table boxes ``(x0, y0, x1, y1)`` of one page; output: their indices in
reading order. Used by ``sftforge.parsing.pdf_page.read_page``.
"""

from __future__ import annotations


def reading_order(boxes: list[tuple[float, float, float, float]]) -> list[int]:
    """Indices of ``boxes`` in reading order by recursive XY-cut: split into columns at a
    vertical gap through the whole region, else into rows at horizontal gaps; adjacent rows
    that share a column gutter are read together, so a two-column body under a full-width
    title is read column by column even where both columns happen to have a gap."""
    lo = ([b[0] for b in boxes], [b[1] for b in boxes])  # per axis, for C-level sort keys
    hi = ([b[2] for b in boxes], [b[3] for b in boxes])

    def split(idx: list[int], axis: int, gap: float) -> list[list[int]]:
        return _split(idx, lo[axis], hi[axis], gap)

    def cut(idx: list[int]) -> list[int]:
        if len(idx) <= 1:
            return idx
        cols = split(idx, 0, 4.0)
        if len(cols) > 1:
            return [i for col in cols for i in cut(col)]
        rows = split(idx, 1, 0.5)
        if len(rows) == 1:
            return sorted(idx, key=lambda i: (boxes[i][1], boxes[i][0]))
        merged = [rows[0]]
        for row in rows[1:]:
            if len(split(merged[-1] + row, 0, 4.0)) > 1:
                merged[-1] = merged[-1] + row
            else:
                merged.append(row)
        groups = merged if len(merged) > 1 else rows
        return [i for group in groups for i in cut(group)]

    return cut(list(range(len(boxes))))


def _split(idx: list[int], starts: list[float], ends: list[float],
           gap: float) -> list[list[int]]:
    """``idx`` cut into runs along one axis wherever a gap wider than ``gap`` separates them."""
    parts: list[list[int]] = []
    end = float("-inf")
    for i in sorted(idx, key=starts.__getitem__):
        if starts[i] > end + gap:
            parts.append([])
        parts[-1].append(i)
        if ends[i] > end:
            end = ends[i]
    return parts
