"""Unit tests for mlcommons_emu.connectors.templating (semantics 1.1-1.7 and 4.7)."""
from __future__ import annotations

import json

import pytest

from mlcommons_emu.connectors.templating import (
    add_to_string_keys,
    escape_json,
    looks_like_json,
    merge_parameters,
    predict_parameters,
    render_headers,
    render_payload,
    render_template,
    render_url,
    resolve_credential_headers,
    to_parameter_string,
    validate_header_templates,
)
from mlcommons_emu.errors import EmulatorError, IllegalArgumentError, IllegalStateError


def _err(exc_info: pytest.ExceptionInfo[EmulatorError]) -> str:
    return exc_info.value.reason


# --- 1.1 layering ------------------------------------------------------------------------------


def test_merge_example_predict_wins_over_connector() -> None:
    connector = predict_parameters({"model": "gpt-4o-mini", "temperature": 0.2}, escape=False)
    predict = predict_parameters(json.loads('{"model": "gpt-4o", "prompt": "hi"}'))
    assert merge_parameters(connector, predict) == {
        "model": "gpt-4o", "temperature": "0.2", "prompt": "hi"}


def test_merge_predict_wins_over_preprocess_output() -> None:
    merged = merge_parameters({"a": "c", "b": "c"}, {"a": "p"},
                              {"a": "pre", "b": "pre", "x": "pre"})
    assert merged == {"a": "p", "b": "pre", "x": "pre"}


def test_merge_before_2_12_preprocess_output_written_last() -> None:
    merged = merge_parameters({"a": "c"}, {"a": "p"}, {"a": "pre"}, predict_wins=False)
    assert merged == {"a": "pre"}


# --- 1.2 non-string values ---------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "expected"), [
    ('"abc"', "abc"),
    ("5", "5"),
    ("0.7", "0.7"),
    ("1e-5", "1.0E-5"),
    ("true", "true"),
    ('["a", "b"]', '["a","b"]'),
    ('{"a": {"b": 1}}', '{"a":{"b":1}}'),
    ('[{"role":"user","content":"He said \\"hi\\""}]',
     '[{"role":"user","content":"He said \\"hi\\""}]'),
    ("100.0", "100.0"),
    ("1E2", "100.0"),
    ("5.0", "5.0"),
    ("12345678901234567890", "12345678901234567890"),
    ("1e7", "1.0E7"),
    ("0.001", "0.001"),
    ("0.0001", "1.0E-4"),
    ("4.9E-324", "4.9E-324"),
    ('["hello", "wörld"]', '["hello","wörld"]'),
    ('["<b>&\'="]', '["<b>&\'="]'),
    ('{"a": null}', '{"a":null}'),
])
def test_to_parameter_string_table(raw: str, expected: str) -> None:
    assert to_parameter_string(json.loads(raw)) == expected


def test_to_parameter_string_none_is_java_null() -> None:
    assert to_parameter_string(None) is None


def test_json_null_predict_value_is_the_string_null() -> None:
    assert predict_parameters({"x": None}) == {"x": "null"}
    assert predict_parameters({"x": None}, escape=False) == {"x": "null"}


def test_connector_number_parameter_kept_as_string() -> None:
    assert predict_parameters({"max_tokens": 100}, escape=False) == {"max_tokens": "100"}


def test_legacy_gson_html_escapes_and_drops_null_members() -> None:
    value = {"t": "<b>&'=", "n": None, "l": [None]}
    assert to_parameter_string(value) == '{"t":"<b>&\'=","n":null,"l":[null]}'
    assert to_parameter_string(value, legacy_gson=True) == \
        '{"t":"\\u003cb\\u003e\\u0026\\u0027\\u003d","l":[null]}'


def test_non_finite_double_is_refused_like_gson() -> None:
    with pytest.raises(IllegalArgumentError) as exc:
        to_parameter_string([float("inf")])
    assert _err(exc) == ("Infinity is not a valid double value as per JSON specification. To "
                         "override this behavior, use "
                         "GsonBuilder.serializeSpecialFloatingPointValues() method.")


def test_template_decides_quoting() -> None:
    params = {"temperature": "0.2", "input": '["a","b"]'}
    assert render_template('"t": ${parameters.temperature}', params) == '"t": 0.2'
    assert render_template('"t": "${parameters.temperature}"', params) == '"t": "0.2"'
    assert render_template('"input": ${parameters.input}', params) == '"input": ["a","b"]'


# --- 1.3 escaping ------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "expected"), [
    ("hello world", "hello world"),
    ('He said "hi"', 'He said \\"hi\\"'),
    ("line1\nline2\tend", "line1\\nline2\\tend"),
    ("a/b", "a\\/b"),
    ("café", "caf\\u00E9"),
    ("😀", "\\uD83D\\uDE00"),
    ("back\\slash", "back\\\\slash"),
    ("\b\f\r", "\\b\\f\\r"),
    ("\x01\x1f\x7f", "\\u0001\\u001F\\u007F"),
    ("\u2028", "\\u2028"),
    ("~ ", "~ "),
])
def test_escape_json_table(raw: str, expected: str) -> None:
    assert escape_json(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("hello world", "hello world"),
    ('He said "hi"', 'He said \\"hi\\"'),
    ("line1\nline2\tend", "line1\\nline2\\tend"),
    ("a/b", "a\\/b"),
    ("café", "caf\\u00E9"),
    ("😀", "\\uD83D\\uDE00"),
])
def test_predict_string_values_are_escaped(raw: str, expected: str) -> None:
    assert predict_parameters({"p": raw}) == {"p": expected}


def test_predict_json_values_are_not_escaped() -> None:
    params = predict_parameters({"list": ["x", 'y"z'], "text": '{"k":1}', "lenient": "[abc]",
                                 "scalar": '"x"', "num": 5})
    assert params == {"list": '["x","y\\"z"]', "text": '{"k":1}', "lenient": "[abc]",
                      "scalar": '\\"x\\"', "num": "5"}


def test_no_escape_params_exempts_listed_keys() -> None:
    params = predict_parameters({"a": 'say "hi"', "b": 'say "hi"', "c": "x/y",
                                 "no_escape_params": "a , c"})
    assert params == {"a": 'say "hi"', "b": 'say \\"hi\\"', "c": "x/y",
                      "no_escape_params": "a , c"}


def test_no_escape_params_ignored_before_3_0() -> None:
    params = predict_parameters({"a": 'say "hi"', "no_escape_params": "a"},
                                honour_no_escape_params=False)
    assert params == {"a": 'say \\"hi\\"', "no_escape_params": "a"}


def test_escape_false_is_2_9_raw_substitution() -> None:
    assert predict_parameters({"p": 'He said "hi"'}, escape=False) == {"p": 'He said "hi"'}


def test_json_looking_string_inside_quotes_gives_invalid_payload() -> None:
    params = predict_parameters({"x": '{"k":1}'})
    with pytest.raises(IllegalArgumentError) as exc:
        render_payload('{"v": "${parameters.x}"}', params)
    assert _err(exc) == 'Invalid payload: {"v": "{"k":1}"}'


def test_escaping_reaches_the_url() -> None:
    params = merge_parameters({}, predict_parameters({"path": "a/b"}))
    assert render_url("https://api.example.com/${parameters.path}", params) == \
        "https://api.example.com/a\\/b"


@pytest.mark.parametrize(("text", "current", "org_json_only"), [
    ("[abc]", True, True),
    ("{a: 'b'}", True, True),
    ('{"k":1}', True, True),
    ("[1,,2]", True, True),
    ("[]", True, True),
    ("5", False, False),
    ("true", False, False),
    ("null", False, False),
    ('"x"', False, False),
    ("", False, False),
    ("   ", False, False),
    ("[abc def]", False, True),
    ('{"a":1,}', False, True),
    ('{"a":1} and more', False, True),
    ("[1] // comment", False, True),
    ('{"a":1,"a":2}', False, False),
    ('["a\nb"]', False, False),
    ('{"a" = 1}', False, False),
])
def test_looks_like_json(text: str, current: bool, org_json_only: bool) -> None:
    assert looks_like_json(text) is current
    assert looks_like_json(text, org_json_only=True) is org_json_only


def test_before_2_12_trailing_text_counts_as_json_and_is_not_escaped() -> None:
    value = '["a"] "tail"'
    assert predict_parameters({"p": value}, org_json_only=True) == {"p": value}
    assert predict_parameters({"p": value}) == {"p": '[\\"a\\"] \\"tail\\"'}


# --- 1.4 the substitution engine ----------------------------------------------------------------


def test_dotted_names_are_literal_keys() -> None:
    assert render_template("${parameters.a.b}", {"a.b": "x"}) == "x"


def test_nested_objects_are_not_flattened() -> None:
    params = predict_parameters({"cfg": {"a": {"b": 1}}})
    assert render_template("${parameters.cfg.a}", params) == "${parameters.cfg.a}"


def test_unknown_name_left_verbatim() -> None:
    assert render_template("x ${parameters.nope} y", {"a": "1"}) == "x ${parameters.nope} y"


def test_defaults() -> None:
    assert render_template("${parameters.x:-7}", {}) == "7"
    assert render_template("[${parameters.x:-}]", {}) == "[]"
    assert render_template("${parameters.x:-7}", {"x": "3"}) == "3"
    assert render_template("${parameters.x:-7}", {"x": None}) == "7"


def test_null_default_rewrite_with_quotes() -> None:
    body = '{"image": "${parameters.image:-null}"}'
    assert render_template(body, {}) == '{"image": null}'
    assert render_template(body, {"image": None}) == '{"image": null}'
    assert render_template(body, {"image": "abc"}) == '{"image": "abc"}'


def test_json_null_predict_value_does_not_trigger_null_rewrite() -> None:
    params = predict_parameters(json.loads('{"image": null}'))
    assert render_template('{"image": "${parameters.image:-null}"}', params) == '{"image": "null"}'


def test_null_default_rewrite_absent_in_2_9() -> None:
    assert render_template('{"image": "${parameters.image:-null}"}', {},
                           null_default_rewrite=False) == '{"image": "null"}'


def test_recursive_resolution_through_connector_parameter() -> None:
    params = merge_parameters({"prompt": "Q: ${parameters.question}"},
                              predict_parameters({"question": "why?"}))
    assert render_template('{"p": "${parameters.prompt}"}', params) == '{"p": "Q: why?"}'


def test_self_reference_cycle_raises_illegal_state() -> None:
    template = '{"a": "${parameters.a}"}'
    with pytest.raises(IllegalStateError) as exc:
        render_template(template, {"a": "${parameters.a}"})
    assert _err(exc) == 'Infinite loop in property interpolation of {"a": "${parameters.a}"}: a'
    assert exc.value.status == 500


def test_two_step_cycle_lists_the_chain() -> None:
    with pytest.raises(IllegalStateError) as exc:
        render_template("${parameters.a}", {"a": "${parameters.b}", "b": "${parameters.a}"})
    assert _err(exc) == "Infinite loop in property interpolation of ${parameters.a}: a->b"


def test_dollar_escape() -> None:
    assert render_template('{"x": "$${parameters.x}"}', {"x": "1"}) == '{"x": "${parameters.x}"}'
    with pytest.raises(IllegalArgumentError) as exc:
        render_payload('{"x": "$${parameters.x}"}', {"x": "1"})
    assert _err(exc) == "Some parameter placeholder not filled in payload: x"


def test_placeholder_inside_name_not_expanded() -> None:
    assert render_template("${parameters.a${parameters.b}}", {"a": "1", "b": "2"}) == \
        "${parameters.a${parameters.b}}"


def test_to_string_helper_example() -> None:
    params = merge_parameters({"prompt": "Context: ${parameters.context.toString()}"},
                              predict_parameters({"context": ['doc "1"']}))
    assert params["context"] == '["doc \\"1\\""]'
    assert add_to_string_keys(params)["context.toString()"] == '[\\"doc \\\\\\"1\\\\\\"\\"]'
    rendered = render_payload('{"prompt": "${parameters.prompt}"}', params)
    assert rendered == '{"prompt": "Context: [\\"doc \\\\\\"1\\\\\\"\\"]"}'


def test_to_string_written_directly_in_body_stays_unresolved() -> None:
    params = predict_parameters({"context": ["a"]})
    with pytest.raises(IllegalArgumentError) as exc:
        render_payload('{"c": "${parameters.context.toString()}"}', params)
    assert _err(exc) == "Some parameter placeholder not filled in payload: context.toString()"


def test_to_string_after_another_placeholder_on_the_same_line_is_not_added() -> None:
    # The plugin's lazy regex captures "q} C: ${parameters.context" as the name.
    params = merge_parameters(
        {"prompt": "Q: ${parameters.q} C: ${parameters.context.toString()}"},
        predict_parameters({"q": "why", "context": ["a"]}))
    assert "context.toString()" not in add_to_string_keys(params)
    with pytest.raises(IllegalArgumentError) as exc:
        render_payload('{"p": "${parameters.prompt}"}', params)
    assert _err(exc) == "Some parameter placeholder not filled in payload: context.toString()"


def test_to_string_keys_absent_before_2_17() -> None:
    params = {"prompt": "C: ${parameters.c.toString()}", "c": '["a"]'}
    assert render_template('{"p": "${parameters.prompt}"}', params, to_string_keys=False) == \
        '{"p": "C: ${parameters.c.toString()}"}'


# --- 1.5 what is substituted where ----------------------------------------------------------------


def test_credentials_never_reach_body_or_url() -> None:
    params = {"key": "p"}
    assert render_template('{"k": "${credential.key}"}', params) == '{"k": "${credential.key}"}'
    assert render_url("https://h/${credential.key}/${parameters.key}", params) == \
        "https://h/${credential.key}/p"


def test_credential_headers_and_unknown_credential_left_literally() -> None:
    headers = {"Authorization": "Bearer ${credential.openAI_key}", "X-Other": "${credential.nope}"}
    assert resolve_credential_headers(headers, {"openAI_key": "sk-123"}) == {
        "Authorization": "Bearer sk-123", "X-Other": "${credential.nope}"}


def test_render_url_empty_parameters_leaves_url_untouched() -> None:
    assert render_url("https://h/$${parameters.x}", {}) == "https://h/$${parameters.x}"
    assert render_url("https://h/$${parameters.x}", {"y": "1"}) == "https://h/${parameters.x}"


# --- 1.6 building the body ----------------------------------------------------------------------


def test_quoted_missing_placeholder_reports_the_name() -> None:
    with pytest.raises(IllegalArgumentError) as exc:
        render_payload('{"input": "${parameters.input}", "user": "${parameters.user}"}',
                       {"input": "x"})
    assert _err(exc) == "Some parameter placeholder not filled in payload: user"
    assert exc.value.status == 400


def test_unquoted_missing_placeholder_makes_invalid_payload() -> None:
    with pytest.raises(IllegalArgumentError) as exc:
        render_payload('{"k": ${parameters.k} }', {})
    assert _err(exc) == 'Invalid payload: {"k": ${parameters.k} }'


def test_defaults_in_body() -> None:
    body = '{"temperature": ${parameters.temperature:-0.7}, "image": "${parameters.image:-null}"}'
    assert render_payload(body, {}) == '{"temperature": 0.7, "image": null}'


def test_dotted_placeholder_not_satisfied_by_nested_predict_value() -> None:
    params = predict_parameters({"cfg": {"a": {"b": 1}}})
    with pytest.raises(IllegalArgumentError) as exc:
        render_payload('{"x": "${parameters.cfg.a.b}"}', params)
    assert _err(exc) == "Some parameter placeholder not filled in payload: cfg.a.b"


def test_missing_names_listed_in_order_with_duplicates() -> None:
    body = '{"a": "${parameters.x}", "b": "${parameters.y}", "c": "${parameters.x}"}'
    with pytest.raises(IllegalArgumentError) as exc:
        render_payload(body, {})
    assert _err(exc) == "Some parameter placeholder not filled in payload: x, y, x"


def test_skip_validating_missing_parameters() -> None:
    body = '{"a": "${parameters.x}"}'
    assert render_payload(body, {"skip_validating_missing_parameters": "true"}) == body
    assert render_payload(body, {"skip_validating_missing_parameters": "TRUE"}) == body
    assert render_payload(body, {}, validate_missing=False) == body
    with pytest.raises(IllegalArgumentError) as exc:
        render_payload(body, {"skip_validating_missing_parameters": "true"},
                       honour_skip_parameter=False)
    assert _err(exc) == "Some parameter placeholder not filled in payload: x"


def test_ndjson_accepted_from_3_5() -> None:
    body = '{"index": {"_index": "i"}}\n{"text": "${parameters.t}"}\n'
    assert render_payload(body, {"t": "hi"}) == '{"index": {"_index": "i"}}\n{"text": "hi"}\n'
    with pytest.raises(IllegalArgumentError) as exc:
        render_payload(body, {"t": "hi"}, allow_ndjson=False)
    assert _err(exc) == 'Invalid payload: {"index": {"_index": "i"}}\n{"text": "hi"}\n'


def test_ndjson_with_a_bad_line_is_invalid() -> None:
    with pytest.raises(IllegalArgumentError) as exc:
        render_payload('{"a": 1}\nnot json\n', {})
    assert _err(exc) == 'Invalid payload: {"a": 1}\nnot json\n'


def test_old_style_invalid_payload_message() -> None:
    with pytest.raises(IllegalArgumentError) as exc:
        render_payload('{"k": ${parameters.k} }', {}, invalid_payload_style="old",
                       allow_ndjson=False)
    assert _err(exc) == "Invalid JSON in payload"


def test_old_style_2_9_raw_quote_breaks_the_payload() -> None:
    params = merge_parameters({}, predict_parameters({"prompt": 'He said "hi"'}, escape=False))
    with pytest.raises(IllegalArgumentError) as exc:
        render_payload('{"p": "${parameters.prompt}"}', params, invalid_payload_style="old",
                       allow_ndjson=False, null_default_rewrite=False, to_string_keys=False)
    assert _err(exc) == "Invalid JSON in payload"


def test_old_style_uses_org_json_only() -> None:
    body = '{"a": "${parameters.a}"} tail'
    assert render_payload(body, {"a": "x"}, invalid_payload_style="old", allow_ndjson=False) == \
        '{"a": "x"} tail'
    with pytest.raises(IllegalArgumentError) as exc:
        render_payload(body, {"a": "x"}, allow_ndjson=False)
    assert _err(exc) == 'Invalid payload: {"a": "x"} tail'


def test_no_request_body_uses_http_body() -> None:
    assert render_payload(None, {"http_body": '{"raw": true}'}) == '{"raw": true}'
    assert render_payload(None, {}) is None
    with pytest.raises(IllegalArgumentError) as exc:
        render_payload(None, {"http_body": '{"x": "${parameters.x}"}'})
    assert _err(exc) == "Some parameter placeholder not filled in payload: x"


def test_parameters_text_without_a_name_breaks_validate_payload() -> None:
    with pytest.raises(EmulatorError) as exc:
        render_payload('{"x": "${parameters"}', {})
    assert exc.value.type == "string_index_out_of_bounds_exception"
    assert exc.value.status == 500
    assert _err(exc) == "Range [0, -2) out of bounds for length 0"


# --- 1.7 worked examples ------------------------------------------------------------------------


def test_worked_example_openai_chat_string_input() -> None:
    params = merge_parameters({"model": "gpt-4o-mini"},
                              predict_parameters({"prompt": 'Say "hi" in café'}))
    body = ('{"model": "${parameters.model}", "messages": [{"role": "user", '
            '"content": "${parameters.prompt}"}]}')
    assert render_payload(body, params) == (
        '{"model": "gpt-4o-mini", "messages": [{"role": "user", '
        '"content": "Say \\"hi\\" in caf\\u00E9"}]}')


def test_worked_example_structured_messages() -> None:
    params = merge_parameters({"model": "gpt-4o-mini"}, predict_parameters(
        json.loads('{"messages": [{"role": "user", "content": "hello"}]}')))
    body = '{"model": "${parameters.model}", "messages": ${parameters.messages}}'
    assert render_payload(body, params) == \
        '{"model": "gpt-4o-mini", "messages": [{"role":"user","content":"hello"}]}'


def test_worked_example_embedding_list() -> None:
    params = merge_parameters({"model": "text-embedding-3-small"},
                              predict_parameters({"input": ["hello", "wörld"]}))
    body = '{"input": ${parameters.input}, "model": "${parameters.model}"}'
    assert render_payload(body, params) == \
        '{"input": ["hello","wörld"], "model": "text-embedding-3-small"}'


# --- 4.7 header rules ----------------------------------------------------------------------------


BLOCKED_MESSAGE = ("Header '{}' cannot use ${{parameters.*}} placeholders for security reasons. "
                   "Use ${{credential.*}} instead.")


@pytest.mark.parametrize("name", ["Authorization", "AUTHORIZATION", "x-api-key", "Cookie", "Host",
                                  "Forwarded", "X-Forwarded-For"])
def test_blocked_header_refused_at_create(name: str) -> None:
    with pytest.raises(IllegalArgumentError) as exc:
        validate_header_templates({name: "Bearer ${parameters.key}"})
    assert _err(exc) == BLOCKED_MESSAGE.format(name)


def test_create_time_check_allows_credentials_and_other_headers() -> None:
    validate_header_templates({"Authorization": "Bearer ${credential.key}",
                               "X-Model": "${parameters.model}", "Accept": "application/json"})


def test_mcp_protocols_refuse_parameters_in_every_header() -> None:
    with pytest.raises(IllegalArgumentError) as exc:
        validate_header_templates({"X-Model": "${parameters.model}"}, protocol="mcp_sse")
    assert _err(exc) == \
        "Header 'X-Model' cannot use ${parameters.*} placeholders in MCP connectors."


def test_blocked_header_reported_in_java_hashmap_order() -> None:
    with pytest.raises(IllegalArgumentError) as exc:
        validate_header_templates({"X-Api-Key": "${parameters.k}",
                                   "Authorization": "${parameters.k}"})
    assert _err(exc) == BLOCKED_MESSAGE.format("Authorization")


def test_render_headers_substitutes_predict_parameters() -> None:
    headers = {"Authorization": "Bearer sk-1", "X-Model": "m-${parameters.model}", "X-Other": "v"}
    assert render_headers(headers, {"model": "gpt"}) == {
        "Authorization": "Bearer sk-1", "X-Model": "m-gpt", "X-Other": "v"}


def test_render_headers_refuses_blocked_name_at_call_time() -> None:
    with pytest.raises(IllegalArgumentError) as exc:
        render_headers({"x-api-key": "${parameters.k}"}, {"k": "v"})
    assert _err(exc) == BLOCKED_MESSAGE.format("x-api-key")


UNRESOLVED = "Header 'X-Model' contains unresolved placeholder. Required parameter is missing."


def test_render_headers_unresolved_placeholder() -> None:
    with pytest.raises(IllegalArgumentError) as exc:
        render_headers({"X-Model": "${parameters.model}"}, {})
    assert _err(exc) == UNRESOLVED
    with pytest.raises(IllegalArgumentError) as exc:
        render_headers({"X-Model": "$${parameters.model}"}, {"model": "m"})
    assert _err(exc) == UNRESOLVED


def test_render_headers_unresolved_credential_sent_literally() -> None:
    assert render_headers({"X-Key": "${credential.nope}"}, {}) == {"X-Key": "${credential.nope}"}


@pytest.mark.parametrize("value", ["a\x01b", "a\x7fb", "a\nb", "a\rb"])
def test_render_headers_control_characters(value: str) -> None:
    with pytest.raises(IllegalArgumentError) as exc:
        render_headers({"X-V": "${parameters.v}"}, {"v": value})
    assert _err(exc) == "Header value contains invalid control character"


def test_render_headers_tab_allowed() -> None:
    assert render_headers({"X-V": "a\tb"}, {}) == {"X-V": "a\tb"}


def test_render_headers_escaped_predict_value_with_newline_passes() -> None:
    params = predict_parameters({"v": "a\nb"})
    assert render_headers({"X-V": "${parameters.v}"}, params) == {"X-V": "a\\nb"}


def test_render_headers_size_limits() -> None:
    assert render_headers({"K": "v" * 8191}, {}) == {"K": "v" * 8191}
    with pytest.raises(IllegalArgumentError) as exc:
        render_headers({"K": "v" * 8192}, {})
    assert _err(exc) == "Header size (key + value) exceeds 8KB limit"
    with pytest.raises(IllegalArgumentError) as exc:
        render_headers({"😀": "v" * 8191}, {})  # one astral char is two UTF-16 units
    assert _err(exc) == "Header size (key + value) exceeds 8KB limit"
    many = {f"H{i}": "v" * 8000 for i in range(9)}
    with pytest.raises(IllegalArgumentError) as exc:
        render_headers(many, {})
    assert _err(exc) == "Total headers size (key + value) exceeds 64KB limit"


def test_render_headers_before_3_7_only_given_parameters_and_no_checks() -> None:
    headers = {"Authorization": "Bearer ${parameters.token}", "X-M": "${parameters.missing}",
               "X-C": "a\x01b"}
    assert render_headers(headers, {"token": "t"}, predict_time_params=False) == {
        "Authorization": "Bearer t", "X-M": "${parameters.missing}", "X-C": "a\x01b"}
    assert render_headers({"X": "$${parameters.a}"}, {}, predict_time_params=False) == \
        {"X": "$${parameters.a}"}


def test_credential_example_header() -> None:
    headers = resolve_credential_headers({"Authorization": "Bearer ${credential.openAI_key}"},
                                         {"openAI_key": "sk-123"})
    assert render_headers(headers, {"model": "x"}) == {"Authorization": "Bearer sk-123"}


# The one-pass substitution of the common case must agree with StringSubstitutor's full
# algorithm on every text, including those it hands over (escapes, values holding variables
# or ending in "$", defaults, unterminated variables, cycles).
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from mlcommons_emu.connectors import templating as _templating  # noqa: E402

_PIECES = st.sampled_from(["${parameters.", "}", "$", ":-", "a", "b", "c.d", " ", "{", "x:-y", "é",
                           "${parameters.a}", "${parameters.b}", "${parameters.x:-$}"])
_TEXTS = st.lists(_PIECES, max_size=12).map("".join)


def _full(substitutor: object, source: str) -> object:
    original = _templating._StringSubstitutor._replace_simple
    _templating._StringSubstitutor._replace_simple = lambda self, text: None  # type: ignore[method-assign]
    try:
        return substitutor.replace(source)  # type: ignore[attr-defined]
    except IllegalStateError as exc:
        return ("cycle", str(exc))
    finally:
        _templating._StringSubstitutor._replace_simple = original  # type: ignore[method-assign]


@settings(max_examples=600, deadline=None)
@given(_TEXTS, st.dictionaries(st.sampled_from(["a", "b", "c.d", "x", "a:-b"]), _TEXTS | st.none(), max_size=4))
def test_one_pass_substitution_agrees_with_the_full_algorithm(template: str, params: dict) -> None:
    substitutor = _templating._StringSubstitutor(_templating._map_lookup(params), "${parameters.")
    try:
        fast: object = substitutor.replace(template)
    except IllegalStateError as exc:
        fast = ("cycle", str(exc))
    assert fast == _full(substitutor, template)
