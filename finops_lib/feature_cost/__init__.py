"""What one AI feature really costs: its whole service stack, shared services split exactly.

The layers are model tokens, embeddings, vector DB, compute, storage, observability and seats; the inputs the facts
and the feature map.

:func:`feature_stack` places every money row in a feature and a layer (``stack``); :func:`guess_layer` says the
layer of a row no map entry places (``layers``).
"""

from finops_lib.feature_cost.layers import guess_layer
from finops_lib.feature_cost.stack import UNASSIGNED, Stack, feature_stack, split_exact
from finops_lib.feature_cost.unit import MODEL_LAYERS, feature_summary, feature_usage

__all__ = ["MODEL_LAYERS", "UNASSIGNED", "Stack", "feature_stack", "feature_summary", "feature_usage", "guess_layer",
           "split_exact"]
