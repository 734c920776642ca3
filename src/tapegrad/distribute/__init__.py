"""Data-parallel training over MPI (``tg.distribute``): one model, many processes.

Launch the same script on several processes with MPI's launcher; each process (a *rank*)
holds a copy of the model, reads its share of every global batch, and the gradients are
summed across ranks before each update, so every rank applies the update that one process
would apply to the whole global batch::

    mpirun -n 4 python train.py

    strategy = tg.distribute.MPIStrategy()
    with strategy.scope():
        model = tg.Sequential([...])
        model.compile(optimizer="adam", loss="mse")   # or compile(..., distribute=strategy)
    model.fit(x, y, batch_size=256, epochs=10)        # 256 samples per step in all

``MPIStrategy`` needs ``mpi4py`` and an MPI library (``pip install "tapegrad[mpi]"``
installs both: mpi4py and the MPICH wheel, whose ``mpirun`` lands in the environment's
``bin``). Importing ``tapegrad.distribute`` needs neither; the strategy imports mpi4py
when it is made. ``sharding`` holds the arithmetic of splitting batches, which needs no MPI.
"""

from __future__ import annotations

from .mpi import MPIStrategy, mpi_available
from .scope import get_strategy, has_strategy
from .sharding import shard_bounds

__all__ = ["MPIStrategy", "get_strategy", "has_strategy", "mpi_available", "shard_bounds"]
