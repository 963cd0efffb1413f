"""Tables as data, rendered second.

A :class:`Table` holds rows of :class:`Cell` objects: each cell keeps its value,
the string to display, its interval, whether lower is better, and the metrics
file it came from. Which cell is best in a column is computed here
(:meth:`Table.mark_best`), so LaTeX and Markdown renderings always agree; the
Jinja templates in ``reports/templates/`` only decide how a best cell looks.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import jinja2

from emopillars.report.latex import escape_latex, escape_markdown


@dataclass
class Cell:
    value: Optional[float] = None
    display: str = ""
    ci: Optional[tuple[float, float]] = None
    lower_is_better: bool = False
    source: Optional[str] = None
    best: bool = False
    marker: str = ""  # e.g. a dagger for a significant difference, rendered after the number

    @property
    def is_empty(self) -> bool:
        return self.value is None and not self.display


@dataclass
class Column:
    header: str
    align: str = "r"  # LaTeX column type: l, r, c or p{width}
    compare: bool = True  # whether a best cell is marked in this column
    lower_is_better: bool = False


@dataclass
class Row:
    header: str
    cells: list[Cell]
    group: str = ""  # rows of one group are compared with each other only
    compare: bool = True  # False: shown for reference, never marked best nor compared with


@dataclass
class Table:
    name: str
    caption: str
    row_header: str
    columns: list[Column]
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    wide: bool = False  # span both columns of a two-column paper
    font_size: str = "small"
    col_sep: str = "4pt"

    def add_row(self, header: str, cells: list[Cell], group: str = "", compare: bool = True) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"table {self.name}: row {header!r} has {len(cells)} cells, expected {len(self.columns)}")
        self.rows.append(Row(header, cells, group, compare))

    @property
    def groups(self) -> list[tuple[str, list[Row]]]:
        out: list[tuple[str, list[Row]]] = []
        for row in self.rows:
            if not out or out[-1][0] != row.group:
                out.append((row.group, []))
            out[-1][1].append(row)
        return out

    def mark_best(self) -> "Table":
        """Mark the best numeric cell of each comparable column within each row group (ties all marked).

        Rows added with ``compare=False`` (reference rows) take no part."""
        for row in self.rows:
            for cell in row.cells:
                cell.best = False
        for _, rows in self.groups:
            for j, col in enumerate(self.columns):
                if not col.compare:
                    continue
                cells = [r.cells[j] for r in rows if r.compare and _finite(r.cells[j].value)]
                if len(cells) < 2:
                    continue
                lower = cells[0].lower_is_better or col.lower_is_better
                target = (min if lower else max)(c.value for c in cells)
                for c in cells:
                    if math.isclose(c.value, target, rel_tol=0, abs_tol=1e-12):
                        c.best = True
        return self

    @property
    def is_empty(self) -> bool:
        return not self.rows

    @property
    def latex_label(self) -> str:
        """``tab:<name>`` with ``-`` for anything but letters and digits (a label must not need escaping)."""
        return "tab:" + re.sub(r"[^A-Za-z0-9]+", "-", self.name)

    def sources(self) -> list[str]:
        return sorted({c.source for r in self.rows for c in r.cells if c.source})


def _finite(x: Optional[float]) -> bool:
    return x is not None and math.isfinite(x)


# --------------------------------------------------------------------------- cells
def fmt(value: Optional[float], digits: int = 3) -> str:
    if value is None or not math.isfinite(value):
        return "--"
    return f"{value:.{digits}f}"


def score_cell(score, source: Optional[str] = None, digits: int = 3, lower_is_better: bool = False,
               marker: str = "") -> Cell:
    """A cell from a :class:`~emopillars.report.results.Score` (or ``None``: an empty cell)."""
    if score is None:
        return Cell(display="--", source=source)
    display = fmt(score.value, digits)
    return Cell(score.value, display, score.ci, lower_is_better, source, marker=marker)


def number_cell(value: Optional[float], digits: int = 3, source: Optional[str] = None, percent: bool = False,
                lower_is_better: bool = False) -> Cell:
    if value is None:
        return Cell(display="--", source=source)
    if percent:
        return Cell(value, f"{100 * value:.{max(digits - 2, 0)}f}%", None, lower_is_better, source)
    if float(value).is_integer() and digits == 0:
        return Cell(value, f"{int(value):,}", None, lower_is_better, source)
    return Cell(value, fmt(value, digits), None, lower_is_better, source)


def text_cell(text: object) -> Cell:
    return Cell(None, "" if text is None else str(text))


# --------------------------------------------------------------------------- rendering
def template_env(templates_dir: str | os.PathLike) -> tuple[jinja2.Environment, jinja2.Environment]:
    """Jinja environments for LaTeX and Markdown.

    Every ``<< expression >>`` of the LaTeX environment goes through
    :func:`escape_latex` (Jinja's ``finalize`` hook), so no template can forget
    to escape data; LaTeX markup lives only in the template text itself. The
    LaTeX environment uses ``<< >>`` and ``<% %>`` delimiters so braces stay LaTeX's.
    """
    loader = jinja2.FileSystemLoader(str(templates_dir))
    common = dict(loader=loader, undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                  trim_blocks=True, lstrip_blocks=True)
    tex = jinja2.Environment(block_start_string="<%", block_end_string="%>", variable_start_string="<<",
                             variable_end_string=">>", comment_start_string="<#", comment_end_string="#>",
                             finalize=_finalize(escape_latex, "tex"), autoescape=False, **common)
    md = jinja2.Environment(finalize=_finalize(escape_markdown, "md"), autoescape=False, **common)
    for env in (tex, md):
        env.globals["fmt"] = fmt
    return tex, md


class _Raw(str):
    """Markup produced by a trusted helper (never from data); passes ``finalize`` unchanged."""


@dataclass(frozen=True)
class Markup:
    """Text written by the project (never from data) with its LaTeX and Markdown forms.

    Used for headers and notes that need markup, such as ``$\\alpha$``; data
    never becomes a :class:`Markup`, so data is always escaped.
    """

    tex: str
    md: str

    def __str__(self) -> str:
        return self.md


def _finalize(escape, form: str):
    def finalize(value):
        if isinstance(value, _Raw):
            return value
        if isinstance(value, Markup):
            return getattr(value, form)
        return escape(value)
    return finalize


def render(table: Table, templates_dir: str | os.PathLike) -> tuple[str, str]:
    """Render ``table`` to ``(latex, markdown)`` with ``table.tex.j2`` and ``table.md.j2``."""
    tex_env, md_env = template_env(templates_dir)
    ctx = {"table": table, "ncols": len(table.columns) + 1,
           "colspec": _Raw("l" + "".join(c.align for c in table.columns))}
    return (tex_env.get_template("table.tex.j2").render(**ctx),
            md_env.get_template("table.md.j2").render(**ctx))


def write_table(table: Table, out_dir: str | os.PathLike, templates_dir: str | os.PathLike) -> list[Path]:
    from emopillars.io import write_text

    tex, md = render(table, templates_dir)
    out_dir = Path(out_dir)
    paths = [out_dir / f"{table.name}.tex", out_dir / f"{table.name}.md"]
    write_text(paths[0], tex)
    write_text(paths[1], md)
    return paths
