"""The ``emopillars`` command line.

Each sub-command lives in its own module exposing ``add_arguments(parser)`` and
``run(args) -> int``; modules are imported only when their command runs, so
``emopillars --help`` is instant and does not import torch or vLLM. A failure
the user can fix ends as one line and exit code 2 (:mod:`emopillars.errors`);
``--debug`` or ``EMOPILLARS_DEBUG=1`` adds its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from emopillars.errors import DEBUG_ENV, DEBUG_FLAG, guarded, take_debug_flag

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "params": ("emopillars.commands.params", "validate params.yaml and print the resolved values"),
    "generate": ("emopillars.commands.generate", "run chat requests (JSONL) through the cached, validated generation engine"),
    "datasets": ("emopillars.commands.datasets", "read a benchmark or corpus folder and print its counts per split"),
    "annotate": ("emopillars.commands.annotate", "human evaluation: export a blind annotation sheet, import answers"),
    "train": ("emopillars.commands.train", "fine-tune an Emo Pillars model on train/dev/test.jsonl (e.g. released data)"),
    "predict": ("emopillars.commands.predict", "emotion scores and labels for texts or a CSV/JSONL file"),
    "evaluate": ("emopillars.commands.evaluate", "score any sequence classifier (folder or hub id) on a benchmark"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="emopillars",
        description="Emo Pillars: synthesise emotion data with an LLM and train small emotion encoders.",
        epilog=f"{DEBUG_FLAG} (anywhere) or {DEBUG_ENV}=1: show the traceback of a failure as well.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        importlib.import_module(module).add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv, debug = take_debug_flag(sys.argv[1:] if argv is None else argv)
    # Build only the chosen sub-parser's module when a command is given, so
    # a heavy module never slows down another command.
    if argv and argv[0] in COMMANDS:
        name = argv[0]
        module = importlib.import_module(COMMANDS[name][0])
        parser = argparse.ArgumentParser(prog=f"emopillars {name}", description=COMMANDS[name][1])
        module.add_arguments(parser)
        args = parser.parse_args(argv[1:])
        return guarded(lambda: module.run(args), f"emopillars {name}", debug)
    parser = build_parser()
    args = parser.parse_args(argv)
    parser.print_help()
    return 0 if args.command is None else 2


if __name__ == "__main__":
    sys.exit(main())
