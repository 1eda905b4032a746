"""The feature map file: what it reads, and errors naming the line and key path of each mistake."""

from __future__ import annotations

import pytest

from finops_lib.errors import SourceError
from finops_lib.rules.feature_map import FeatureMap, feature_key, load_feature_map, parse_feature_map

GOOD = """\
version: 1
description: the support chatbot and the search assistant
features:
  - name: chatbot-tokens
    match: {tags: {app: support-chatbot}}
    application: support-chatbot
    feature: answers
  - name: search-embeddings
    match: {provider: OpenAI, model: [text-embedding-3-small, text-embedding-3-large]}
    application: search-assistant
    feature: retrieval
    layer: embeddings
shared:
  - name: pinecone
    match: {provider: Pinecone}
    layer: retrieval / vector DB
    strategy: fixed
    weights: {support-chatbot/answers: 3, search-assistant: 1}
  - name: prod-eks
    match: {provider: AWS, tags: {"user:eks:cluster-name": prod-eks}}
    layer: compute
    strategy: allocation
    namespaces: {llm-serving: support-chatbot/answers, search-rag: search-assistant/retrieval}
  - name: langfuse
    match: {provider: Langfuse}
    strategy: proportional
    basis: requests
layers:
  - {match: {provider: Datadog}, layer: observability}
"""


def test_a_full_map_is_read():
    fmap = parse_feature_map(GOOD)
    assert [(e.name, e.application, e.feature, e.layer, e.line) for e in fmap.features] == [
        ("chatbot-tokens", "support-chatbot", "answers", None, 4),
        ("search-embeddings", "search-assistant", "retrieval", "embeddings", 8)]
    pinecone, eks, langfuse = fmap.shared
    assert (pinecone.layer, pinecone.strategy, dict(pinecone.options["weights"])) == (
        "retrieval", "fixed", {"support-chatbot/answers": 3.0, "search-assistant": 1.0})
    assert eks.options["namespaces"] == {"llm-serving": "support-chatbot/answers",
                                         "search-rag": "search-assistant/retrieval"}
    assert (langfuse.layer, langfuse.options) == (None, {"basis": "requests"})
    assert [(c.field, c.values) for c in fmap.features[1].match] == [
        ("provider", ("OpenAI",)), ("model", ("text-embedding-3-small", "text-embedding-3-large"))]
    assert fmap.layers[0].layer == "observability" and fmap.layers[0].line == 29


@pytest.mark.parametrize(("text", "line", "column", "words"), [
    ("version: 1\nfeatures:\n  - name: a\n    match: {}\n    aplication: x\n", 5, "features[0].aplication",
     "did you mean 'application'"),
    ("version: 1\nfeatures:\n  - name: a\n    match: {}\n    application: x\n    layer: vector db\n", 6,
     "features[0].layer", "'vector db' is not a layer; layers are model_inference, embeddings, retrieval"),
    ("version: 1\nshared:\n  - name: s\n    match: {}\n    strategy: fixed\n", 5, "shared[0].strategy",
     "strategy 'fixed' needs 'weights'"),
    ("version: 1\nshared:\n  - name: s\n    match: {}\n    strategy: even\n    weights: {a: 1}\n", 6,
     "shared[0].weights", "strategy 'even' takes no 'weights'"),
    ("version: 1\nshared:\n  - name: s\n    match: {}\n    strategy: evenly\n", 5, "shared[0].strategy",
     "'evenly' is not one of even, fixed, proportional, allocation"),
    ("version: 1\nshared:\n  - name: s\n    match: {}\n    strategy: fixed\n    weights: {a: 0}\n", 6,
     "shared[0].weights", "at least one feature with a positive weight"),
    ("version: 1\nfeatures:\n  - name: a\n    match: {projet: p}\n    application: x\n", 4,
     "features[0].match.projet", "unknown key 'projet'"),
    ("version: 1\nfeatures:\n  - name: a\n    match: {}\n    application: x\nshared:\n  - name: a\n    match: {}\n"
     "    strategy: even\n", 7, "shared[0].name", "duplicate entry name 'a' (also on line 3)"),
    ("version: 2\n", 1, "version", "only version 1"),
    ("version: 1\ndeployments:\n  - name: d\n    gpu: opencosts\n", 4, "deployments[0].gpu",
     "'opencosts' is not one of opencost"),
    ("version: 1\ndeployments:\n  - name: d\n    gpu: opencost\n    compare_with: {provider: OpenAI}\n", 5,
     "deployments[0].compare_with", "missing required key 'model'"),
    ("version: 1\ndeployments:\n  - name: d\n    gpu: {matches: {}}\n", 4, "deployments[0].gpu.matches",
     "unknown key 'matches'"),
    ("version: 1\nfeatures: {a: 1}\n", 2, "features", "expected a list"),
])
def test_each_mistake_names_its_line_and_key_path(text, line, column, words):
    with pytest.raises(SourceError) as caught:
        parse_feature_map(text, source="config/feature_map.yaml")
    message = str(caught.value)
    assert f"line {line}" in message and column in message and words in message, message
    assert message.startswith("config/feature_map.yaml")


def test_broken_yaml_and_an_empty_file_are_clear_errors(tmp_path):
    with pytest.raises(SourceError, match=r"line 4: not valid YAML"):
        parse_feature_map("version: 1\nfeatures:\n  - {name: a\n")
    with pytest.raises(SourceError, match="empty"):
        parse_feature_map("")
    path = tmp_path / "feature_map.yaml"
    path.write_text(GOOD)
    assert load_feature_map(path).source == str(path) and FeatureMap.empty().features == ()


def test_how_a_feature_is_written():
    assert feature_key("a", "b") == "a/b" and feature_key("a", None) == "a" and feature_key("", "b") is None
