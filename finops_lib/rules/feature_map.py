"""The feature map: which rows belong to which application and feature, in which layer of its service stack.

A single AI feature runs on several services: model tokens, embeddings, a vector database, compute, storage,
observability, seats. The feature map (``config/feature_map.yaml`` in a data folder, documented in
``docs/feature_cost.md``) names them with the allocation rules' ``match`` conditions (same fields, same errors
naming the line and key path), in three sections:

* ``features``: rows matching an entry belong to its ``application`` (and ``feature``), in its ``layer`` (else
  the layer the row's own kind says, see :data:`LAYERS`); the first matching entry wins, before the rows' tags.
* ``shared``: a service serving several features (a vector database, a cluster) whose cost is split among them by
  a strategy: ``even``, ``fixed`` (``weights``), ``proportional`` (``basis``: each feature's own cost, tokens or
  requests in the month), or ``allocation`` (a cluster split by what its workloads were allocated: OpenCost's
  cost per namespace, ``namespaces`` naming each namespace's feature).
* ``layers``: the layer of rows no entry names one for, before the built-in guess (``{match, layer}``).
* ``deployments``: self-hosted model deployments (as their metrics name them), the bill rows of their GPUs
  (``gpu: {match: ...}``) or ``gpu: opencost`` (their OpenCost GPU cost, a list-price estimate), the model served
  when no label says it, and the API model they are compared with (``compare_with: {provider, model}``).

Features are written ``application`` or ``application/feature``. Without a map, rows carrying ``app`` /
``feature`` tags are placed by their tags and layers are guessed; nothing of the sample's map applies elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import Node, ScalarNode, SequenceNode

from finops_lib.errors import SourceError
from finops_lib.rules.match import Condition
from finops_lib.rules.yamlnodes import NodeReader, join, line_of, read_match

__all__ = ["FEATURE_MAP_FILE", "LAYERS", "SPLITS", "Deployment", "FeatureEntry", "FeatureMap", "LayerEntry",
           "SharedLayer", "feature_key", "load_feature_map", "parse_feature_map"]  # fmt: skip

#: Where a data folder keeps its feature map.
FEATURE_MAP_FILE = Path("config") / "feature_map.yaml"
#: Layer name -> how pages show it, in stack order (bottom first).
LAYERS: dict[str, str] = {
    "model_inference": "model inference",
    "embeddings": "embeddings",
    "retrieval": "retrieval / vector DB",
    "compute": "compute",
    "storage": "storage",
    "observability": "observability",
    "seats": "seats",
    "other": "other",
}
#: Split strategies of a shared layer, and the options each accepts (required ones first).
SPLITS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "even": ((), ("among",)),
    "fixed": (("weights",), ()),
    "proportional": ((), ("basis", "among")),
    "allocation": (("namespaces",), ()),
}
BASES = ("cost", "tokens", "requests")
_TOP = ("version", "description", "features", "shared", "layers", "deployments")
_FEATURE = ("name", "description", "match", "application", "feature", "layer")
_SHARED = ("name", "description", "match", "layer", "strategy", "weights", "among", "basis", "namespaces")


def feature_key(application: str | None, feature: str | None) -> str | None:
    """Return how a feature is written: ``application/feature``, or ``application`` alone.

    Examples
    --------
    >>> feature_key("support-chatbot", "answers"), feature_key("search", None), feature_key(None, "x")
    ('support-chatbot/answers', 'search', None)
    """
    if not application:
        return None
    return f"{application}/{feature}" if feature else application


@dataclass(frozen=True)
class FeatureEntry:
    """Rows matching ``match`` belong to ``application``/``feature``, in ``layer`` (None: the row's own)."""

    name: str
    match: tuple[Condition, ...]
    application: str
    feature: str | None = None
    layer: str | None = None
    line: int = 0


@dataclass(frozen=True)
class SharedLayer:
    """A shared service: rows matching ``match`` are split among features by ``strategy`` with ``options``."""

    name: str
    match: tuple[Condition, ...]
    strategy: str
    options: Mapping[str, Any] = field(default_factory=dict)
    layer: str | None = None
    line: int = 0


@dataclass(frozen=True)
class LayerEntry:
    """Rows matching ``match`` are in ``layer`` unless a feature or shared entry names another."""

    match: tuple[Condition, ...]
    layer: str
    line: int = 0


@dataclass(frozen=True)
class Deployment:
    """A self-hosted model deployment: its GPUs' cost and the API model it is compared with.

    ``name`` is the deployment as its metrics name it (``x_Deployment``: the ``deployment``/``job`` label or the
    snapshot's file name). ``gpu`` is the bill rows of its GPUs (conditions) or ``opencost`` (its OpenCost GPU cost,
    a list-price estimate). ``compare_with`` is ``(provider, model)`` of a catalog-priced API model, or None.
    """

    name: str
    gpu: tuple[Condition, ...] | str
    model: str | None = None
    compare_with: tuple[str, str] | None = None
    line: int = 0


@dataclass(frozen=True)
class FeatureMap:
    """A checked feature map (:meth:`empty` when a folder has none: tags and guessed layers only)."""

    features: tuple[FeatureEntry, ...] = ()
    shared: tuple[SharedLayer, ...] = ()
    layers: tuple[LayerEntry, ...] = ()
    source: str = "(tags only)"
    deployments: tuple[Deployment, ...] = ()

    @classmethod
    def empty(cls) -> FeatureMap:
        """Return the map of a folder without one."""
        return cls()


def _layer(r: NodeReader, node: Node, where: str) -> str:
    text = r.text(node, where)
    slug = text.strip().lower().replace(" / vector db", "").replace(" ", "_").replace("-", "_")
    if slug in LAYERS:
        return slug
    r.fail(node, where, f"{text!r} is not a layer; layers are {', '.join(LAYERS)}")


def _feature_names(r: NodeReader, node: Node, where: str) -> tuple[str, ...]:
    items = r.seq(node, where) if isinstance(node, SequenceNode) else [node]
    names = tuple(r.text(item, join(where, i)) for i, item in enumerate(items))
    if not names:
        r.fail(node, where, "name at least one feature (application or application/feature)")
    return names


def _entry(r: NodeReader, node: Node, where: str) -> FeatureEntry:
    spec = r.mapping(node, where, allowed=_FEATURE, required=("name", "match", "application"))
    text = {k: r.text(spec[k][1], join(where, k)) for k in ("name", "application", "feature") if k in spec}
    layer = _layer(r, spec["layer"][1], join(where, "layer")) if "layer" in spec else None
    return FeatureEntry(text["name"], read_match(r, spec["match"][1], join(where, "match")), text["application"],
                        text.get("feature"), layer, line_of(node))  # fmt: skip


def _weights(r: NodeReader, node: Node, where: str) -> dict[str, float]:
    weights = {k: r.number(v, join(where, k)) for k, (_, v) in r.mapping(node, where).items()}
    if not weights or sum(weights.values()) <= 0:
        r.fail(node, where, "weights must name at least one feature with a positive weight")
    return weights


def _namespaces(r: NodeReader, node: Node, where: str) -> dict[str, str]:
    names = {k: r.text(v, join(where, k)) for k, (_, v) in r.mapping(node, where).items()}
    if not names:
        r.fail(node, where, "name at least one namespace and its feature")
    return names


def _options(r: NodeReader, spec: dict[str, tuple[Node, Node]], where: str, strategy: str) -> dict[str, Any]:
    required, optional = SPLITS[strategy]
    readers = {"weights": _weights, "among": _feature_names, "namespaces": _namespaces,
               "basis": lambda r, node, spot: r.choice(node, spot, BASES)}  # fmt: skip
    for key in readers:
        if key in spec and key not in (*required, *optional):
            r.fail(spec[key][0], join(where, key), f"strategy {strategy!r} takes no {key!r} "
                                                   f"(it takes {', '.join((*required, *optional)) or 'no option'})")
    for key in required:
        if key not in spec:
            r.fail(spec["strategy"][1], join(where, "strategy"), f"strategy {strategy!r} needs {key!r}")
    return {key: read(r, spec[key][1], join(where, key)) for key, read in readers.items() if key in spec}


def _shared(r: NodeReader, node: Node, where: str) -> SharedLayer:
    spec = r.mapping(node, where, allowed=_SHARED, required=("name", "match", "strategy"))
    strategy = r.choice(spec["strategy"][1], join(where, "strategy"), list(SPLITS))
    layer = _layer(r, spec["layer"][1], join(where, "layer")) if "layer" in spec else None
    return SharedLayer(r.text(spec["name"][1], join(where, "name")), read_match(r, spec["match"][1],
                       join(where, "match")), strategy, _options(r, spec, where, strategy), layer, line_of(node))


def _layer_entry(r: NodeReader, node: Node, where: str) -> LayerEntry:
    spec = r.mapping(node, where, allowed=("match", "layer", "description"), required=("match", "layer"))
    return LayerEntry(read_match(r, spec["match"][1], join(where, "match")),
                      _layer(r, spec["layer"][1], join(where, "layer")), line_of(node))


def _deployment(r: NodeReader, node: Node, where: str) -> Deployment:
    spec = r.mapping(node, where, allowed=("name", "description", "model", "gpu", "compare_with"),
                     required=("name", "gpu"))  # fmt: skip
    gpu_node = spec["gpu"][1]
    if isinstance(gpu_node, ScalarNode):
        gpu: tuple[Condition, ...] | str = r.choice(gpu_node, join(where, "gpu"), ["opencost"])
    else:
        inner = r.mapping(gpu_node, join(where, "gpu"), allowed=("match",), required=("match",))
        gpu = read_match(r, inner["match"][1], join(join(where, "gpu"), "match"))
    compare = None
    if "compare_with" in spec:
        spot = join(where, "compare_with")
        pair = r.mapping(spec["compare_with"][1], spot, allowed=("provider", "model"), required=("provider", "model"))
        compare = (r.text(pair["provider"][1], join(spot, "provider")), r.text(pair["model"][1], join(spot, "model")))
    model = r.text(spec["model"][1], join(where, "model")) if "model" in spec else None
    return Deployment(r.text(spec["name"][1], join(where, "name")), gpu, model, compare, line_of(node))


def parse_feature_map(text: str, *, source: str = "<feature map>") -> FeatureMap:
    """Parse and check a feature map from YAML text.

    Raises
    ------
    SourceError
        Naming ``source``, the line and the key path of the first problem (an unknown key with the closest known
        one, a layer or strategy not known, a strategy without its option, two entries of one name).

    Examples
    --------
    >>> fmap = parse_feature_map('''
    ... version: 1
    ... features:
    ...   - {name: bot, match: {tags: {app: support-chatbot}}, application: support-chatbot, feature: answers}
    ... shared:
    ...   - {name: vectors, match: {provider: Pinecone}, layer: retrieval, strategy: even}
    ... ''')
    >>> fmap.features[0].application, fmap.shared[0].layer, fmap.shared[0].strategy
    ('support-chatbot', 'retrieval', 'even')
    """
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise SourceError(source, f"not valid YAML: {getattr(exc, 'problem', exc)}",
                          line=mark.line + 1 if mark else None) from None  # fmt: skip
    if root is None:
        raise SourceError(source, "the feature map is empty; it needs at least 'version: 1'")
    r = NodeReader(source, Path(source).parent)
    top = r.mapping(root, "", allowed=_TOP, required=("version",))
    if r.text(top["version"][1], "version") != "1":
        r.fail(top["version"][1], "version", "only version 1 is known")
    sections: dict[str, list[Any]] = {"features": [], "shared": [], "layers": [], "deployments": []}
    readers = {"features": _entry, "shared": _shared, "layers": _layer_entry, "deployments": _deployment}
    for section, read in readers.items():
        if section not in top:
            continue
        node = top[section][1]
        for i, item in enumerate(r.seq(node, section)):
            sections[section].append(read(r, item, join(section, i)))
    seen: dict[str, int] = {}
    for section in ("features", "shared", "deployments"):
        for i, item in enumerate(sections[section]):
            if item.name in seen:
                raise SourceError(source, f"duplicate entry name {item.name!r} (also on line {seen[item.name]})",
                                  line=item.line, column=join(join(section, i), "name"))  # fmt: skip
            seen[item.name] = item.line
    return FeatureMap(tuple(sections["features"]), tuple(sections["shared"]), tuple(sections["layers"]), source,
                      tuple(sections["deployments"]))


def load_feature_map(path: str | Path) -> FeatureMap:
    """Read and check a feature map file (see :func:`parse_feature_map`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(path, f"cannot read the feature map: {exc}") from None
    return parse_feature_map(text, source=str(path))
