"""Compose ``params.yaml`` for a profile, exactly as ``dvc exp run -S profile=NAME`` does.

DVC's Hydra integration composes ``conf/config.yaml`` with ``conf/profile/NAME.yaml``
before an experiment runs; this entry point runs the same composition without
running the pipeline, so ``dvc repro`` can then be used directly:

    python -m emopillars.profiles smoke      # writes params.yaml
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

PROFILES = ("smoke", "default", "full", "paper", "rehearsal", "released")


def _check(profile: str) -> None:
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {', '.join(PROFILES)}")


def compose(profile: str, output: str | Path = "params.yaml", config_dir: str | Path = "conf",
            overrides: tuple[str, ...] = ()) -> Path:
    """Write ``output`` for ``profile``; ``overrides`` are Hydra overrides (``transfer.n_seeds=1``), as ``-S`` gives."""
    _check(profile)
    from dvc.utils.hydra import compose_and_dump

    from emopillars.config import load_params

    output = Path(output)
    compose_and_dump(output, str(Path(config_dir).resolve()), None, "config", str(Path(config_dir).resolve()), [f"profile={profile}", *overrides])
    load_params(output)  # a composed file that does not validate is a bug in conf/
    return output


def composed(profile: str, config_dir: str | Path = "conf") -> dict:
    """The mapping that :func:`compose` writes, without writing it (Hydra's composition, resolved)."""
    _check(profile)
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from omegaconf import OmegaConf

    with initialize_config_dir(str(Path(config_dir).resolve()), version_base=None):
        cfg = hydra_compose(config_name="config", overrides=[f"profile={profile}"])
    return OmegaConf.to_container(cfg, resolve=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("profile", choices=PROFILES)
    p.add_argument("--output", default="params.yaml")
    p.add_argument("--config-dir", default="conf")
    p.add_argument("--override", action="append", default=[], metavar="KEY=VALUE",
                   help="a Hydra override on top of the profile (repeatable), as `dvc exp run -S` takes")
    args = p.parse_args(argv)
    from hydra.errors import HydraException

    try:
        out = compose(args.profile, args.output, args.config_dir, tuple(args.override))
    except HydraException as e:
        print(f"profiles: error: {args.profile} with overrides {args.override}: {str(e).splitlines()[0]}",
              file=sys.stderr)
        return 2
    print(f"wrote {out} for profile {args.profile}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
