"""The fast wing: everything in tapegrad that exists only for speed.

The core (``autodiff``, ``ops``, ``layers``, ``losses``, ``optimizers``, ``metrics``,
``callbacks``) is written to be read, as the lecture tells it, and never imports this
package. The training loop reaches it through one entrance, ``replay``: ``TrainStep``, the
replayed training step, and ``PredictStep``, the replayed inference pass of ``predict``; and ``function`` (``tg.function``), a whole custom
training step recorded and replayed. A step
records a model's forward pass once and replays it on
raw arrays with fused nodes (``fusion``, ``nodes``), a built-in loss's rules (``losses``)
and optimizer updates into kept buffers (``update``). Machine tuning, opt-in through
``tg.config``, lives here too: the allocator setting and aligned buffers (``memory``) and
the per-step BLAS thread choice (``threads``). Every result of this package is the core's
result, bit for bit, except where machine tuning changes the BLAS thread count.
"""

from .function import RecordedFunction, function
from .replay import PredictStep, TrainStep

__all__ = ["PredictStep", "RecordedFunction", "TrainStep", "function"]
