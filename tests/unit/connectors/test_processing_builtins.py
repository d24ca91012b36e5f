"""Built-in pre/post-process functions, with the examples of the runtime reference."""
from __future__ import annotations

import json

import pytest

from mlcommons_emu.connectors import processing as p
from mlcommons_emu.domain.release import Release
from mlcommons_emu.errors import IllegalArgumentError, MLError, ScriptError

NEW = Release.of("3.8.0")
OLD = Release.of("3.2.0")


class TestPreProcess:
    def test_openai_embedding_puts_all_docs_in_input(self):
        assert p.pre_process("connector.pre_process.openai.embedding", ["a", 'b"c'], NEW) == {"input": '["a","b\\"c"]'}

    def test_cohere_embedding_puts_docs_in_texts(self):
        assert p.pre_process("connector.pre_process.cohere.embedding", ["x"], NEW) == {"texts": '["x"]'}

    def test_bedrock_embedding_takes_the_first_doc_escaped(self):
        assert p.pre_process("connector.pre_process.bedrock.embedding", ['He said "hi"'], NEW) == {
            "inputText": 'He said \\"hi\\"'}

    def test_bedrock_multimodal(self):
        assert p.pre_process("connector.pre_process.bedrock.multimodal_embedding", ["a cat", "aGk="], NEW) == {
            "inputText": "a cat", "inputImage": "aGk="}

    def test_rerank_needs_similarity_input(self):
        out = p.pre_process("connector.pre_process.cohere.rerank", ["d1", "d2"], NEW, query_text="q")
        assert out == {"query": "q", "documents": '["d1","d2"]', "top_n": "2"}
        with pytest.raises(IllegalArgumentError, match="can only support TextSimilarityInputDataSet"):
            p.pre_process("connector.pre_process.cohere.rerank", ["d1"], NEW)

    def test_embedding_refuses_similarity_input(self):
        with pytest.raises(IllegalArgumentError, match="can only support TextDocsInputDataSet"):
            p.pre_process("connector.pre_process.openai.embedding", ["d"], NEW, query_text="q")

    def test_no_function_defaults_to_the_default_embedding(self):
        assert p.pre_process(None, ["a"], NEW) == {"input": '["a"]'}

    def test_other_values_are_scripts(self):
        with pytest.raises(ScriptError) as info:
            p.pre_process("return params.text_docs;", ["a"], NEW)
        assert info.value.script == "return params.text_docs;"

    def test_names_newer_than_the_release_are_scripts(self):
        assert p.builtin_pre_process("connector.pre_process.bedrock.embedding", Release.of("2.11.0")) is None
        assert p.builtin_pre_process("connector.pre_process.bedrock.embedding", Release.of("2.12.0")) is not None


class TestSplitting:
    def test_bedrock_embedding_is_one_call_per_doc(self):
        assert p.split_documents(["a", "b"], {}, "connector.pre_process.bedrock.embedding", NEW) == [["a"], ["b"]]

    def test_other_builtins_make_one_call(self):
        assert p.split_documents(["a", "b"], {}, "connector.pre_process.openai.embedding", NEW) == [["a", "b"]]

    def test_scripts_run_per_doc(self):
        assert p.split_documents(["a", "b"], {}, "some painless", NEW) == [["a"], ["b"]]

    def test_step_size_from_the_connector(self):
        params = {"input_docs_processed_step_size": "2"}
        assert p.split_documents(["a", "b", "c"], params, "connector.pre_process.openai.embedding", NEW) == [
            ["a", "b"], ["c"]]

    @pytest.mark.parametrize("step", ["0", "-1", "x"])
    def test_step_size_must_be_positive(self, step):
        with pytest.raises(IllegalArgumentError, match="It must be positive integer."):
            p.split_documents(["a"], {"input_docs_processed_step_size": step}, None, NEW)


class TestPostProcess:
    def test_openai_embedding_gives_one_tensor_per_vector(self):
        body = json.dumps({"object": "list", "data": [{"embedding": [0.1, 0.2]}, {"embedding": [0.3, 0.4]}]})
        assert p.post_process("connector.post_process.openai.embedding", body, {}, NEW) == [
            {"name": "sentence_embedding", "data_type": "FLOAT32", "shape": [2], "data": [0.1, 0.2]},
            {"name": "sentence_embedding", "data_type": "FLOAT32", "shape": [2], "data": [0.3, 0.4]},
        ]

    def test_bedrock_embedding_single_vector(self):
        out = p.post_process("connector.post_process.bedrock.embedding",
                             json.dumps({"embedding": [1, 2, 3], "inputTextTokenCount": 1}), {}, NEW)
        assert out == [{"name": "sentence_embedding", "data_type": "FLOAT32", "shape": [3], "data": [1.0, 2.0, 3.0]}]

    def test_cohere_v2_int8_data_type_comes_from_the_path(self):
        out = p.post_process("connector.post_process.cohere_v2.embedding.int8",
                             json.dumps({"embeddings": {"int8": [[1, -2]]}}), {}, NEW)
        assert out == [{"name": "sentence_embedding", "data_type": "INT8", "shape": [2], "data": [1, -2]}]

    def test_rerank_orders_scores_by_index(self):
        body = json.dumps({"results": [{"index": 1, "relevance_score": 0.9}, {"index": 0, "relevance_score": 0.1}]})
        assert p.post_process("connector.post_process.cohere.rerank", body, {}, NEW) == [
            {"name": "similarity", "data_type": "FLOAT32", "shape": [1], "data": [0.1]},
            {"name": "similarity", "data_type": "FLOAT32", "shape": [1], "data": [0.9]},
        ]

    def test_response_filter_replaces_the_default_path(self):
        body = json.dumps({"result": {"vectors": [[0.5]]}})
        out = p.post_process("connector.post_process.openai.embedding", body,
                             {"response_filter": "$.result.vectors"}, NEW)
        assert out[0]["data"] == [0.5]

    def test_validation_error_is_400_from_3_3_and_500_before(self):
        body = json.dumps({"data": [{"embedding": "nope"}]})
        with pytest.raises(IllegalArgumentError, match="The embedding should be a non-empty List"):
            p.post_process("connector.post_process.openai.embedding", body, {}, NEW)
        with pytest.raises(MLError, match="Fail to execute PREDICT in aws connector"):
            p.post_process("connector.post_process.openai.embedding", body, {}, OLD)

    def test_missing_path_is_a_500(self):
        with pytest.raises(MLError, match="Fail to execute PREDICT in aws connector"):
            p.post_process("connector.post_process.bedrock.embedding", json.dumps({"other": 1}), {}, NEW)

    def test_null_output(self):
        with pytest.raises(IllegalArgumentError, match="model output is null"):
            p.post_process("connector.post_process.bedrock.embedding", json.dumps({"embedding": None}), {}, NEW)


class TestJsonPath:
    DOC = {"a": {"b": [{"c": 1}, {"c": 2}]}, "k.x": 3, "list": [[1], [2]]}

    @pytest.mark.parametrize("path,expected", [
        ("$", DOC), ("$.a.b[0].c", 1), ("$.a.b[*].c", [1, 2]), ("$['k.x']", 3), ("$.list[*]", [[1], [2]]),
        ("$.a.b[-1].c", 2),
    ])
    def test_paths(self, path, expected):
        assert p.json_path(self.DOC, path) == expected

    def test_missing_definite_path_raises(self):
        with pytest.raises(p.PathNotFoundError):
            p.json_path(self.DOC, "$.a.zzz")
