"""Pictures of what the lecture explains (``tg.viz``; needs matplotlib).

Every function returns a matplotlib ``Figure`` (made without pyplot, so it is safe
on machines without a display) and, given ``path``, writes it atomically.
"""

from .activations import plot_activations
from .boundary import plot_decision_boundary
from .filters import feature_maps, plot_feature_maps, plot_filters
from .graph import plot_graph, to_dot
from .history import plot_history
from .landscape import curvature, default_optimizers, optimizer_path, plot_loss_landscape
from .lr_sweep import lr_sweep, plot_lr_sweep

__all__ = ["curvature", "default_optimizers", "feature_maps", "lr_sweep", "optimizer_path", "plot_activations",
           "plot_decision_boundary", "plot_feature_maps", "plot_filters", "plot_graph", "plot_history",
           "plot_loss_landscape", "plot_lr_sweep", "to_dot"]
