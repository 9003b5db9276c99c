"""Shared helpers of the gridded, ONNX and job tests: a savepoint scope standing in for session_scope, tiny
ONNX graphs built with onnx.helper, and gridded forecast files written at test time."""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np


def savepoint_scope(session):
    """A ``session_scope`` replacement for the worker: each unit of work is a savepoint of the test's
    transaction (committed on success, rolled back on error)."""

    @contextlib.contextmanager
    def scope():
        with session.begin_nested():
            yield session

    return scope


def onnx_tile(path: Path, n_features: int, repeats: int, scale: float = 1.0, out_features: int | None = None) -> Path:
    """An ONNX graph Y = Tile(Unsqueeze(X · scale, 1), [1, repeats, 1]): persistence when scale = 1.
    ``out_features`` other than ``n_features`` gives a graph with the wrong output size (Slice)."""
    import onnx
    from onnx import TensorProto, helper

    nodes = [helper.make_node("Mul", ["X", "s"], ["xs"]),
             helper.make_node("Unsqueeze", ["xs", "axes"], ["xu"]),
             helper.make_node("Tile", ["xu", "reps"], ["Y0"])]
    inits = [helper.make_tensor("s", TensorProto.FLOAT, [], [scale]),
             helper.make_tensor("axes", TensorProto.INT64, [1], [1]),
             helper.make_tensor("reps", TensorProto.INT64, [3], [1, repeats, 1])]
    out_name = "Y0"
    if out_features is not None and out_features != n_features:
        nodes.append(helper.make_node("Slice", ["Y0", "st", "en", "ax"], ["Y"]))
        inits += [helper.make_tensor("st", TensorProto.INT64, [1], [0]),
                  helper.make_tensor("en", TensorProto.INT64, [1], [out_features]),
                  helper.make_tensor("ax", TensorProto.INT64, [1], [2])]
        out_name = "Y"
    graph = helper.make_graph(nodes, "tile", [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", n_features])],
                              [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, ["N", repeats, out_features or n_features])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="kechuang-tests")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def gridded_forecast(task, data, kind: str = "persistence") -> np.ndarray:
    """A forecast array for the gridded task from one of its baselines."""
    return np.asarray(task.baselines[f"baseline-{kind}"](task, data), dtype=np.float64)
