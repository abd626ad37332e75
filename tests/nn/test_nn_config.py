"""Tests of quanta.nn.config: the frozen, JSON-serialisable quantization configs.

The config module itself does not need torch, so these tests run without it.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quanta.errors import InvalidParameter, QuantaError
from quanta.nn.config import (
    ACTIVATION_BITS,
    DEFAULT_TYPES,
    METHODS,
    OBSERVERS,
    WEIGHT_BITS,
    WEIGHT_NAMES,
    Dynamic,
    PerChannel,
    PerGroup,
    PerTensor,
    Static,
    WeightOnly,
    config_from_dict,
    config_from_json,
    weights_of,
)

# ----------------------------------------------------------------- strategies
_names = st.text(alphabet="abcxyz019._*?[]", min_size=1, max_size=12)
_granularities = st.one_of(
    st.just(PerTensor()),
    st.just(PerChannel()),
    st.integers(1, 4096).map(PerGroup),
)


@st.composite
def weight_only(draw: st.DrawFn) -> WeightOnly:
    return WeightOnly(
        bits=draw(st.integers(*WEIGHT_BITS)),
        granularity=draw(_granularities),
        method=draw(st.sampled_from(METHODS)),
        act_order=draw(st.booleans()),
        include=tuple(draw(st.lists(_names, max_size=3))),
        exclude=tuple(draw(st.lists(_names, max_size=3))),
        types=tuple(draw(st.lists(st.sampled_from(sorted(WEIGHT_NAMES)), min_size=0, max_size=4))),
        layer_bits=tuple(draw(st.lists(st.tuples(_names, st.integers(*WEIGHT_BITS)), max_size=3))),
    )


@st.composite
def any_config(draw: st.DrawFn) -> WeightOnly | Static | Dynamic:
    w = draw(weight_only())
    kind = draw(st.sampled_from(["WeightOnly", "Static", "Dynamic"]))
    if kind == "WeightOnly":
        return w
    bits = draw(st.integers(*ACTIVATION_BITS))
    if kind == "Dynamic":
        return Dynamic(weights=w, activations=bits)
    return Static(weights=w, activations=bits, observer=draw(st.sampled_from(OBSERVERS)))


# ----------------------------------------------------------------- round trips
@settings(max_examples=150, deadline=None)
@given(any_config())
def test_every_config_round_trips_through_json(cfg) -> None:
    text = cfg.to_json()
    back = config_from_json(text)
    assert back == cfg
    assert type(back) is type(cfg)
    assert back.to_json() == text  # canonical: sorted keys, same text again
    assert hash(back) == hash(cfg)  # frozen with tuple fields: usable as a dict key


@settings(max_examples=50, deadline=None)
@given(any_config())
def test_every_config_round_trips_through_dict(cfg) -> None:
    d = cfg.to_dict()
    json.dumps(d)  # JSON-safe: no tuples-of-objects, no dataclasses
    assert config_from_dict(d) == cfg
    assert config_from_dict(json.loads(json.dumps(d))) == cfg


def test_to_dict_layout() -> None:
    """The documented dict layout (what save() writes in the checkpoint header)."""
    cfg = Static(
        weights=WeightOnly(bits=4, granularity=PerGroup(64), layer_bits=(("fc", 8),)),
        activations=6,
        observer="entropy",
    )
    d = cfg.to_dict()
    assert d["type"] == "Static" and d["activations"] == 6 and d["observer"] == "entropy"
    w = d["weights"]
    assert w["type"] == "WeightOnly"
    assert w["granularity"] == {"type": "PerGroup", "size": 64}
    assert w["layer_bits"] == [["fc", 8]]
    assert w["types"] == list(DEFAULT_TYPES)
    assert PerTensor().to_dict() == {"type": "PerTensor"}
    assert PerChannel().to_dict() == {"type": "PerChannel"}


def test_lists_are_normalised_to_tuples() -> None:
    cfg = WeightOnly(include=["a.*"], exclude=["b"], types=["Linear"], layer_bits=[["x", 3]])
    assert cfg.include == ("a.*",) and cfg.exclude == ("b",) and cfg.types == ("Linear",)
    assert cfg.layer_bits == (("x", 3),)
    assert cfg == WeightOnly(
        include=("a.*",), exclude=("b",), types=("Linear",), layer_bits=(("x", 3),)
    )


def test_defaults() -> None:
    cfg = WeightOnly()
    assert (cfg.bits, cfg.granularity, cfg.method) == (8, PerChannel(), "rtn")
    assert cfg.types == DEFAULT_TYPES and cfg.group_size is None
    assert WeightOnly(granularity=PerGroup(32)).group_size == 32
    assert WeightOnly(granularity=PerTensor()).group_size is None
    assert Static().activations == 8 and Static().observer == "minmax"
    assert Dynamic().activations == 8
    assert PerGroup().size == 128


# ----------------------------------------------------------------- frozen
@pytest.mark.parametrize(
    ("obj", "field"),
    [
        (WeightOnly(), "bits"),
        (WeightOnly(), "include"),
        (Static(), "observer"),
        (Dynamic(), "activations"),
        (PerGroup(8), "size"),
    ],
)
def test_configs_are_frozen(obj, field) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(obj, field, 3)


# ----------------------------------------------------------------- invalid fields
@pytest.mark.parametrize(
    "kwargs",
    [
        {"bits": 1},
        {"bits": 9},
        {"bits": 0},
        {"bits": True},
        {"bits": 4.0},
        {"bits": "4"},
        {"method": "awq"},
        {"method": "RTN"},
        {"granularity": "PerChannel"},
        {"granularity": None},
        {"types": ("Foo",)},
        {"types": ("Linear", "BatchNorm2d")},
        {"types": "Linear"},
        {"include": "encoder.*"},
        {"include": ("a", 1)},
        {"exclude": "head"},
        {"layer_bits": (("fc", 9),)},
        {"layer_bits": (("fc", 1),)},
    ],
)
def test_weight_only_refuses_invalid_fields(kwargs) -> None:
    with pytest.raises(InvalidParameter):
        WeightOnly(**kwargs)


def test_bits_message_says_what_was_passed() -> None:
    with pytest.raises(InvalidParameter, match=r"2\.\.8, got 9"):
        WeightOnly(bits=9)
    with pytest.raises(InvalidParameter, match="awq"):
        WeightOnly(method="awq")
    with pytest.raises(InvalidParameter, match="Foo"):
        WeightOnly(types=("Foo",))


@pytest.mark.parametrize(
    "kwargs",
    [{"include": None}, {"include": 5}, {"layer_bits": None}, {"layer_bits": (("fc",),)}],
)
def test_weight_only_refuses_non_iterable_filters_clearly(kwargs) -> None:
    with pytest.raises(InvalidParameter):
        WeightOnly(**kwargs)


@pytest.mark.parametrize("size", [0, -1, True, 2.0, "8", None])
def test_per_group_refuses_bad_sizes(size) -> None:
    with pytest.raises(InvalidParameter, match="PerGroup size"):
        PerGroup(size)


@pytest.mark.parametrize(
    ("cls", "kwargs"),
    [
        (Static, {"activations": 1}),
        (Static, {"activations": 17}),
        (Static, {"observer": "max"}),
        (Static, {"weights": Dynamic()}),
        (Static, {"weights": "WeightOnly"}),
        (Dynamic, {"activations": 1}),
        (Dynamic, {"activations": 17}),
        (Dynamic, {"weights": Static()}),
    ],
)
def test_activation_configs_refuse_invalid_fields(cls, kwargs) -> None:
    with pytest.raises(InvalidParameter):
        cls(**kwargs)


@pytest.mark.parametrize(
    "d",
    [
        {"type": "Int4"},
        {"bits": 4},  # no type
        {"type": "WeightOnly", "bits": 9},
        {"type": "WeightOnly", "bogus": 1},
        {"type": "WeightOnly", "granularity": {"type": "PerBlock"}},
        {"type": "WeightOnly", "granularity": {"type": "PerGroup", "size": 0}},
        {"type": "WeightOnly", "method": "awq"},
        {"type": "Static", "weights": 5},
        {"type": "Static", "weights": {"type": "Static"}},
        {"type": "Static", "observer": "max"},
        {"type": "Dynamic", "observer": "minmax"},  # Dynamic has no observer
        {"type": "Dynamic", "activations": 0},
    ],
)
def test_config_from_dict_refuses_invalid(d) -> None:
    with pytest.raises(InvalidParameter):
        config_from_dict(d)


def test_config_from_dict_refuses_non_dict_granularity() -> None:
    with pytest.raises(InvalidParameter):
        config_from_dict({"type": "WeightOnly", "granularity": "PerChannel"})


@pytest.mark.parametrize("text", ["", "{", "[1, 2]", '"WeightOnly"', "null", '{"type": 3}'])
def test_config_from_json_refuses_non_configs(text) -> None:
    with pytest.raises(InvalidParameter):
        config_from_json(text)


def test_errors_are_quanta_errors_and_value_errors() -> None:
    with pytest.raises(QuantaError):
        WeightOnly(bits=9)
    with pytest.raises(ValueError):
        config_from_json("{")


# ----------------------------------------------------------------- behaviour
def test_selects_by_type_include_and_exclude() -> None:
    cfg = WeightOnly(include=("encoder.*",), exclude=("*.attn.*",), types=("Linear",))
    assert cfg.selects("encoder.0.fc", "Linear")
    assert not cfg.selects("encoder.0.fc", "Conv1d")  # wrong type
    assert not cfg.selects("decoder.0.fc", "Linear")  # not included
    assert not cfg.selects("encoder.0.attn.q", "Linear")  # excluded
    everything = WeightOnly()
    assert everything.selects("", "Linear") and everything.selects("a.b", "Conv3d")
    assert not everything.selects("emb", "Embedding")  # not a default type
    assert not everything.selects("rnn", "LSTMCell")
    assert WeightOnly(types=("Embedding",)).selects("emb", "Embedding")
    # fnmatch is case-sensitive here (fnmatchcase): names are Python identifiers
    assert not WeightOnly(include=("Encoder.*",)).selects("encoder.fc", "Linear")


def test_bits_for_uses_layer_bits_first() -> None:
    cfg = WeightOnly(bits=4, layer_bits=(("head", 8), ("0", 2)))
    assert cfg.bits_for("head") == 8
    assert cfg.bits_for("0") == 2
    assert cfg.bits_for("body") == 4


def test_weights_of() -> None:
    w = WeightOnly(bits=3)
    assert weights_of(w) is w
    assert weights_of(Static(weights=w)) is w
    assert weights_of(Dynamic(weights=w)) is w


def test_weight_names_cover_default_types() -> None:
    assert set(DEFAULT_TYPES) <= set(WEIGHT_NAMES)
    assert WEIGHT_NAMES["LSTMCell"] == ("weight_ih", "weight_hh")


def test_grid_defaults_and_choices() -> None:
    """rtn keeps the symmetric grid; mse and gptq default to the MSE grid; any may be set."""
    assert WeightOnly().grid_rule == "symmetric"
    assert WeightOnly(method="mse").grid_rule == "mse"
    assert WeightOnly(method="gptq").grid_rule == "mse"
    assert WeightOnly(method="gptq", grid="minmax").grid_rule == "minmax"
    with pytest.raises(InvalidParameter, match="grid"):
        WeightOnly(grid="max")
    with pytest.raises(InvalidParameter, match="no grid"):
        WeightOnly(method="lloyd-max", grid="mse")
    with pytest.raises(InvalidParameter, match="sequential"):
        WeightOnly(sequential=1)


def test_without_torch_the_configs_work_and_the_rest_says_how_to_install(monkeypatch) -> None:
    import sys

    import quanta.nn as qnn
    from quanta.errors import MissingDependency

    monkeypatch.delattr(qnn, "quantize", raising=False)  # not cached from earlier use
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now fails
    assert qnn.WeightOnly(bits=4).bits == 4
    with pytest.raises(MissingDependency, match=r"pip install quanta\[torch\]"):
        qnn.quantize  # noqa: B018
