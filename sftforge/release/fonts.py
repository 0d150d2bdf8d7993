"""A CJK fallback font for the card's plots, so Chinese labels are not drawn as boxes.

Matplotlib ships no CJK glyphs and servers often have no CJK system font; pymupdf bundles Droid
Sans Fallback (its ``china-s`` font), which is written once to the temp folder and registered as
a fallback after matplotlib's default font.
"""

from __future__ import annotations

import tempfile
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=1)
def use_cjk_fallback() -> str:
    """Register the fallback font with matplotlib; returns its family name ("" if unavailable)."""
    import matplotlib.font_manager as fm
    import matplotlib.pyplot as plt
    import pymupdf

    path = Path(tempfile.gettempdir()) / "sftforge-droid-sans-fallback.ttf"
    try:
        if not path.exists():
            path.write_bytes(pymupdf.Font("china-s").buffer)
        fm.fontManager.addfont(str(path))
        name = fm.FontProperties(fname=str(path)).get_name()
    except (OSError, RuntimeError):  # plots still render, with boxes for CJK
        return ""
    plt.rcParams["font.family"] = [*plt.rcParams["font.family"], name]
    return name
