"""Statistics of dose records (接種記録統計) for the ministry's report: tables, small-cell suppression
(秘匿処理), CSV, and the coverage chart (接種率, an SVG). Pure Python: no Django, no queries.

The counts come from ``stats_selectors`` (one set-based SQL aggregate inside the door); this module
turns them into a table whose published cells cannot reveal a small count (decision 124):

- primary suppression (一次秘匿): every cell, row total, column total or grand total with
  ``0 < n < threshold`` is hidden;
- complementary suppression (二次秘匿): more cells are hidden until no hidden cell can be recomputed
  from the totals. A table with its margins is a set of line equations (each row and column sums to
  its total); a hidden cell is exactly determined iff, in the bipartite graph of hidden cells (lines as
  nodes, hidden cells as edges), its edge lies on no cycle (a bridge). Each bridge is closed with the
  cheapest rectangle of non-zero cells. Zero cells are never hidden, so every hidden value is >= 1 and
  can move by ±1 along its cycle without any cell going negative: not even the non-negativity of counts
  pins a hidden value down.

Zeros are published: "no dose" identifies no one, and hiding zeros would hide most of a sparse table.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

import numpy as np

SUPPRESSED = "*"  # 秘匿
DEFAULT_THRESHOLD = 10

# 年齢区分 by age in completed months at the dose (接種時の月齢): [lo, hi) in months.
AGE_GROUPS: tuple[tuple[str, int, int], ...] = (
    ("0歳", 0, 12),
    ("1歳", 12, 24),
    ("2歳", 24, 36),
    ("3-4歳", 36, 60),
    ("5-6歳", 60, 84),
    ("7-9歳", 84, 120),
    ("10-12歳", 120, 156),
    ("13-15歳", 156, 192),
    ("16-19歳", 192, 240),
    ("20-59歳", 240, 720),
    ("60-64歳", 720, 780),
    ("65-69歳", 780, 840),
    ("70歳以上", 840, 10_000),
)

# The dimensions a table can be cut by (集計軸) and their column headers.
DIMENSIONS: dict[str, str] = {
    "vaccine": "ワクチン",
    "dose": "接種回数",
    "age": "年齢区分",
    "category": "実施区分",
    "month": "接種月",
    "fy": "接種年度",
}
COLUMN_DIMENSIONS = ("month", "fy", "none")
DEFAULT_BY = ("vaccine", "dose", "age")


class StatsInputError(ValueError):
    """A bad option of a statistics request (集計条件の誤り)."""


def parse_by(text: str | Sequence[str] | None) -> tuple[str, ...]:
    """``"vaccine,dose,age"`` -> the row dimensions, checked; empty -> the default."""
    items = [t.strip().lower() for t in (text.split(",") if isinstance(text, str) else (text or ())) if t.strip()]
    if not items:
        return DEFAULT_BY
    bad = [t for t in items if t not in DIMENSIONS]
    if bad:
        raise StatsInputError(f"集計軸 {', '.join(b[:12] for b in bad)} は使えません（{', '.join(DIMENSIONS)}）。"
                              f" / unknown dimension.")
    if len(set(items)) != len(items):
        raise StatsInputError("集計軸が重複しています。 / a dimension is repeated.")
    return tuple(items)


def age_group(age_years: int, age_months: int) -> str:
    """The 年齢区分 of an age at the dose (the SQL of the selector computes the same bands)."""
    m = age_years * 12 + age_months
    for label, lo, hi in AGE_GROUPS:
        if lo <= m < hi:
            return label
    return AGE_GROUPS[-1][0]


def dose_label(n: int | None) -> str:
    return "不明" if n is None else f"{n}回目"


# --- tables -----------------------------------------------------------------------------------------


@dataclass
class Table:
    """A count table: ``cells[i][j]`` for row key ``rows[i]`` and column ``columns[j]``, with margins.

    ``mask[i][j]`` is True where the published table hides the value; the margins live at index
    ``len(rows)`` (column totals) and ``len(columns)`` (row totals) of the extended grid (``value``)."""

    row_dims: tuple[str, ...]
    column_dim: str
    rows: list[tuple[str, ...]]
    columns: list[str]
    cells: list[list[int]]
    threshold: int = DEFAULT_THRESHOLD
    mask: list[list[bool]] = field(default_factory=list)
    primary: int = 0
    complementary: int = 0

    @property
    def row_totals(self) -> list[int]:
        return [sum(r) for r in self.cells]

    @property
    def column_totals(self) -> list[int]:
        return [sum(r[j] for r in self.cells) for j in range(len(self.columns))]

    @property
    def total(self) -> int:
        return sum(self.row_totals)

    def grid(self) -> list[list[int]]:
        """The table with its margins: (R+1) x (C+1)."""
        g = [[*r, sum(r)] for r in self.cells]
        g.append([*self.column_totals, self.total])
        return g

    def shown(self) -> list[list[int | str]]:
        """The published grid: a value, or ``*`` where hidden."""
        g = self.grid()
        if not self.mask:
            return [list(r) for r in g]
        return [[SUPPRESSED if self.mask[i][j] else v for j, v in enumerate(r)] for i, r in enumerate(g)]


def build_table(counts: Iterable[tuple[tuple[str, ...], str, int]], row_dims: Sequence[str], column_dim: str,
                columns: Sequence[str]) -> Table:
    """A table from ``(row key, column key, count)`` triples. Rows are the keys seen (sorted); the
    columns are given (every month of the period is a column, zero or not)."""
    cols = list(columns)
    index = {c: j for j, c in enumerate(cols)}
    acc: dict[tuple[str, ...], list[int]] = {}
    for key, col, n in counts:
        if col not in index:
            raise StatsInputError(f"列 {col} は集計期間の外です。 / column outside the period.")
        acc.setdefault(tuple(key), [0] * len(cols))[index[col]] += int(n)
    rows = sorted(k for k, v in acc.items() if any(v))
    return Table(tuple(row_dims), column_dim, rows, cols, [acc[k] for k in rows])


def suppress(table: Table, threshold: int) -> Table:
    """Apply primary and complementary suppression (in place; returns the table)."""
    if threshold < 1:
        raise StatsInputError("秘匿の閾値は1以上です。 / the threshold must be at least 1.")
    table.threshold = threshold
    table.mask, table.primary, table.complementary = suppression_mask(table.grid(), threshold)
    return table


def suppression_mask(grid: Sequence[Sequence[int]], threshold: int) -> tuple[list[list[bool]], int, int]:
    """The hidden cells of a table with margins (last row and column are the totals).

    Returns (mask, primary count, complementary count). See the module docstring for the rule."""
    g = np.asarray(grid, dtype=np.int64).reshape(len(grid), len(grid[0]) if grid else 0)
    mask = (g > 0) & (g < threshold)
    primary = int(mask.sum())
    n_r, n_c = g.shape
    if primary == 0 or n_r < 2 or n_c < 2:
        return mask.tolist(), primary, 0
    added = 0
    while True:
        bridges = _bridges(mask)
        if not bridges:
            break
        touched: set[int] = set()  # lines given a new hidden cell in this pass
        for r, c in bridges:
            if r in touched or n_r + c in touched:
                continue  # may be closed already; the next pass looks again
            # Hiding a cell costs its value (small first: little is lost); zero never (module docstring).
            cost = np.where(mask, 0.0, np.where(g > 0, 1.0 + g, np.inf))
            rect = cost[r, :][None, :] + cost[:, c][:, None] + cost
            rect[r, :] = np.inf
            rect[:, c] = np.inf
            x, y = np.unravel_index(int(np.argmin(rect)), rect.shape)
            if not np.isfinite(rect[x, y]):  # cannot happen: a non-zero rectangle always exists (docstring)
                raise StatsInputError("秘匿処理ができません。 / suppression failed.")
            for i, j in ((r, int(y)), (int(x), c), (int(x), int(y))):
                if not mask[i, j]:
                    mask[i, j] = True
                    added += 1
                    touched.update((i, n_r + j))
    return mask.tolist(), primary, added


def _bridges(mask: np.ndarray) -> list[tuple[int, int]]:
    """Hidden cells whose edge is a bridge of the hidden-cell graph (rows 0..R-1 and columns R..R+C-1
    as nodes): the cells the totals determine exactly. Iterative Tarjan (no recursion limit)."""
    n_r, n_c = mask.shape
    cells = [(int(i), int(j)) for i, j in zip(*np.nonzero(mask), strict=True)]
    adj: list[list[tuple[int, int]]] = [[] for _ in range(n_r + n_c)]
    for e, (i, j) in enumerate(cells):
        adj[i].append((n_r + j, e))
        adj[n_r + j].append((i, e))
    disc = [-1] * (n_r + n_c)
    low = [0] * (n_r + n_c)
    out: list[tuple[int, int]] = []
    t = 0
    for s in range(n_r + n_c):
        if disc[s] != -1 or not adj[s]:
            continue
        disc[s] = low[s] = t
        t += 1
        stack: list[tuple[int, int, int]] = [(s, -1, 0)]  # node, edge used to enter it, next neighbour
        while stack:
            u, pe, k = stack[-1]
            if k < len(adj[u]):
                stack[-1] = (u, pe, k + 1)
                v, e = adj[u][k]
                if e == pe:
                    continue
                if disc[v] == -1:
                    disc[v] = low[v] = t
                    t += 1
                    stack.append((v, e, 0))
                else:
                    low[u] = min(low[u], disc[v])
            else:
                stack.pop()
                if stack:
                    p = stack[-1][0]
                    low[p] = min(low[p], low[u])
                    if low[u] > disc[p]:
                        out.append(cells[pe])
    return out


# --- output -----------------------------------------------------------------------------------------


def header(table: Table) -> list[str]:
    cols = [] if table.column_dim == "none" else table.columns
    return [DIMENSIONS[d] for d in table.row_dims] + cols + ["計"]


def rows_out(table: Table) -> list[list[str]]:
    """The published rows (the last is 計), each cell a number or ``*``; no identifier anywhere."""
    shown = table.shown()
    single = table.column_dim == "none"
    out = []
    for i, key in enumerate(table.rows):
        vals = shown[i][-1:] if single else shown[i]
        out.append(list(key) + [str(v) for v in vals])
    last = shown[-1][-1:] if single else shown[-1]
    out.append(["計"] + [""] * (len(table.row_dims) - 1) + [str(v) for v in last])
    return out


def to_csv(table: Table, encoding: str = "utf-8") -> bytes:
    """CSV bytes: UTF-8 with BOM (``utf-8``) or CP932 (``cp932``)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(header(table))
    w.writerows(rows_out(table))
    if encoding.lower().replace("_", "-") in ("cp932", "shift-jis", "sjis"):
        return buf.getvalue().encode("cp932")
    return buf.getvalue().encode("utf-8-sig")


def to_json(table: Table, **meta: Any) -> dict[str, Any]:
    shown = table.shown()
    cols = [] if table.column_dim == "none" else table.columns
    single = table.column_dim == "none"
    return {
        **meta,
        "by": list(table.row_dims),
        "per": table.column_dim,
        "threshold": table.threshold,
        "columns": cols,
        "rows": [{"key": dict(zip(table.row_dims, key, strict=True)),
                  "cells": [] if single else shown[i][:-1], "total": shown[i][-1]}
                 for i, key in enumerate(table.rows)],
        "column_totals": [] if single else shown[-1][:-1],
        "total": shown[-1][-1],
        "suppressed": {"primary": table.primary, "complementary": table.complementary},
    }


# --- coverage by birth cohort (接種率) -------------------------------------------------------------


@dataclass(frozen=True)
class CohortCoverage:
    """One birth cohort (生まれ年度): residents, those who completed the series, and the rate."""

    cohort: int  # fiscal year of birth
    residents: int
    completed: int
    hidden: bool  # a count (completed or not completed) below the threshold: numbers not shown

    @property
    def rate(self) -> float:
        return self.completed / self.residents if self.residents else 0.0

    @property
    def shown_rate(self) -> float:
        """The rate drawn: exact, or floored to a 5% step when the counts are hidden."""
        if not self.hidden:
            return self.rate
        return int(self.rate * 20) / 20


def coverage_rows(counts: Iterable[tuple[int, int, int]], threshold: int) -> list[CohortCoverage]:
    """(cohort, residents, completed) -> coverage rows; a cohort whose residents, completed or not
    completed count is ``0 < n < threshold`` is marked hidden."""
    out = []
    for cohort, residents, completed in sorted(counts):
        small = [n for n in (residents, completed, residents - completed) if 0 < n < threshold]
        out.append(CohortCoverage(cohort, residents, completed, bool(small)))
    return out


def coverage_svg(rows: Sequence[CohortCoverage], *, title: str, target: float = 0.95, width: int = 640,
                 height: int = 300) -> str:
    """A bar chart drawn server-side: one bar per birth cohort, the target as a dashed line.

    Hidden cohorts are drawn hatched at a 5% step, with no number. The SVG carries a <title> and a
    <desc> for screen readers; every text is escaped."""
    left, right, top, bottom = 48, 12, 28, 40
    pw, ph = width - left - right, height - top - bottom

    def y(rate: float) -> float:
        return top + ph * (1 - max(0.0, min(1.0, rate)))

    n = max(1, len(rows))
    slot = pw / n
    bar = max(4.0, min(48.0, slot * 0.6))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}"'
        f' role="img" aria-labelledby="cov-title cov-desc" class="coverage-chart">',
        f'<title id="cov-title">{escape(title)}</title>',
        '<desc id="cov-desc">' + escape("; ".join(
            f"{r.cohort}年度生まれ: " + ("秘匿" if r.hidden else f"{r.rate * 100:.1f}%") for r in rows)) + "</desc>",
        '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
        '<rect width="6" height="6" fill="#cfd8e3"/><line x1="0" y1="0" x2="0" y2="6" stroke="#7a8ca3"'
        ' stroke-width="3"/></pattern></defs>',
    ]
    for pct in (0, 25, 50, 75, 100):
        yy = y(pct / 100)
        parts.append(f'<line x1="{left}" y1="{yy:.1f}" x2="{width - right}" y2="{yy:.1f}" stroke="#e3e3e3"/>')
        parts.append(f'<text x="{left - 6}" y="{yy + 4:.1f}" font-size="11" text-anchor="end">{pct}%</text>')
    for k, r in enumerate(rows):
        cx = left + slot * (k + 0.5)
        top_y = y(r.shown_rate)
        below = r.shown_rate < target
        fill = "url(#hatch)" if r.hidden else ("#d9822b" if below else "#2b6cb0")
        label = "*" if r.hidden else f"{r.rate * 100:.1f}"
        parts.append(f'<rect class="bar" data-cohort="{r.cohort}" x="{cx - bar / 2:.1f}" y="{top_y:.1f}"'
                     f' width="{bar:.1f}" height="{top + ph - top_y:.1f}" fill="{fill}"/>')
        parts.append(f'<text x="{cx:.1f}" y="{top_y - 4:.1f}" font-size="11" text-anchor="middle">{label}</text>')
        parts.append(f'<text x="{cx:.1f}" y="{top + ph + 16:.1f}" font-size="11" text-anchor="middle">'
                     f'{r.cohort}</text>')
    ty = y(target)
    parts.append(f'<line class="target" x1="{left}" y1="{ty:.1f}" x2="{width - right}" y2="{ty:.1f}"'
                 ' stroke="#c53030" stroke-width="2" stroke-dasharray="6 4"/>')
    parts.append(f'<text x="{width - right}" y="{ty - 5:.1f}" font-size="11" text-anchor="end" fill="#c53030">'
                 f'目標 {target * 100:.0f}%</text>')
    parts.append(f'<text x="{left + pw / 2:.1f}" y="{height - 6}" font-size="11" text-anchor="middle">'
                 '生まれ年度 (年度)</text>')
    parts.append("</svg>")
    return "".join(parts)
