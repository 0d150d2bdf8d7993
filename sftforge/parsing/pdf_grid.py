"""Cells of ruled grids, read from a page's horizontal and vertical rules.

``grid_tables(region, hs, vs, words)`` cuts the region into atoms at every rule position,
keeps the walls that rules draw between atoms, and merges atoms no wall separates: a
rectangle of atoms is a cell (a merged cell when it spans several), anything else (the
open space of a panel around a nested table, or outside the frame) is background. Cells
that share walls form one table. Regular lattices, merged cells and tables nested in slide
panels all come out of the same pass, in about a millisecond, with words (from the
text pass) in the cell that holds their centre.
Output: per table, its rows of cells as lists of words, and its box.
"""

from __future__ import annotations

import bisect
from collections import defaultdict

Box = tuple[float, float, float, float]
Cell = tuple[int, int, int, int]  # first row, first column, last row, last column (atoms)


def grid_tables(region: Box, hs: list[Box], vs: list[Box],
                words: list[tuple]) -> list[tuple[list[list[list[tuple]]], Box]]:
    """Tables of 2+ cells in ``region``: (rows of cells of words, box) for each."""
    def within(r: Box) -> bool:
        return region[0] <= r[0] and r[2] <= region[2] and region[1] <= r[1] and r[3] <= region[3]

    hs, vs = [h for h in hs if within(h)], [v for v in vs if within(v)]
    ys, xs = _positions([h[1] for h in hs]), _positions([v[0] for v in vs])
    if len(ys) < 2 or len(xs) < 3:
        return []
    vwall = _walls(vs, xs, ys, 0)  # vwall[c][r]: a rule on x line c beside atom row r
    hwall = _walls(hs, ys, xs, 1)  # hwall[r][c]: a rule on y line r above atom column c
    cell_of = _cells(vwall, hwall, len(ys) - 1, len(xs) - 1)
    out = []
    for cells in _tables(cell_of, vwall, hwall, len(xs) - 1):
        rows, slot, tx, ty = _layout(cells, xs, ys)
        for w in words:
            cx, cy = (w[0] + w[2]) / 2, (w[1] + w[3]) / 2
            if not (tx[0] < cx < tx[-1] and ty[0] < cy < ty[-1]):
                continue
            cell = cell_of.get((bisect.bisect(ys, cy) - 1, bisect.bisect(xs, cx) - 1))
            if cell in slot:
                r, c = slot[cell]
            elif cell is None:  # open space inside the frame (a label on a shape): keep it
                r, c = bisect.bisect(ty, cy) - 1, bisect.bisect(tx, cx) - 1
            else:  # a cell of another table
                continue
            rows[r][c].append(w)
        out.append((rows, (tx[0], ty[0], tx[-1], ty[-1])))
    return out


def _positions(values: list[float]) -> list[float]:
    """Distinct rule positions: values rounded to 0.1 pt, a run with gaps of 2 pt or less
    counted once (at its first value)."""
    vals = sorted({round(v, 1) for v in values})
    return [v for i, v in enumerate(vals) if i == 0 or v - vals[i - 1] > 2]


def _walls(rules: list[Box], lines: list[float], across: list[float],
           axis: int) -> list[list[bool]]:
    """For each grid line (x lines for vertical rules, ``axis`` 0; y lines for horizontal
    ones, ``axis`` 1) and each atom interval along it: is it drawn? Collinear segments with
    gaps up to 2 pt count as one rule; 3 pt of slack at each end of an interval."""
    segs: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for r in rules:
        line = bisect.bisect(lines, round(r[axis], 1)) - 1
        segs[max(line, 0)].append((r[1 - axis], r[3 - axis]))
    walls = []
    for i in range(len(lines)):
        row = [False] * (len(across) - 1)
        for a, b in _merged(segs.get(i, [])):
            # only intervals within 3 pt of the segment can be covered by it
            for j in range(max(bisect.bisect_left(across, a - 3) - 1, 0),
                           min(bisect.bisect_right(across, b + 3), len(across) - 1)):
                lo, hi = across[j], across[j + 1]
                tol = min(3.0, (hi - lo) / 3)
                if a <= lo + tol and b >= hi - tol:
                    row[j] = True
        walls.append(row)
    return walls


def _merged(segs: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[list[float]] = []
    for a, b in sorted(segs):
        if out and a <= out[-1][1] + 2:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def _cells(vwall: list[list[bool]], hwall: list[list[bool]], nr: int,
           nc: int) -> dict[tuple[int, int], Cell]:
    """``(row, col) -> cell`` for atoms in a rectangular group of atoms no wall separates;
    groups open to the outside or of another shape are background and left out."""
    outside = nr * nc
    parent = list(range(outside + 1))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for r in range(nr):
        for c in range(nc + 1):
            if not vwall[c][r]:
                a = r * nc + c - 1 if c > 0 else outside
                parent[root(a)] = root(r * nc + c if c < nc else outside)
    for r in range(nr + 1):
        for c in range(nc):
            if not hwall[r][c]:
                a = (r - 1) * nc + c if r > 0 else outside
                parent[root(a)] = root(r * nc + c if r < nr else outside)
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(outside):
        groups[root(i)].append(i)
    cell_of: dict[tuple[int, int], Cell] = {}
    for rt, atoms in groups.items():
        rows, cols = [i // nc for i in atoms], [i % nc for i in atoms]
        cell = (min(rows), min(cols), max(rows), max(cols))
        if rt != root(outside) and len(atoms) == (cell[2] - cell[0] + 1) * (cell[3] - cell[1] + 1):
            cell_of.update(((i // nc, i % nc), cell) for i in atoms)
    return cell_of


def _tables(cell_of: dict[tuple[int, int], Cell], vwall: list[list[bool]],
            hwall: list[list[bool]], nc: int) -> list[list[Cell]]:
    """Cells grouped into tables (cells that share a wall), tables of one cell left out."""
    parent: dict[Cell, Cell] = {cell: cell for cell in cell_of.values()}

    def root(c: Cell) -> Cell:
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    for (r, c), cell in cell_of.items():
        for nb, wall in (((r, c + 1), c + 1 < nc and vwall[c + 1][r]),
                         ((r + 1, c), r + 1 < len(hwall) - 1 and hwall[r + 1][c])):
            other = cell_of.get(nb)
            if wall and other is not None and other != cell:
                parent[root(other)] = root(cell)
    groups: dict[Cell, list[Cell]] = defaultdict(list)
    for cell in parent:
        groups[root(cell)].append(cell)
    # A few boxes drawn inside a table's frame but touching none of its cells (a label on a
    # slide's header shape) belong to that table; a larger group there is a nested table.
    tables: list[list[Cell]] = []
    for group in sorted(groups.values(), key=len, reverse=True):
        frame = next((t for t in tables if _contains(t, group)), None)
        if frame is not None and len(group) <= 4:
            frame += group
        elif len(group) >= 2:
            tables.append(group)
    return sorted((sorted(t) for t in tables), key=lambda t: t[0])


def _contains(cells: list[Cell], group: list[Cell]) -> bool:
    """True when ``group`` lies within the atom span of ``cells``."""
    return (min(c[0] for c in cells) <= min(c[0] for c in group)
            and max(c[2] for c in group) <= max(c[2] for c in cells)
            and min(c[1] for c in cells) <= min(c[1] for c in group)
            and max(c[3] for c in group) <= max(c[3] for c in cells))


def _layout(cells: list[Cell], xs: list[float], ys: list[float]
            ) -> tuple[list[list[list]], dict[Cell, tuple[int, int]], list[float], list[float]]:
    """Empty rows x columns of a table, each cell's (row, column) slot, and the table's column
    and row edges (its own cell edges only: rules of other tables in the region add none)."""
    tx = sorted({xs[c[1]] for c in cells} | {xs[c[3] + 1] for c in cells})
    ty = sorted({ys[c[0]] for c in cells} | {ys[c[2] + 1] for c in cells})
    slot = {c: (ty.index(ys[c[0]]), tx.index(xs[c[1]])) for c in cells}
    rows: list[list[list]] = [[[] for _ in tx[1:]] for _ in ty[1:]]
    return rows, slot, tx, ty
