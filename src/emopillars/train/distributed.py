"""Data-parallel training: one training loop in 1 process (CPU or one GPU) or in N processes.

:func:`emopillars.train.trainer.train_classifier` runs through
``accelerate.Accelerator``: started plainly it trains in the current process;
started by a distributed launcher (``torch.distributed.run``/``torchrun`` or
``accelerate launch``, which set ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``)
every process runs the same script, trains one shard of every batch and
averages gradients (DDP: NCCL on GPUs, gloo on CPUs).

The stage scripts call :func:`maybe_relaunch` first: asked for more than one
process and not launched yet, the script starts itself again under
``python -m torch.distributed.run --standalone --nproc_per_node N`` (one
process per GPU, or N CPU processes when there is no GPU; ``--standalone``
picks a free port, so concurrent runs do not collide) and returns that exit
code; the launched copies find ``WORLD_SIZE`` set and run in place.

Several machines: launch the stage yourself on every machine with the same
arguments; the script sees it is launched and does not relaunch. With
accelerate (M machines of G GPUs, machine ``i``)::

    accelerate launch --multi_gpu --num_machines M --machine_rank i --num_processes $((M * G)) \\
        --main_process_ip <address of machine 0> --main_process_port 29500 \\
        stages/train.py --params params.yaml --variant contextless ...

or with ``torchrun --nnodes M --node_rank i --nproc_per_node G --master_addr <address> --master_port 29500``.
Only the process of global rank 0 writes files.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Optional, Sequence, Union

RANK_ENV = ("RANK", "PMI_RANK", "OMPI_COMM_WORLD_RANK", "MV2_COMM_WORLD_RANK")
WORLD_SIZE_ENV = ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")
LOCAL_WORLD_SIZE_ENV = ("LOCAL_WORLD_SIZE", "MPI_LOCALNRANKS", "OMPI_COMM_WORLD_LOCAL_SIZE",
                        "MV2_COMM_WORLD_LOCAL_SIZE")


def _env_int(names: Sequence[str], default: int) -> int:
    for name in names:
        value = os.environ.get(name)
        if value not in (None, ""):
            return int(value)
    return default


def world_size() -> int:
    """Processes of the launched job (1 when not launched)."""
    return _env_int(WORLD_SIZE_ENV, 1)


def process_rank() -> int:
    """Global rank of this process (0 when not launched)."""
    return _env_int(RANK_ENV, 0)


def is_main_process() -> bool:
    """True in the one process that writes files (global rank 0, or the only process)."""
    return process_rank() == 0


def launched() -> bool:
    """Whether this process was started by a distributed launcher."""
    return "LOCAL_RANK" in os.environ or world_size() > 1


def cpu_threads_per_process() -> int:
    """The CPU cores of this machine divided among its training processes (at least 1)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // max(1, _env_int(LOCAL_WORLD_SIZE_ENV, 1)))


def resolve_num_processes(num_processes: Union[int, str]) -> int:
    """``"auto"``: one process per visible CUDA GPU (1 without a GPU); an integer as it is.

    More processes than GPUs is refused on a GPU machine (each process owns a
    GPU); without a GPU any number of CPU processes may run.
    """
    import torch

    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if num_processes == "auto":
        return max(1, gpus)
    n = int(num_processes)
    if n < 1:
        raise ValueError(f"num_processes must be 'auto' or at least 1, got {num_processes!r}")
    if gpus and n > gpus:
        raise ValueError(f"num_processes {n} is more than the {gpus} visible CUDA GPU(s)")
    return n


def launch_command(num_processes: int, script: str, argv: Sequence[str]) -> list[str]:
    """The command that runs ``script argv`` in ``num_processes`` processes on this machine."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(num_processes),
            str(script), *map(str, argv)]


def maybe_relaunch(num_processes: Union[int, str], script: str, argv: Sequence[str]) -> Optional[int]:
    """Start ``script argv`` in ``num_processes`` processes and return its exit code.

    Returns None when the caller should go on in the current process: one
    process asked for (``"auto"`` without a GPU, or 1), or this process is
    already one of a launched job. CPU processes get the machine's cores
    divided among them (``OMP_NUM_THREADS``, unless set).
    """
    n = resolve_num_processes(num_processes)
    if n <= 1 or launched():
        return None
    cmd = launch_command(n, script, argv)
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(max(1, cpu_threads_per_process() // n)))
    print(f"launching {n} training processes: {' '.join(cmd)}", file=sys.stderr, flush=True)
    return subprocess.run(cmd, env=env).returncode
