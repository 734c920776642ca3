"""Export (``tg.export``): trained models as ONNX graphs for ONNX Runtime and other engines.

Example:
    >>> import tapegrad as tg
    >>> model = tg.Sequential([tg.Input((2,)), tg.layers.Dense(1, activation="sigmoid")])
    >>> [n.op_type for n in tg.export.to_onnx(model).graph.node]
    ['MatMul', 'Add', 'Sigmoid', 'Identity']
"""

from .onnx_graph import CONVERTERS, MERGE_CONVERTERS, OPSET, export_onnx, to_onnx

__all__ = ["CONVERTERS", "MERGE_CONVERTERS", "OPSET", "export_onnx", "to_onnx"]
