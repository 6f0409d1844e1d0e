# ruff: noqa: E501  (SVG markup reads best one element a line)
"""``ekklesia learn report``: one self-contained HTML page (inline SVG, no scripts, no files
beside it) of what a learner did — its cumulative regret, each strategy's estimate with its 95%
interval after every run, and accuracy (or score) against cost with the Pareto front."""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from pathlib import Path

from ekklesia.learn.learner import PatternLearner

__all__ = ["pareto_front", "render_report", "write_report"]

W, H, PAD = 640, 300, 48
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf")


def _scale(
    values: Sequence[float], lo_px: float, hi_px: float
) -> tuple[float, float, Callable[[float], float]]:
    lo, hi = min(values), max(values)
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5

    def to_px(v: float) -> float:
        return lo_px + (v - lo) / (hi - lo) * (hi_px - lo_px)

    return lo, hi, to_px


def _frame(
    title: str,
    x_label: str,
    y_label: str,
    body: str,
    xs: tuple[float, float],
    ys: tuple[float, float],
) -> str:
    ticks = (
        f'<text x="{PAD}" y="{H - PAD + 16}" font-size="11">{xs[0]:.4g}</text>'
        f'<text x="{W - PAD}" y="{H - PAD + 16}" font-size="11" text-anchor="end">{xs[1]:.4g}</text>'
        f'<text x="{PAD - 4}" y="{H - PAD}" font-size="11" text-anchor="end">{ys[0]:.4g}</text>'
        f'<text x="{PAD - 4}" y="{PAD + 4}" font-size="11" text-anchor="end">{ys[1]:.4g}</text>'
    )
    return (
        f'<figure><figcaption>{html.escape(title)}</figcaption>'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" role="img">'
        f'<rect x="{PAD}" y="{PAD}" width="{W - 2 * PAD}" height="{H - 2 * PAD}" fill="none" stroke="#999"/>'
        f"{ticks}"
        f'<text x="{W / 2}" y="{H - 8}" font-size="12" text-anchor="middle">{html.escape(x_label)}</text>'
        f'<text x="12" y="{H / 2}" font-size="12" transform="rotate(-90 12 {H / 2})" text-anchor="middle">{html.escape(y_label)}</text>'
        f"{body}</svg></figure>"
    )  # fmt: skip


def _regret(learner: PatternLearner) -> str:
    regret = [0.0, *learner.cumulative_regret()]
    xs = list(range(len(regret)))
    x0, x1, fx = _scale([float(x) for x in xs], PAD, W - PAD)
    y0, y1, fy = _scale(regret, H - PAD, PAD)
    points = " ".join(f"{fx(x):.1f},{fy(y):.1f}" for x, y in zip(xs, regret, strict=True))
    body = f'<polyline points="{points}" fill="none" stroke="{COLOURS[0]}" stroke-width="2"/>'
    return _frame(
        "cumulative regret against the best estimate", "run", "regret", body, (x0, x1), (y0, y1)
    )


def _estimates(learner: PatternLearner) -> str:
    runs = learner.runs
    series: dict[str, list[tuple[int, float, float, float]]] = {
        n: [] for n in learner.strategies.names
    }
    for t in range(1, runs + 1):
        for name, posterior in learner.posteriors(t).items():
            interval = posterior.interval()
            if posterior.mean is not None and interval is not None:
                series[name].append((t, posterior.mean, *interval))
    values = [v for points in series.values() for p in points for v in p[1:]] or [0.0, 1.0]
    x0, x1, fx = _scale([1.0, float(max(runs, 2))], PAD, W - PAD)
    y0, y1, fy = _scale(values, H - PAD, PAD)
    body = ""
    for i, (name, points) in enumerate(series.items()):
        colour = COLOURS[i % len(COLOURS)]
        if not points:
            continue
        upper = [f"{fx(t):.1f},{fy(hi):.1f}" for t, _, _, hi in points]
        lower = [f"{fx(t):.1f},{fy(lo):.1f}" for t, _, lo, _ in reversed(points)]
        line = " ".join(f"{fx(t):.1f},{fy(m):.1f}" for t, m, _, _ in points)
        body += (
            f'<polygon points="{" ".join(upper + lower)}" fill="{colour}" fill-opacity="0.15"/>'
            f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="2"/>'
            f'<text x="{W - PAD + 4}" y="{PAD + 14 * (i + 1)}" font-size="11" fill="{colour}">{html.escape(name)}</text>'
        )  # fmt: skip
    title = (
        f"each strategy's mean objective ({learner.strategies.objective.expression}), 95% interval"
    )
    return _frame(title, "run", "objective", body, (x0, x1), (y0, y1))


def pareto_front(points: dict[str, tuple[float, float]]) -> list[str]:
    """The strategies no other beats on both (higher accuracy, lower cost), cheapest first."""
    front = [
        name
        for name, (acc, usd) in points.items()
        if not any(
            (a >= acc and u <= usd) and (a > acc or u < usd)
            for other, (a, u) in points.items()
            if other != name
        )
    ]
    return sorted(front, key=lambda n: points[n][1])


def _pareto(learner: PatternLearner) -> tuple[str, list[str]]:
    measure = "score" if learner.suite.startswith("humaneval") else "accuracy"
    points: dict[str, tuple[float, float]] = {}
    for name in learner.strategies.names:
        records = [log.record for log in learner.state.log if log.strategy == name]
        if records:
            figures = [r.figures() for r in records]
            points[name] = (
                sum(f[measure] for f in figures) / len(figures),
                sum(f["usd"] for f in figures) / len(figures),
            )
    front = pareto_front(points)
    if not points:
        return _frame("accuracy against cost", "USD per run", measure, "", (0, 1), (0, 1)), front
    x0, x1, fx = _scale([p[1] for p in points.values()], PAD + 20, W - PAD - 20)
    y0, y1, fy = _scale([p[0] for p in points.values()], H - PAD - 20, PAD + 20)
    line = " ".join(f"{fx(points[n][1]):.1f},{fy(points[n][0]):.1f}" for n in front)
    body = f'<polyline points="{line}" fill="none" stroke="#555" stroke-dasharray="4 3"/>'
    for i, (name, (acc, usd)) in enumerate(points.items()):
        colour = COLOURS[i % len(COLOURS)]
        x, y = fx(usd), fy(acc)
        body += (
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{colour}"/>'
            f'<text x="{x + 8:.1f}" y="{y - 6:.1f}" font-size="11">{html.escape(name)}</text>'
        )
    return _frame(f"{measure} against cost (dashed: the Pareto front)", "USD per run", measure, body, (x0, x1), (y0, y1)), front  # fmt: skip


def render_report(learner: PatternLearner) -> str:
    """The report as one HTML document."""
    pareto, front = _pareto(learner)
    rows = ""
    for name, e in learner.estimates().items():
        mean = "—" if e["mean"] is None else f"{e['mean']:.4f}"
        ci = "—" if e["ci"] is None else f"[{e['ci'][0]:.4f}, {e['ci'][1]:.4f}]"
        rows += (
            f"<tr><td>{html.escape(name)}</td><td>{e['runs']}</td><td>{mean}</td><td>{ci}</td></tr>"
        )
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>ekklesia learner {html.escape(learner.name)}</title>"
        "<style>body{font-family:sans-serif;max-width:720px;margin:2em auto}"
        "td,th{padding:2px 10px;text-align:left}figcaption{font-weight:bold}</style></head><body>"
        f"<h1>Learner {html.escape(learner.name)}</h1>"
        f"<p>{learner.runs} runs on {html.escape(learner.suite)}, seed {learner.seed}; objective "
        f"<code>{html.escape(learner.strategies.objective.expression)}</code>; best "
        f"<b>{html.escape(learner.best())}</b>; Pareto front: {html.escape(', '.join(front) or '—')}.</p>"
        "<table><tr><th>strategy</th><th>runs</th><th>mean</th><th>95% interval</th></tr>"
        f"{rows}</table>{_regret(learner)}{_estimates(learner)}{pareto}</body></html>"
    )  # fmt: skip


def write_report(learner: PatternLearner, path: Path | None = None) -> Path:
    """Write the report (default: beside the learner's state, ``report.html``)."""
    path = path or learner.path.with_name("report.html")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(learner), encoding="utf-8")
    return path
