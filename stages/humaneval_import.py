"""DVC stage `humaneval_import`: annotators' answers to rates and Krippendorff's alpha.

    python stages/humaneval_import.py --sheet reports/humaneval/sheet/items.json \
        --key reports/humaneval/key.json --answers-dir reports/humaneval/answers \
        --out outputs/metrics/humaneval.json

Answer files (the JSON the annotation page saves, or filled-in CSV sheets) are
committed to --answers-dir. Files answering an older sheet (the data has been
regenerated since) are left out and named; with no answers the metrics record
zero annotators. Two annotators whose answers are identical item for item (one
person's answers under two names) stop the import with one line naming both files.
"""

from __future__ import annotations

import argparse

from emopillars.errors import require_writable, run_main
from emopillars.io import read_json, write_json
from emopillars.report.humaneval import SheetMismatch, answer_files, import_answers


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sheet", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--answers-dir", required=True)
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    require_writable(args.out)

    files = answer_files(args.answers_dir)
    sheet_id = read_json(args.sheet).get("sheet_id")
    usable, stale = [], []
    for f in files:
        try:
            import_answers([f], args.sheet, args.key)
            usable.append(f)
        except SheetMismatch:
            stale.append(f)
    result = import_answers(usable, args.sheet, args.key)
    result["answer_files"] = [f.name for f in usable]
    result["stale_answer_files"] = [f.name for f in stale]
    write_json(args.out, result)
    rates = ", ".join(f"{q}: {d['positive_rate']:.1%}" for q, d in result["questions"].items())
    print(f"humaneval_import: {len(usable)} answer files, {result['n_annotators']} annotators on sheet {sheet_id}"
          + (f" ({rates})" if rates else "") + (f"; left out {len(stale)} files for an older sheet: "
                                              f"{', '.join(f.name for f in stale)}" if stale else "") + f" -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
