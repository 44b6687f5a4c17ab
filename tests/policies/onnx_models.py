"""Small ONNX policies built with onnx.helper for tests (no torch): linear maps of their inputs."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def linear_policy(
    *,
    image_hw: tuple[int, int] | None = (16, 16),
    instruction_dim: int | None = 32,
    state_dim: int | None = 4,
    action_dim: int = 2,
    chunk: int = 1,
    seed: int = 0,
    output_name: str = "action",
) -> tuple[bytes, dict[str, Any], dict[str, np.ndarray]]:
    """An ONNX model (bytes) whose action is a sum of linear maps of its flattened inputs (dynamic batch),
    its io_spec, and the weights by input name (so a test can compute the expected action)."""
    rng = np.random.default_rng(seed)
    inputs, nodes, initializers, partials = [], [], [], []
    weights: dict[str, np.ndarray] = {}
    spec: dict[str, Any] = {"format": 1, "images": []}
    out_width = action_dim * chunk

    def add_linear(name: str, shape: list[Any], width: int) -> None:
        inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", *shape]))
        w = rng.standard_normal((width, out_width)).astype(np.float32) * 0.1
        weights[name] = w
        initializers.append(numpy_helper.from_array(w, f"{name}_w"))
        nodes.append(helper.make_node("Flatten", [name], [f"{name}_flat"], axis=1))
        nodes.append(helper.make_node("MatMul", [f"{name}_flat", f"{name}_w"], [f"{name}_out"]))
        partials.append(f"{name}_out")

    if image_hw:
        h, w = image_hw
        add_linear("image", [3, h, w], 3 * h * w)
        spec["images"].append({"input": "image", "camera": "front", "height": h, "width": w, "layout": "NCHW"})
    if instruction_dim:
        add_linear("instruction", [instruction_dim], instruction_dim)
        spec["instruction"] = {"input": "instruction", "encoding": "hashed-ngrams-v1", "dim": instruction_dim}
    if state_dim:
        add_linear("state", [state_dim], state_dim)
        spec["state"] = {"input": "state", "dim": state_dim}
    nodes.append(helper.make_node("Sum", partials, ["flat_action"]))
    if chunk == 1:
        nodes.append(helper.make_node("Identity", ["flat_action"], [output_name]))
        out_shape: list[Any] = ["batch", action_dim]
    else:
        initializers.append(numpy_helper.from_array(np.array([-1, chunk, action_dim], dtype=np.int64), "shape"))
        nodes.append(helper.make_node("Reshape", ["flat_action", "shape"], [output_name]))
        out_shape = ["batch", chunk, action_dim]
    graph = helper.make_graph(
        nodes,
        "linear_policy",
        inputs,
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, out_shape)],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    spec["action"] = {"output": "action", "dim": action_dim, "chunk": chunk, "execute_steps": chunk}
    return model.SerializeToString(), spec, weights
