"""plugins.ml_commons.* settings: parsing as OpenSearch's Setting classes parse, defaults by release.

Sources: ml-commons-rest.md §12 (types, ranges, defaults, releases), ml-commons-semantics.md
Appendix A (newest trusted-endpoint list), fidelity-notes.md (releases of the trusted hosts).
Messages are those of org.opensearch.common.Booleans / Setting.parseInt / parseFloat and of
java.lang.Integer.parseInt (the NumberFormatException carried as the cause).
"""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlcommons_emu.domain import settings as s
from mlcommons_emu.domain.release import Release
from mlcommons_emu.errors import IllegalArgumentError

P = "plugins.ml_commons."
V2_9 = Release.of("2.9.0")
V3_8 = Release.of("3.8.0")


def definition(key: str, release: Release = V3_8) -> s.SettingDef:
    return s.definitions(release)[P + key]


def parse_error(key: str, raw, release: Release = V3_8) -> str:
    with pytest.raises(IllegalArgumentError) as caught:
        s.parse_value(definition(key, release), raw)
    return caught.value.reason


# -- booleans ------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "value"), [(True, True), (False, False), ("true", True), ("false", False)])
def test_boolean_setting_accepts_json_booleans_and_their_strings(raw, value):
    assert s.parse_value(definition("only_run_on_ml_node"), raw) is value


@pytest.mark.parametrize(("raw", "shown"), [("yes", "yes"), ("True", "True"), ("FALSE", "FALSE"),
                                            ("1", "1"), (1, "1"), ("", "")])
def test_boolean_setting_refuses_anything_but_true_and_false(raw, shown):
    assert parse_error("only_run_on_ml_node", raw) == \
        f"Failed to parse value [{shown}] as only [true] or [false] are allowed."


# -- integers ------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "value"), [(7, 7), ("7", 7), ("0", 0), (10, 10), ("-0", 0)])
def test_int_setting_accepts_numbers_and_numeric_strings(raw, value):
    assert s.parse_value(definition("max_deploy_model_tasks_per_node"), raw) == value


def test_int_setting_above_its_maximum_names_the_setting_and_the_bound():
    assert parse_error("max_deploy_model_tasks_per_node", 11) == (
        "Failed to parse value [11] for setting [plugins.ml_commons.max_deploy_model_tasks_per_node] must be <= 10")


def test_int_setting_below_its_minimum_names_the_setting_and_the_bound():
    assert parse_error("ml_task_timeout_in_seconds", "0") == (
        "Failed to parse value [0] for setting [plugins.ml_commons.ml_task_timeout_in_seconds] must be >= 1")


def test_long_setting_bounds_are_checked_too():
    assert parse_error("monitoring_request_count", 10_000_001) == (
        "Failed to parse value [10000001] for setting [plugins.ml_commons.monitoring_request_count] "
        "must be <= 10000000")


@pytest.mark.parametrize("raw", ["abc", "1.5", "", "ten"])
def test_int_setting_that_is_not_a_number_fails_with_javas_number_format_message(raw):
    assert parse_error("max_model_on_node", raw) == f'For input string: "{raw}"'


@pytest.mark.parametrize("raw", ["3000000000", "1_000"])
def test_int_setting_refuses_what_javas_integer_parse_refuses(raw):
    # Integer.parseInt: beyond 2^31-1 and Python-only digit separators are not numbers
    assert parse_error("max_model_on_node", raw) == f'For input string: "{raw}"'


def test_int_setting_without_bounds_accepts_any_java_int():
    # model_auto_redeploy.lifetime_retry_times is a plain intSetting: no range (ml-commons-rest.md §12.1)
    d = definition("model_auto_redeploy.lifetime_retry_times")
    assert s.parse_value(d, "-1") == -1
    assert s.parse_value(d, 2_147_483_647) == 2_147_483_647
    with pytest.raises(IllegalArgumentError):
        s.parse_value(d, "2147483648")


def test_float_setting_bounds_are_printed_as_java_floats():
    d = definition("model_auto_redeploy_success_ratio")
    assert s.parse_value(d, "0.5") == 0.5
    assert parse_error("model_auto_redeploy_success_ratio", "1.5") == (
        "Failed to parse value [1.5] for setting [plugins.ml_commons.model_auto_redeploy_success_ratio] "
        "must be <= 1.0")
    assert parse_error("model_auto_redeploy_success_ratio", "-0.1") == (
        "Failed to parse value [-0.1] for setting [plugins.ml_commons.model_auto_redeploy_success_ratio] "
        "must be >= 0.0")


# -- lists ---------------------------------------------------------------------------------

def test_list_setting_keeps_an_array_in_order():
    regexes = ["^https://api\\.openai\\.com/.*$", "^https://api\\.cohere\\.com/.*$"]
    assert s.parse_value(definition("trusted_connector_endpoints_regex"), regexes) == regexes


def test_list_setting_turns_scalar_entries_into_strings():
    d = definition("task_dispatcher.eligible_node_role.remote_model")
    assert s.parse_value(d, ["ml", 1, True]) == ["ml", "1", "true"]


def test_list_setting_given_one_string_is_a_one_element_list():
    assert s.parse_value(definition("task_dispatcher.eligible_node_role.remote_model"), "ml") == ["ml"]


def test_list_setting_given_a_comma_separated_string_splits_and_trims_it():
    # Settings.getAsList reads a single string value comma-delimited, trimming each entry
    d = definition("task_dispatcher.eligible_node_role.remote_model")
    assert s.parse_value(d, "data, ml") == ["data", "ml"]


def test_empty_list_is_allowed():
    assert s.parse_value(definition("trusted_connector_endpoints_regex"), []) == []


# -- rendering, flatten and nest ---------------------------------------------------------------

def test_values_are_rendered_back_as_strings():
    assert s.render_value(True) == "true"
    assert s.render_value(False) == "false"
    assert s.render_value(10) == "10"
    assert s.render_value(0.8) == "0.8"
    assert s.render_value(["data", 1, False]) == ["data", "1", "false"]


def test_flatten_accepts_nested_objects_dotted_keys_and_a_mix_of_both():
    body = {
        "plugins": {"ml_commons": {"only_run_on_ml_node": False, "task_dispatcher.eligible_node_role": {
            "remote_model": ["ml"]}}},
        "plugins.ml_commons.allow_custom_deployment_plan": "true",
    }
    assert s.flatten(body) == {
        P + "only_run_on_ml_node": False,
        P + "task_dispatcher.eligible_node_role.remote_model": ["ml"],
        P + "allow_custom_deployment_plan": "true",
    }


def test_nest_builds_the_object_shape_opensearch_answers_with():
    assert s.nest({P + "only_run_on_ml_node": "true", P + "exclude_nodes._name": "d1"}) == {
        "plugins": {"ml_commons": {"only_run_on_ml_node": "true", "exclude_nodes": {"_name": "d1"}}}}


_segment = st.text(alphabet="abcdefghij_", min_size=1, max_size=4)
_leaf = st.one_of(st.booleans(), st.integers(), st.text(max_size=5), st.lists(st.text(max_size=3), max_size=3))
_nested = st.recursive(_leaf, lambda inner: st.dictionaries(_segment, inner, min_size=1, max_size=4), max_leaves=12)


@given(st.dictionaries(_segment, _nested, min_size=1, max_size=4))
def test_nest_undoes_flatten(body):
    assert s.nest(s.flatten(body)) == body


# -- defaults by release ---------------------------------------------------------------------

@pytest.mark.parametrize(("version", "expected"), [("2.9.0", False), ("2.11.0", False),
                                                  ("2.12.0", True), ("3.8.0", True)])
def test_model_auto_redeploy_is_off_before_2_12_and_on_from_2_12(version, expected):
    assert s.ClusterSettings(Release.of(version)).get(s.MODEL_AUTO_REDEPLOY) is expected


@pytest.mark.parametrize("version", ["2.9.0", "3.8.0"])
def test_release_independent_defaults(version):
    settings = s.ClusterSettings(Release.of(version))
    assert settings.get(s.ONLY_RUN_ON_ML_NODE) is True
    assert settings.get(s.ALLOW_CUSTOM_DEPLOYMENT_PLAN) is False
    assert settings.get(s.CONNECTOR_ACCESS_CONTROL_ENABLED) is False
    assert settings.get(s.EXCLUDE_NODES) == ""
    assert settings.get(s.TASK_DISPATCH_POLICY) == "round_robin"


def test_remote_model_node_roles_default_to_data_and_ml():
    assert s.ClusterSettings(V3_8).get(s.ELIGIBLE_NODE_ROLE_REMOTE) == ["data", "ml"]


TRUSTED_2_9 = [
    r"^https://runtime\.sagemaker\..*[a-z0-9-]\.amazonaws\.com/.*$",
    r"^https://api\.openai\.com/.*$",
    r"^https://api\.cohere\.ai/.*$",
]
TRUSTED_NEWEST = {  # ml-commons-semantics.md, Appendix A
    r"^https://runtime\.sagemaker\..*[a-z0-9-]\.amazonaws\.com/.*$",
    r"^https://api\.sagemaker\..*[a-z0-9-]\.amazonaws\.com/.*$",
    r"^https://api\.openai\.com/.*$",
    r"^https://api\.cohere\.ai/.*$",
    r"^https://api\.deepseek\.com/.*$",
    r"^https://generativelanguage\.googleapis\.com/.*$",
    r"^https://bedrock-runtime\..*[a-z0-9-]\.amazonaws\.com/.*$",
    r"^https://bedrock-agent-runtime\..*[a-z0-9-]\.amazonaws\.com/.*$",
    r"^https://bedrock\..*[a-z0-9-]\.amazonaws\.com/.*$",
    r"^https://textract\..*[a-z0-9-]\.amazonaws\.com$",
    r"^https://comprehend\..*[a-z0-9-]\.amazonaws\.com$",
    r"^https://rekognition(-fips)?\..*[a-z0-9-]\.amazonaws\.com$",
}


def test_trusted_endpoints_default_in_2_9_is_sagemaker_openai_cohere():
    assert s.ClusterSettings(V2_9).get(s.TRUSTED_CONNECTOR_ENDPOINTS_REGEX) == TRUSTED_2_9


def test_trusted_endpoints_default_in_3_8_has_the_twelve_newest_patterns():
    regexes = s.ClusterSettings(V3_8).get(s.TRUSTED_CONNECTOR_ENDPOINTS_REGEX)
    assert len(regexes) == 12
    assert set(regexes) == TRUSTED_NEWEST
    # MLCommonsSettings' order: the SageMaker pair first, then openai, cohere, deepseek, gemini
    assert regexes[1] == r"^https://api\.sagemaker\..*[a-z0-9-]\.amazonaws\.com/.*$"
    assert regexes[5] == r"^https://generativelanguage\.googleapis\.com/.*$"


@pytest.mark.parametrize(("version", "bedrock_runtime", "deepseek"), [
    ("2.10.0", False, False), ("2.11.0", True, False), ("2.17.0", True, False), ("2.18.0", True, False),
    ("2.19.0", True, True)])
def test_trusted_endpoints_gain_bedrock_runtime_in_2_11_and_deepseek_in_2_19(version, bedrock_runtime, deepseek):
    """MLCommonsSettings: deepseek (and rekognition) joined the list in 2.19.0."""
    regexes = s.ClusterSettings(Release.of(version)).get(s.TRUSTED_CONNECTOR_ENDPOINTS_REGEX)
    assert (r"^https://bedrock-runtime\..*[a-z0-9-]\.amazonaws\.com/.*$" in regexes) is bedrock_runtime
    assert (r"^https://api\.deepseek\.com/.*$" in regexes) is deepseek
    assert set(TRUSTED_2_9) <= set(regexes)


@pytest.mark.parametrize("version", ["2.9.0", "2.18.0", "3.8.0"])
def test_no_default_trusts_cohere_com_or_azure(version):
    joined = " ".join(s.ClusterSettings(Release.of(version)).get(s.TRUSTED_CONNECTOR_ENDPOINTS_REGEX))
    assert "cohere\\.com" not in joined and "azure" not in joined


# -- which settings exist --------------------------------------------------------------------

SETTINGS_2_9 = {P + k for k in (
    "task_dispatch_policy", "max_model_on_node", "only_run_on_ml_node", "sync_up_job_interval_in_seconds",
    "ml_task_timeout_in_seconds", "monitoring_request_count", "max_register_model_tasks_per_node",
    "max_ml_task_per_node", "max_deploy_model_tasks_per_node", "trusted_url_regex", "native_memory_threshold",
    "jvm_heap_memory_threshold", "exclude_nodes._name", "allow_custom_deployment_plan",
    "enable_inhouse_python_model", "model_auto_redeploy.enable", "model_auto_redeploy.lifetime_retry_times",
    "allow_registering_model_via_url", "allow_registering_model_via_local_file", "model_access_control_enabled",
    "connector_access_control_enabled", "trusted_connector_endpoints_regex",
)}


def test_2_9_knows_exactly_its_22_ml_commons_settings():
    known = {k for k in s.definitions(V2_9) if k.startswith(P)}
    assert known == SETTINGS_2_9


@pytest.mark.parametrize("key", ["remote_inference.enabled", "task_dispatcher.eligible_node_role.remote_model",
                                 "model_auto_redeploy_success_ratio", "model_auto_deploy.enable",
                                 "connector.private_ip_enabled", "memory_feature_enabled"])
@pytest.mark.parametrize("scope", ["persistent", "transient"])
def test_settings_added_after_2_9_are_not_recognized_there(key, scope):
    with pytest.raises(IllegalArgumentError) as caught:
        s.ClusterSettings(V2_9).validate(scope, {P + key: "true"})
    assert caught.value.reason == f"{scope} setting [{P + key}], not recognized"


@pytest.mark.parametrize(("key", "value"), [("remote_inference.enabled", "false"),
                                            ("task_dispatcher.eligible_node_role.remote_model", ["ml"]),
                                            ("model_auto_redeploy_success_ratio", "0.5"),
                                            ("model_auto_deploy.enable", False)])
def test_settings_added_after_2_9_are_accepted_in_3_8(key, value):
    parsed = s.ClusterSettings(V3_8).validate("persistent", {P + key: value})
    assert list(parsed) == [P + key]


@pytest.mark.parametrize(("version", "known"), [("2.10.0", False), ("2.11.0", True), ("2.12.0", False)])
def test_update_connector_gate_exists_in_2_11_only(version, known):
    settings = s.ClusterSettings(Release.of(version))
    key = P + "update_connector.enabled"
    if known:
        assert settings.validate("persistent", {key: "true"}) == {key: True}
    else:
        with pytest.raises(IllegalArgumentError) as caught:
            settings.validate("persistent", {key: "true"})
        assert caught.value.reason == f"persistent setting [{key}], not recognized"


def test_unknown_setting_is_not_recognized_in_every_release():
    with pytest.raises(IllegalArgumentError) as caught:
        s.ClusterSettings(V3_8).validate("persistent", {P + "no_such_thing": "1"})
    assert caught.value.reason == "persistent setting [plugins.ml_commons.no_such_thing], not recognized"


def test_static_setting_is_not_dynamically_updateable():
    key = P + "multi_tenancy_enabled"
    with pytest.raises(IllegalArgumentError) as caught:
        s.ClusterSettings(V3_8).validate("persistent", {key: "true"})
    assert caught.value.reason == f"persistent setting [{key}], not dynamically updateable"


# -- validate / apply / get -------------------------------------------------------------------

def test_an_invalid_value_names_the_old_and_new_value_and_carries_the_parse_error():
    with pytest.raises(s.SettingUpdateError) as caught:
        s.ClusterSettings(V3_8).validate("persistent", {s.ONLY_RUN_ON_ML_NODE: "maybe"})
    assert caught.value.reason == \
        "illegal value can't update [plugins.ml_commons.only_run_on_ml_node] from [true] to [maybe]"
    assert caught.value.cause.reason == "Failed to parse value [maybe] as only [true] or [false] are allowed."


def test_one_invalid_value_rejects_the_whole_update():
    settings = s.ClusterSettings(V3_8)
    with pytest.raises(IllegalArgumentError):
        settings.validate("persistent", {s.ALLOW_CUSTOM_DEPLOYMENT_PLAN: "true", s.ONLY_RUN_ON_ML_NODE: "maybe"})
    assert settings.persistent == {} and settings.get(s.ALLOW_CUSTOM_DEPLOYMENT_PLAN) is False


def test_transient_values_win_over_persistent_ones_and_null_resets_to_default():
    settings = s.ClusterSettings(V3_8)
    settings.apply("persistent", settings.validate("persistent", {s.ONLY_RUN_ON_ML_NODE: "false"}))
    assert settings.get(s.ONLY_RUN_ON_ML_NODE) is False
    settings.apply("transient", settings.validate("transient", {s.ONLY_RUN_ON_ML_NODE: True}))
    assert settings.get(s.ONLY_RUN_ON_ML_NODE) is True
    settings.apply("transient", settings.validate("transient", {s.ONLY_RUN_ON_ML_NODE: None}))
    assert settings.get(s.ONLY_RUN_ON_ML_NODE) is False
    settings.apply("persistent", settings.validate("persistent", {s.ONLY_RUN_ON_ML_NODE: None}))
    assert settings.get(s.ONLY_RUN_ON_ML_NODE) is True
    assert settings.persistent == {} and settings.transient == {}
