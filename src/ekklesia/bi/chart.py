"""A chart of a result that is a series: a label (or a number, a date) and a number on each row.

:func:`is_series` says whether rows are one (two rows or more, two columns or more, the last
column numeric on every row); :func:`render_chart` draws them with matplotlib's Agg backend (no
display needed) as a PNG — a line when the first column is ordered numbers or dates (months,
hours, days), bars otherwise.
"""

from __future__ import annotations

from pathlib import Path

from ekklesia.tools.sql import JsonScalar, SqlResult

__all__ = ["is_series", "render_chart"]


def _numeric(value: JsonScalar) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_series(result: SqlResult) -> bool:
    return (
        len(result.rows) >= 2
        and len(result.columns) >= 2
        and all(_numeric(row[-1]) for row in result.rows)
    )


def _ordered_axis(labels: list[JsonScalar]) -> bool:
    if all(_numeric(v) for v in labels):
        numbers = [float(v) for v in labels]  # type: ignore[arg-type]
        return numbers == sorted(numbers)
    texts = [str(v) for v in labels]
    looks_dated = all(len(t) >= 10 and t[4] == "-" and t[7] == "-" for t in texts)
    return looks_dated and texts == sorted(texts)


def render_chart(result: SqlResult, path: Path, *, title: str = "") -> Path:
    """Draw ``result`` (a series) into the PNG at ``path``; returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    labels = [row[0] for row in result.rows]
    values = [float(row[-1]) for row in result.rows]  # type: ignore[arg-type]
    figure, axes = plt.subplots(figsize=(8, 4.5), dpi=100)
    try:
        if _ordered_axis(labels):
            axes.plot([str(v) for v in labels], values, marker="o")
        else:
            axes.bar([str(v) for v in labels], values)
        axes.set_xlabel(result.columns[0])
        axes.set_ylabel(result.columns[-1])
        if title:
            axes.set_title(title if len(title) <= 80 else title[:77] + "...", fontsize=10)
        if len(labels) > 8:
            axes.tick_params(axis="x", labelrotation=60, labelsize=8)
        figure.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, format="png")
    finally:
        plt.close(figure)
    return path
