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


# ---------------------------------------------------------------- hostile models: external data anywhere

HOSTILE_SPEC: dict[str, Any] = {"state": {"input": "state", "dim": 2}, "action": {"output": "action", "dim": 2}}


def _external(name: str, location: str, dims: list[int]) -> TensorProto:
    """A float tensor whose bytes onnxruntime would read from `location` (relative to the model's folder)."""
    tensor = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=dims)
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", str(4 * int(np.prod(dims))))):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    return tensor


def _secret_constant(output: str, location: str) -> onnx.NodeProto:
    return helper.make_node("Constant", [], [output], value=_external(f"{output}_value", location, [2]))


def _inline_constant(output: str) -> onnx.NodeProto:
    return helper.make_node("Constant", [], [output], value=numpy_helper.from_array(np.zeros(2, np.float32)))


def _branch(name: str, node: onnx.NodeProto) -> onnx.GraphProto:
    return helper.make_graph([node], name, [], [helper.make_tensor_value_info(node.output[0], TensorProto.FLOAT, [2])])


def _hostile_model(
    nodes: list[onnx.NodeProto],
    *,
    initializers: list[TensorProto] = (),  # type: ignore[assignment]
    sparse: list[onnx.SparseTensorProto] = (),  # type: ignore[assignment]
    functions: list[onnx.FunctionProto] = (),  # type: ignore[assignment]
    domains: tuple[str, ...] = (),
) -> bytes:
    graph = helper.make_graph(
        nodes,
        "hostile",
        [helper.make_tensor_value_info("state", TensorProto.FLOAT, ["batch", 2])],
        [helper.make_tensor_value_info("action", TensorProto.FLOAT, ["batch", 2])],
        list(initializers),
        sparse_initializer=list(sparse),
    )
    opsets = [helper.make_opsetid("", 17)] + [helper.make_opsetid(d, 1) for d in domains]
    model = helper.make_model(graph, opset_imports=opsets, functions=list(functions))
    model.ir_version = 9
    return model.SerializeToString()


def _loop_with_if(location: str) -> list[onnx.NodeProto]:
    # Depth 2: the external Constant is in an If branch inside a Loop body.
    inner_if = helper.make_node(
        "If",
        ["cond_in"],
        ["k"],
        then_branch=_branch("then", _secret_constant("k_then", location)),
        else_branch=_branch("else", _inline_constant("k_else")),
    )
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
            inner_if,
            helper.make_node("Add", ["v_in", "k"], ["v_out"]),
        ],
        "body",
        [
            helper.make_tensor_value_info("iter", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v_in", TensorProto.FLOAT, [2]),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v_out", TensorProto.FLOAT, [2]),
        ],
    )
    return [
        helper.make_node("Constant", [], ["trips"], value=numpy_helper.from_array(np.array(1, np.int64))),
        helper.make_node("Constant", [], ["go"], value=numpy_helper.from_array(np.array(True))),
        _inline_constant("zero"),
        helper.make_node("Loop", ["trips", "go", "zero"], ["k_loop"], body=body),
        helper.make_node("Add", ["state", "k_loop"], ["action"]),
    ]


def _scan(location: str) -> list[onnx.NodeProto]:
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["s_in"], ["s_out"]),
            _secret_constant("k", location),
            helper.make_node("Add", ["x_in", "k"], ["y_out"]),
        ],
        "scan_body",
        [
            helper.make_tensor_value_info("s_in", TensorProto.FLOAT, [2]),
            helper.make_tensor_value_info("x_in", TensorProto.FLOAT, [2]),
        ],
        [
            helper.make_tensor_value_info("s_out", TensorProto.FLOAT, [2]),
            helper.make_tensor_value_info("y_out", TensorProto.FLOAT, [2]),
        ],
    )
    return [
        _inline_constant("s0"),
        helper.make_node("Scan", ["s0", "state"], ["s_final", "action"], body=body, num_scan_inputs=1),
    ]


def hostile_models(location: str) -> dict[str, bytes]:
    """One model per place ONNX can hold a tensor, each with a tensor whose bytes would be read from the
    external file `location`; the action is state + that tensor, so the file's bytes would reach the
    action. Keyed by where the external tensor sits."""
    add = helper.make_node("Add", ["state", "k"], ["action"])
    sparse_values = _external("k_values", location, [2])
    sparse_indices = numpy_helper.from_array(np.array([0, 1], np.int64), "k_indices")
    function = helper.make_function(
        "trialbench.test",
        "AddSecret",
        ["x"],
        ["y"],
        [_secret_constant("k", location), helper.make_node("Add", ["x", "k"], ["y"])],
        [helper.make_opsetid("", 17)],
    )
    return {
        "initializer": _hostile_model([add], initializers=[_external("k", location, [2])]),
        "sparse_initializer": _hostile_model(
            [helper.make_node("Identity", ["state"], ["action"])],
            sparse=[helper.make_sparse_tensor(_external("s_values", location, [2]), sparse_indices, [2])],
        ),
        "constant_value": _hostile_model([_secret_constant("k", location), add]),
        "constant_sparse_value": _hostile_model(
            [
                helper.make_node(
                    "Constant", [], ["k"], sparse_value=helper.make_sparse_tensor(sparse_values, sparse_indices, [2])
                ),
                add,
            ]
        ),
        "tensors_attribute": _hostile_model(
            [
                helper.make_node(
                    "Echo", ["state"], ["action"], domain="trialbench.test", weights=[_external("k", location, [2])]
                )
            ],
            domains=("trialbench.test",),
        ),
        "if_branch": _hostile_model(
            [
                helper.make_node("Constant", [], ["yes"], value=numpy_helper.from_array(np.array(True))),
                helper.make_node(
                    "If",
                    ["yes"],
                    ["k"],
                    then_branch=_branch("then", _secret_constant("k_then", location)),
                    else_branch=_branch("else", _inline_constant("k_else")),
                ),
                add,
            ]
        ),
        "if_inside_loop_body": _hostile_model(_loop_with_if(location)),
        "scan_body": _hostile_model(_scan(location)),
        "local_function": _hostile_model(
            [helper.make_node("AddSecret", ["state"], ["action"], domain="trialbench.test")],
            functions=[function],
            domains=("trialbench.test",),
        ),
    }
