"""Escaping of generated text for LaTeX and Markdown.

Everything that comes from data (utterances, labels, file names, model names)
passes through :func:`escape_latex` before it reaches a ``.tex`` file, so an
utterance such as ``\\input{/etc/passwd}`` or ``100% & $5`` is typeset as text
and can never run as a command.
"""

from __future__ import annotations

import re
import unicodedata

_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "%": r"\%",
    "&": r"\&",
    "_": r"\_",
    "#": r"\#",
    "$": r"\$",
    "^": r"\textasciicircum{}",
    "~": r"\textasciitilde{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    # Typographic characters that the default LaTeX setup knows under these names.
    "\u2018": "`", "\u2019": "'", "\u201c": "``", "\u201d": "''",
    "\u2013": "--", "\u2014": "---", "\u2026": r"\ldots{}", "\u00a0": "~",
}
# pdflatex with the default (OT1) fonts typesets accented Latin-1 letters; any
# other character (emoji, CJK) would stop the build, so it is reduced to its
# ASCII base letter where it has one (``ő`` -> ``o``) or to a visible ``?``.
_SAFE_NON_ASCII = frozenset(chr(c) for c in range(0xC0, 0x100)) - set("\u00d0\u00f0\u00de\u00fe\u00d7\u00f7")


def escape_latex(value: object) -> str:
    """Return ``value`` as LaTeX source that typesets exactly its text.

    ``None`` becomes the empty string. Line breaks become spaces (a table cell
    is one paragraph); characters pdflatex cannot typeset become ``?``.
    """
    if value is None:
        return ""
    text = unicodedata.normalize("NFC", str(value))
    out = []
    for ch in text:
        if ch in _LATEX_SPECIALS:
            out.append(_LATEX_SPECIALS[ch])
        elif ch in "\r\n\t\f\v":
            out.append(" ")
        elif ord(ch) < 32 or ord(ch) == 127:
            continue
        elif ord(ch) > 127 and ch not in _SAFE_NON_ASCII:
            base = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode("ascii")
            out.append(escape_latex(base) if base else "?")
        else:
            out.append(ch)
    return "".join(out)


_MD_SPECIALS = re.compile(r"([\\`*_{}\[\]<>|#~$])")


def escape_markdown(value: object) -> str:
    """Return ``value`` safe for one GitHub-Markdown table cell (no HTML, no pipes, one line)."""
    if value is None:
        return ""
    text = re.sub(r"\s+", " ", str(value)).strip()
    return _MD_SPECIALS.sub(r"\\\1", text)


def macro_name(*parts: str) -> str:
    """A LaTeX control-sequence name from ``parts``: letters only, CamelCase.

    Digits are spelled out (``frac0.1`` -> ``FracZeroPointOne``) because a
    control word cannot contain them.
    """
    digits = "Zero One Two Three Four Five Six Seven Eight Nine".split()
    words = []
    for part in parts:
        part = str(part)
        part = re.sub(r"\d", lambda m: " " + digits[int(m.group())] + " ", part)
        part = part.replace(".", " Point ")
        words += [w for w in re.split(r"[^A-Za-z]+", part) if w]
    name = "".join(w[:1].upper() + w[1:] for w in words)
    if not name:
        raise ValueError(f"cannot build a LaTeX macro name from {parts!r}")
    return name
