"""The torch-free MiniLM sentence encoder, checked against the similarities sentence-transformers
publishes for all-MiniLM-L6-v2 (docs/sentence_transformer/usage/semantic_textual_similarity.rst in
huggingface/sentence-transformers: the 3x3 STS example and the weather example, to 4 decimals)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
import pytest

from core.policy.text_encoder import DIM, MAX_TOKENS, SentenceEncoder, WordPieceTokenizer, minilm_dir, minilm_onnx_model


@pytest.fixture(scope="module")
def encoder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentenceEncoder]:
    path = tmp_path_factory.mktemp("minilm") / "minilm.onnx"
    onnx.save(minilm_onnx_model(), str(path))
    yield SentenceEncoder(path)


@pytest.fixture(scope="module")
def tokenizer() -> WordPieceTokenizer:
    return WordPieceTokenizer(minilm_dir() / "vocab.txt")


def test_wordpiece_splits_unknown_words_into_known_pieces(tokenizer: WordPieceTokenizer) -> None:
    # Greedy longest match over the uncased vocabulary, as BERT's tokenizer does.
    assert tokenizer.tokens("tokenization") == ["token", "##ization"]
    assert tokenizer.tokens("unaffable") == ["una", "##ffa", "##ble"]
    assert tokenizer.tokens("bolt\u2603 box") == ["[UNK]", "box"]  # a word no pieces cover is unknown
    assert tokenizer.tokens("Kit the BOLT, please!") == ["kit", "the", "bolt", ",", "please", "!"]
    assert tokenizer.tokens("Café") == ["cafe"]
    ids = tokenizer.ids("kit the bolt")
    assert ids[0] == tokenizer.cls and ids[-1] == tokenizer.sep and len(ids) == 5
    assert len(tokenizer.ids("bolt " * 500)) == MAX_TOKENS


def test_published_similarities_are_reproduced(encoder: SentenceEncoder) -> None:
    first = encoder.encode(["The new movie is awesome", "The cat sits outside", "A man is playing guitar"])
    second = encoder.encode(["The dog plays in the garden", "The new movie is so great", "A woman watches TV"])
    published = np.array(
        [[0.0543, 0.8939, -0.0502], [0.2838, -0.0029, 0.1310], [0.2277, -0.0136, -0.0327]], dtype=np.float32
    )
    np.testing.assert_allclose(first @ second.T, published, atol=6e-4)
    weather = encoder.encode(["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."])
    np.testing.assert_allclose((weather @ weather.T)[np.triu_indices(3, 1)], [0.6660, 0.1046, 0.1411], atol=6e-4)


def test_embeddings_are_unit_length_deterministic_and_independent_of_padding(encoder: SentenceEncoder) -> None:
    texts = ["kit the bolt", "put the orange cube into the kit tray, next to the bracket"]
    batch = encoder.encode(texts)
    assert batch.shape == (2, DIM) and batch.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(batch, encoder.encode(texts))
    # The short text, padded in the batch, embeds as it does alone.
    np.testing.assert_allclose(batch[0], encoder.encode(texts[:1])[0], atol=1e-6)


def test_the_model_is_plain_onnx_without_external_data(tmp_path: Path) -> None:
    model = minilm_onnx_model()
    assert {i.name for i in model.graph.input} == {"input_ids", "attention_mask"}
    assert [o.name for o in model.graph.output] == ["embedding"]
    assert all(not t.external_data for t in model.graph.initializer)
    assert not any(node.domain for node in model.graph.node)  # standard operators only
