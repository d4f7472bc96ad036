"""One command (or program) as a rank of a ``torchrun`` launch: join, log, leave together.

Sits around the whole data flow (input frame -> windows -> model -> forecast -> metrics/plots)
when several processes share it: :func:`process_group` joins the process group torchrun describes
for the duration of a block, and leaves it so that no rank tears the group down under a peer
still at work. It picks the device with :mod:`lstmcast.devices` and talks to the group through
:mod:`lstmcast.distributed` (which is why it is a module of its own: ``devices`` imports
``distributed``). Without torchrun the block simply runs.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterator

from . import distributed
from .devices import pick_device
from .errors import TrainingError


@contextlib.contextmanager
def process_group(
    device: str | None, planned_exits: tuple[type[BaseException], ...] = ()
) -> Iterator[None]:
    """Under torchrun, join the process group for the block and leave it after.

    ``device`` picks the backend (NCCL for CUDA, gloo for the CPU); a process group the caller
    joined already is used as it is, and left to the caller. Each process logs its rank and pid,
    then every data file it reads, to its own stderr. On the way out every rank waits for the
    others (also when the block raises one of ``planned_exits``, a command ending with an exit
    code as planned), so none leaves while a peer still works. A peer that dies makes the
    collectives fail at once (torchrun then stops the others): that becomes a
    :class:`~lstmcast.errors.TrainingError` rather than a traceback. Any other error leaves at
    once: its peers are stopped by torchrun.
    """
    if not distributed.launched_by_torchrun():
        yield
        return
    joined = not distributed.active()  # a program calling the command may have joined already
    if joined:
        distributed.start(pick_device(device))
    logger = logging.getLogger("lstmcast")
    handler = logging.StreamHandler()
    rank, world = distributed.rank(), distributed.world_size()
    handler.setFormatter(logging.Formatter(f"lstmcast rank {rank}/{world}: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.info("started, pid %d", os.getpid())
    try:
        yield
    except planned_exits:  # may be RuntimeErrors too (click's Exit), but planned ones
        if joined:
            distributed.leave_together()
        raise
    except RuntimeError as error:
        if not distributed.lost_peer(error):
            raise
        # "[.../pair.cc:537] Read error [127.0.0.1]:60100: Connection reset by peer. This ..."
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        detail = re.sub(r"^\[[^\]]*\]\s*", "", first_line).split(". ")[0]
        raise TrainingError(
            f"rank {rank} lost contact with the other processes ({detail}); one of them "
            "stopped or its machine failed. Checkpoints on disk are whole: rerun with --resume"
        ) from None
    else:
        if joined:
            distributed.leave_together()
    finally:
        logger.removeHandler(handler)
        if joined:
            distributed.stop()
