"""The report's index.html: one static page, no scripts, every link relative to the page.

Sections: the runs (seed, env steps, training time, last episode return), the learning curves
(an SVG beside the page), the evaluation table (mean and std across seeds, then per seed) and
the videos (`<video>` with the GIF preview under it). Every value is escaped.
"""

from __future__ import annotations

import dataclasses
import html
import math
from collections.abc import Sequence
from urllib.parse import quote

import numpy as np

from skeleton_steering.report.run_data import (
    EVAL_LABELS,
    EvalTable,
    Reference,
    Run,
    smoke_threshold,
)

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #f0f0f0; }
.videos { display: flex; flex-wrap: wrap; gap: 1.5em; }
figure { margin: 0; }
video, .preview { max-width: 32em; display: block; }
.preview { margin-top: 0.5em; }
.note { color: #666; font-size: 0.9em; }
.reference { background: #eef6ee; }
.smoke { color: #a05a00; font-weight: bold; }
"""


@dataclasses.dataclass(frozen=True)
class VideoEntry:
    label: str
    video: str | None  # path relative to index.html
    preview: str | None


def _href(path: str) -> str:
    """A relative path as an attribute value: percent-encoded (`run#1` is not a fragment),
    then escaped."""
    return html.escape(quote(path, safe="/"), quote=True)


def _num(value: float, digits: int = 4) -> str:
    if not math.isfinite(value):
        return "n/a"
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
        return f"{value:.{digits - 1}e}"
    return f"{value:.{digits}g}"


def _runs_table(runs: Sequence[Run], reference: Reference | None) -> str:
    rows = []
    if reference is not None:
        rows.append(
            f'<tr class="reference"><td>{html.escape(reference.label)}</td><td></td>'
            f"<td>{_num(reference.env_steps, 6)}</td><td></td><td></td>"
            "<td>reference: the trained policy in policies/</td></tr>"
        )
    smoke_below = smoke_threshold(reference)
    for run in runs:
        final_steps = float(run.steps[-1])
        status = (
            f'<span class="smoke">smoke run</span>: {final_steps:,.0f} env steps, under '
            f"{smoke_below:,.0f}; a check of the chain, not a trained walker"
            if final_steps < smoke_below else ""
        )
        ret = run.columns.get("episode_return")
        last = math.nan
        if ret is not None:
            finite = ret[np.isfinite(ret)]
            last = float(finite[-1]) if finite.size else math.nan
        rows.append(
            f"<tr><td>{html.escape(run.label)}</td><td>{len(run.steps)}</td>"
            f"<td>{int(run.steps[-1]):,}</td><td>{_num(run.wall_s)}</td>"
            f"<td>{_num(last)}</td><td>{status}</td></tr>"
        )
    head = (
        "<tr><th>run</th><th>iterations</th><th>env steps</th><th>training s</th>"
        "<th>last episode return</th><th>status</th></tr>"
    )
    return f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


def _eval_table(table: EvalTable, reference: Reference | None) -> str:
    head = "".join(f"<th>{html.escape(label)}</th>" for label in table.labels)
    ref_head = "" if reference is None else (
        f'<th class="reference">{html.escape(reference.label)}</th>')
    rows = []
    for m in table.metrics:
        label = EVAL_LABELS.get(m, m)
        cells = "".join(f"<td>{_num(table.values[m][lb])}</td>" for lb in table.labels)
        ref = "" if reference is None else (
            f'<td class="reference">{_num(reference.metrics.get(m, math.nan))}</td>')
        rows.append(
            f'<tr><td title="{html.escape(m)}">{html.escape(label)}</td>{ref}'
            f"<td>{_num(table.mean(m))}</td><td>{_num(table.std(m))}</td>{cells}</tr>"
        )
    return (
        f"<table><thead><tr><th>metric</th>{ref_head}<th>mean</th><th>std</th>{head}</tr>"
        f"</thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _videos(videos: Sequence[VideoEntry]) -> str:
    items = []
    for v in videos:
        parts = [f"<figcaption>{html.escape(v.label)}</figcaption>"]
        if v.video:
            src = _href(v.video)
            parts.append(
                f'<video controls preload="metadata" src="{src}">'
                f'<a href="{src}">{html.escape(v.video)}</a></video>'
            )
        if v.preview:
            src = _href(v.preview)
            alt = f"preview of {html.escape(v.label)}"
            parts.append(f'<img class="preview" src="{src}" alt="{alt}">')
        items.append(f"<figure>{''.join(parts)}</figure>")
    return f'<div class="videos">{"".join(items)}</div>'


def index_html(
    title: str,
    runs: Sequence[Run],
    curves_svg: str | None,
    table: EvalTable | None,
    videos: Sequence[VideoEntry],
    files: Sequence[str],
    reference: Reference | None = None,
    gait_plots: Sequence[tuple[str, str]] = (),
) -> str:
    """The page; `curves_svg` and `files` are paths relative to it. `reference` (the shipped
    walker) goes first in the runs, the evaluation and the videos, for comparison.
    `gait_plots`: (label, path relative to the page) of each evaluation's gait-cycle plot."""
    sections = [f"<h1>{html.escape(title)}</h1>", "<h2>Runs</h2>", _runs_table(runs, reference)]
    if reference is not None and (reference.video or reference.preview):
        videos = [VideoEntry(f"{reference.label} (reference)", reference.video,
                             reference.preview), *videos]
    if curves_svg:
        sections += [
            "<h2>Learning curves</h2>",
            '<p class="note">Thin lines: one per seed. Bold: mean across seeds; shaded: mean '
            "± one standard deviation (where at least two seeds have a value).</p>",
            f'<img src="{_href(curves_svg)}" alt="learning curves" '
            'style="max-width:100%">',
        ]
    if table is not None:
        sections += [
            "<h2>Evaluation</h2>",
            '<p class="note">' + ("The reference policy first; then the " if reference
                                  else "") +
            "mean and sample standard deviation across seeds, then each "
            "seed. Hover a metric for its key in the eval JSON.</p>",
            _eval_table(table, reference),
        ]
    if gait_plots:
        sections += [
            "<h2>Gait cycle</h2>",
            '<p class="note">Hip, knee and ankle over a normalized gait cycle (touchdown to '
            "touchdown) in steady straight walking: the policy's mean ± sd over the demos' at "
            "the policy's speed.</p>",
            *(f"<figure><figcaption>{html.escape(label)}</figcaption>"
              f'<img src="{_href(path)}" alt="gait cycle of {html.escape(label)}" '
              'style="max-width:100%"></figure>' for label, path in gait_plots),
        ]
    if videos:
        sections += ["<h2>Videos</h2>", _videos(videos)]
    if files:
        links = "".join(
            f'<li><a href="{_href(f)}">{html.escape(f)}</a></li>' for f in files
        )
        sections += ["<h2>Files</h2>", f"<ul>{links}</ul>"]
    body = "\n".join(sections)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )
