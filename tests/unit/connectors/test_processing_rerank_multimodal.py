"""Rerank post-processing and multimodal pre-processing as the plugin's function classes do them."""
from __future__ import annotations

import json
from typing import Any

import pytest

from mlcommons_emu.connectors import processing as p
from mlcommons_emu.domain.release import Release
from mlcommons_emu.errors import IllegalArgumentError, MLError

NEW = Release.of("3.8.0")
COHERE = "connector.post_process.cohere.rerank"
BEDROCK = "connector.post_process.bedrock.rerank"
MULTIMODAL = "connector.pre_process.bedrock.multimodal_embedding"


def scores(name: str, results: Any) -> list[Any]:
    tensors = p.post_process(name, json.dumps({"results": results}), {}, NEW)
    assert all(t["name"] == "similarity" and t["shape"] == [1] for t in tensors)
    return [t["data"][0] for t in tensors]


class TestMultimodalPreProcess:
    def test_text_only(self):
        assert p.pre_process(MULTIMODAL, ["a cat"], NEW) == {"inputText": "a cat"}

    def test_a_single_null_doc_is_refused(self):
        for docs in ([], [None]):
            with pytest.raises(IllegalArgumentError, match="No input text or image provided"):
                p.pre_process(MULTIMODAL, docs, NEW)

    def test_two_docs_always_pass(self):
        assert p.pre_process(MULTIMODAL, [None, "aGk="], NEW) == {"inputText": "null", "inputImage": "aGk="}
        assert p.pre_process(MULTIMODAL, [None, None], NEW) == {"inputText": "null", "inputImage": "null"}


class TestCohereRerank:
    def test_input_that_is_not_a_list(self):
        with pytest.raises(IllegalArgumentError, match=r"^Post process function input is not a List\.$"):
            scores(COHERE, {"index": 0})

    def test_first_result_not_a_map(self):
        with pytest.raises(IllegalArgumentError, match="not a List of Map"):
            scores(COHERE, [1])

    def test_empty_results_give_no_tensors(self):
        assert scores(COHERE, []) == []

    @pytest.mark.parametrize("index", [1.0, "1", True, None])
    def test_an_index_that_is_not_an_integer_is_a_500(self, index):
        with pytest.raises(MLError, match="Fail to execute PREDICT in aws connector"):
            scores(COHERE, [{"index": 0, "relevance_score": 0.5}, {"index": index, "relevance_score": 0.4}])

    def test_top_n_below_the_documents_is_a_500(self):
        with pytest.raises(MLError):
            scores(COHERE, [{"index": 3, "relevance_score": 0.5}])

    def test_only_the_first_result_must_carry_a_score(self):
        assert scores(COHERE, [{"index": 1, "relevance_score": 0.9}, {"index": 0}]) == [None, 0.9]

    def test_an_integer_score_is_a_500(self):
        with pytest.raises(MLError):
            scores(COHERE, [{"index": 0, "relevance_score": 1}])


class TestBedrockRerank:
    def test_scores_in_index_order(self):
        assert scores(BEDROCK, [{"index": 1, "relevanceScore": 0.9}, {"index": 0, "relevanceScore": 0.1}]) == [
            0.1, 0.9]

    def test_every_result_is_validated_before_any_is_read(self):
        # the first result alone would overflow the score array; validation of the second wins
        with pytest.raises(IllegalArgumentError, match="Rerank result is not a Map."):
            scores(BEDROCK, [{"index": 5, "relevanceScore": 0.9}, "x"])

    @pytest.mark.parametrize("results,message", [
        ([], "Post process function input is empty."),
        ([{}], "Rerank result is empty."),
        ([{"index": 0}], "Rerank result should have both index and relevanceScore."),
        ([{"index": 0, "relevanceScore": 1}], "relevanceScore is not BigDecimal or Double."),
    ])
    def test_validation_messages(self, results, message):
        with pytest.raises(IllegalArgumentError, match=message):
            scores(BEDROCK, results)

    @pytest.mark.parametrize("index", [0.0, "0", False, 2])
    def test_an_index_the_cast_or_the_array_refuses_is_a_500(self, index):
        with pytest.raises(MLError, match="Fail to execute PREDICT in aws connector"):
            scores(BEDROCK, [{"index": index, "relevanceScore": 0.5}, {"index": 1, "relevanceScore": 0.4}])
