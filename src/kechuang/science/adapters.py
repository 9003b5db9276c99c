"""Model adapters that need no database: an ONNX file run with onnxruntime on a task's inputs.

The ONNX model takes the task's input array (first axis = items, cast to the graph's float type) through
its single input and returns an array with as many values per item as the task's target; the output is
reshaped to the target's shape. Items are fed in batches (progress is reported per batch). The session
runs on the CPU with one intra-op thread and deterministic settings, so the same file on the same inputs
gives the same predictions.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

# Packages whose versions a run's environment records (in addition to the service's list).
ENV_PACKAGES = ("xarray", "h5netcdf", "zarr", "onnxruntime", "onnx")
_FLOAT_TYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16}
ONNX_MAX_BYTES = 512 * 1024 * 1024


class OnnxModelError(ValueError):
    """An ONNX file that cannot serve as a model here (unreadable, several inputs, non-float input)."""


def _session(path: Path):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    try:
        return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types for malformed graphs
        raise OnnxModelError(f"onnxruntime cannot load the file: {str(exc).splitlines()[0][:300]}") from exc


def inspect_onnx(path: Path) -> dict[str, Any]:
    """Input and output names, types and shapes, opset and producer of an ONNX file; OnnxModelError when
    it cannot be loaded or has not exactly one floating-point input."""
    sess = _session(path)
    ins, outs = sess.get_inputs(), sess.get_outputs()
    if len(ins) != 1:
        raise OnnxModelError(f"the graph has {len(ins)} inputs; exactly one is supported")
    if ins[0].type not in _FLOAT_TYPES:
        raise OnnxModelError(f"input {ins[0].name!r} has type {ins[0].type}; a float tensor is needed")
    meta = sess.get_modelmeta()
    return {"input": ins[0].name, "input_type": ins[0].type, "input_shape": [str(d) for d in ins[0].shape],
            "output": outs[0].name, "output_shape": [str(d) for d in outs[0].shape],
            "producer": meta.producer_name or None, "graph": meta.graph_name or None}


def run_onnx(path: Path, inputs: np.ndarray, target_shape: tuple[int, ...], *, batch: int = 64,
             progress: Callable[[float], None] | None = None) -> np.ndarray:
    """Predictions of the ONNX model at ``path`` for ``inputs``, reshaped to ``target_shape`` (float64)."""
    sess = _session(path)
    inp = sess.get_inputs()[0]
    dtype = _FLOAT_TYPES.get(inp.type)
    if dtype is None:
        raise OnnxModelError(f"input {inp.name!r} has type {inp.type}; a float tensor is needed")
    x = np.asarray(inputs, dtype=dtype)
    n = x.shape[0]
    per_item = int(np.prod(target_shape[1:], dtype=np.int64))
    out = np.empty((n, per_item), dtype=np.float64)
    out_name = sess.get_outputs()[0].name
    for start in range(0, n, batch):
        y = np.asarray(sess.run([out_name], {inp.name: x[start:start + batch]})[0])
        m = min(batch, n - start)
        if y.shape[0] != m or y.size != m * per_item:
            raise OnnxModelError(f"output {out_name!r} has shape {y.shape} for {m} items; expected {m} × "
                                 f"{tuple(target_shape[1:])}")
        out[start:start + m] = y.reshape(m, per_item)
        if progress is not None:
            progress(min(1.0, (start + m) / n))
    return out.reshape(target_shape)
