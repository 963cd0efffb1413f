"""Generated text reaching LaTeX is typeset as text, never run as a command."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from emopillars.report.latex import escape_latex, escape_markdown, macro_name
from emopillars.report.table import Column, Table, render, text_cell

TEMPLATES = "reports/templates"
INJECTIONS = [
    r"\input{secret}",
    r"\include{secret}\relax",
    r"100% sure & {braces} $5 #1 a_b ^up ~tilde",
    r"\def\x{boom}\x \immediate\write18{touch pwned}",
    "close }}}} open {{{{ and a lone \\",
]


@pytest.mark.parametrize("ch, expected", [
    ("\\", r"\textbackslash{}"), ("{", r"\{"), ("}", r"\}"), ("%", r"\%"), ("&", r"\&"), ("_", r"\_"),
    ("#", r"\#"), ("$", r"\$"), ("^", r"\textasciicircum{}"), ("~", r"\textasciitilde{}"),
])
def test_each_special_character_is_escaped(ch, expected):
    assert escape_latex(f"a{ch}b") == f"a{expected}b"


def test_input_command_becomes_text():
    out = escape_latex(r"\input{/etc/passwd}")
    assert out == r"\textbackslash{}input\{/etc/passwd\}"
    # No unescaped control sequence or group is left: every backslash starts \textbackslash, \{, \} etc.
    assert "\\input" not in out


def test_non_latin_characters_cannot_break_the_build():
    assert escape_latex("café naïve") == "café naïve"
    assert escape_latex("smile \U0001F600 ok") == "smile ? ok"
    assert escape_latex("line\nbreak") == "line break"


def test_markdown_cell_is_one_line_without_pipes_or_html():
    out = escape_markdown("a | b\n<script>x</script> *bold*")
    assert "\n" not in out and " | " not in out.replace("\\|", "")
    assert "<script>" not in out and "\\*bold\\*" in out


def test_macro_names_are_letters_only():
    assert macro_name("goemotions", "contextless") == "GoemotionsContextless"
    assert macro_name("frac", "0.1") == "FracZeroPointOne"
    with pytest.raises(ValueError):
        macro_name("__")


def test_table_template_escapes_every_data_field():
    t = Table("inj_table", r"caption with \input{secret} & 50%", r"row\header",
              [Column(r"col_{1}", align="l", compare=False)])
    for s in INJECTIONS:
        t.add_row(s, [text_cell(s)])
    tex, md = render(t, TEMPLATES)
    body = tex.split("\\midrule", 1)[1]
    assert "\\input{" not in tex and "\\include{" not in tex and "\\def\\x" not in tex and "\\write18" not in tex
    assert "\\textbackslash{}input\\{secret\\}" in body
    assert "50\\%" in tex and "col\\_\\{1\\}" in tex
    assert "| row\\\\header |" in md


def test_a_row_header_starting_with_a_bracket_or_a_star_is_not_read_as_an_argument_of_the_line_break():
    # After "\\" (or \midrule), "[1]" would be read as a length and stop the build; a "*" would be eaten by "\\*".
    t = Table("rows", "c", "[first] header", [Column("n", compare=False)])
    t.add_row("[1] source", [text_cell("a")])
    t.add_row("*starred", [text_cell("b")])
    tex, _ = render(t, TEMPLATES)
    lines = tex.splitlines()
    for header in ("[first] header", "[1] source", "*starred"):
        line = next(l for l in lines if header in l)
        assert line.startswith("{}" + header), line


@pytest.mark.skipif(not (shutil.which("pdflatex") and shutil.which("pdftotext")), reason="pdflatex/pdftotext not installed")
def test_escaped_injections_typeset_as_their_own_text(tmp_path):
    (tmp_path / "secret.tex").write_text("LEAKEDCONTENT\n")
    t = Table("inj", "Injection cases.", "Case", [Column("Text", align="p{10cm}", compare=False)])
    for i, s in enumerate(INJECTIONS):
        t.add_row(str(i), [text_cell(s)])
    tex, _ = render(t, TEMPLATES)
    (tmp_path / "doc.tex").write_text("\\documentclass{article}\\usepackage{booktabs}\\usepackage{array}"
                                      "\\begin{document}\n" + tex + "\n\\end{document}\n")
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", "doc.tex"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:]
    text = subprocess.run(["pdftotext", "doc.pdf", "-"], cwd=tmp_path, capture_output=True, text=True).stdout
    flat = " ".join(text.split())
    assert "LEAKEDCONTENT" not in flat
    assert not (tmp_path / "pwned").exists()
    assert "\\input{secret}" in flat
    # OT1 fonts draw _ as a rule and ^ ~ as accents; pdftotext reads them back as a space, ˆ and ˜.
    assert "100% sure & {braces} $5 #1 a" in flat and "ˆup ˜tilde" in flat
    assert "close }}}} open {{{{ and a lone \\" in flat
