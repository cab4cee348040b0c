"""Condition queries from text embeddings of the names (MiniLM or BioBERT), anatomical by Xavier."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from state.errors import ConfigError
from tests.tools.radiology.model_support import write_tiny_bert
from tools.models.embedder import MiniLMEmbedder
from tools.radiology.conditions import CONDITIONS
from tools.radiology.queries import (
    AnatomicalQueries,
    BioBertEmbedder,
    ConditionQueries,
    condition_name_vectors,
    project_name_vectors,
    xavier_std,
)


@pytest.fixture(scope="module")
def minilm_vectors() -> torch.Tensor:
    return condition_name_vectors(MiniLMEmbedder.load("cpu", quantize=False, trace=False))


def _queries(vectors: torch.Tensor, width: int = 128, seed: int = 0) -> torch.Tensor:
    queries = ConditionQueries(14, width)
    queries.init_from_text(vectors, seed=seed)
    return queries.queries.detach().clone()


def test_minilm_init_differs_per_condition_and_is_deterministic(minilm_vectors) -> None:
    assert minilm_vectors.shape == (14, 384)
    first = _queries(minilm_vectors)
    reloaded = MiniLMEmbedder.load("cpu", quantize=False, trace=False)
    again = _queries(condition_name_vectors(reloaded))
    torch.testing.assert_close(first, again)
    cosine = F.normalize(first, dim=1) @ F.normalize(first, dim=1).T
    off_diagonal = cosine[~torch.eye(14, dtype=torch.bool)]
    assert float(off_diagonal.max()) < 0.95  # every condition gets its own direction


def test_related_conditions_start_closer_than_unrelated_ones(minilm_vectors) -> None:
    queries = F.normalize(_queries(minilm_vectors, width=768), dim=1)
    index = CONDITIONS.index
    related = queries[index("Pleural Effusion")] @ queries[index("Pleural Other")]
    unrelated = queries[index("Pleural Effusion")] @ queries[index("Support Devices")]
    assert related > unrelated


def test_queries_start_at_the_xavier_scale_of_the_anatomical_queries(minilm_vectors) -> None:
    queries = _queries(minilm_vectors)
    target = xavier_std(14, 128)
    assert torch.allclose(queries.std(dim=1), torch.full((14,), target), rtol=0.05)
    anatomical = AnatomicalQueries(6, 128).queries.detach()
    assert float(anatomical.abs().max()) <= (6.0 / (6 + 128)) ** 0.5  # Xavier-uniform bound


def test_projection_depends_on_the_seed_only(minilm_vectors) -> None:
    same = project_name_vectors(minilm_vectors, 64, seed=7)
    torch.testing.assert_close(same, project_name_vectors(minilm_vectors, 64, seed=7))
    assert not torch.allclose(same, project_name_vectors(minilm_vectors, 64, seed=8))


def test_equal_widths_keep_each_vector_direction() -> None:
    vectors = torch.randn(14, 32, generator=torch.Generator().manual_seed(0))
    projected = project_name_vectors(vectors, 32, seed=0)
    centred = vectors - vectors.mean(dim=1, keepdim=True)
    cosine = F.cosine_similarity(projected, centred, dim=1)
    torch.testing.assert_close(cosine, torch.ones(14))


def test_biobert_embedder_takes_the_cls_vector_from_a_local_folder(tmp_path) -> None:
    vectors = condition_name_vectors(BioBertEmbedder(write_tiny_bert(tmp_path / "biobert")))
    assert vectors.shape == (14, 32)
    assert torch.unique(vectors, dim=0).shape[0] == 14


def test_rejects_a_wrong_number_of_name_vectors() -> None:
    with pytest.raises(ConfigError, match="name vectors"):
        ConditionQueries(14, 32).init_from_text(torch.zeros(13, 32), seed=0)
