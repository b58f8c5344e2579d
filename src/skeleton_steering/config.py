"""Typed configuration: frozen dataclasses built from YAML with every field checked.

A config file is a nested mapping whose keys mirror the dataclass fields. Unknown keys are
rejected with the closest valid key suggested, wrong types name the dotted field path and the
file, and `key.sub=value` overrides from the command line go through the same checks (an
error in an override's value names the override, not the file).

YAML is read as YAML 1.2 reads numbers (`3e-4` is a float, where YAML 1.1 makes it a string),
and a key given twice in one mapping is an error naming the key, its line and the file.

Every number must be one the code can compute with: floats finite, integers within int32 (JAX
computes in 32 bits, so a larger step count would overflow inside a compiled function), and
fields typed `Seed` within 0..2^32-1 (a JAX PRNG key holds 32 bits of seed; larger seeds would
collide silently).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml

T = TypeVar("T")

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
SEED_MAX = 2**32 - 1


@dataclasses.dataclass(frozen=True)
class IntRange:
    """Bounds of an integer field other than int32 (used as `Annotated[int, IntRange(...)]`)."""

    low: int
    high: int
    what: str


Seed = Annotated[int, IntRange(0, SEED_MAX, "a seed")]


class ConfigError(ValueError):
    """A configuration value is missing, unknown or of the wrong type."""


@dataclasses.dataclass(frozen=True)
class Sources:
    """Where a config's values came from: a file, except the dotted keys set by overrides."""

    file: str | None
    overrides: Mapping[str, str] = dataclasses.field(default_factory=dict)  # key -> "key=value"

    def blame(self, path: str) -> str | None:
        """The source to name for an error at dotted `path`."""
        for key, text in reversed(list(self.overrides.items())):
            if path == key or path.startswith((f"{key}.", f"{key}[")):
                return f"override '{text}'"
        inside = [t for k, t in self.overrides.items() if not path or k.startswith(f"{path}.")]
        if inside:  # a check across a section's fields, some of them overridden
            with_overrides = ", ".join(f"'{t}'" for t in inside)
            return f"{self.file or 'config'} with override {with_overrides}"
        return self.file


def _where(source: str | Sources | None, path: str) -> str:
    if isinstance(source, Sources):
        source = source.blame(path)
    field = f"field '{path}'" if path else "top level"
    return f"{source}: {field}" if source else field


def _coerce(value: Any, hint: Any, path: str, source: str | Sources | None) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, Mapping):
            raise ConfigError(
                f"{_where(source, path)} must be a mapping, got {type(value).__name__}"
            )
        return from_dict(hint, value, source=source, prefix=path)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, path, source)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(errors[0] if errors else f"{_where(source, path)} may not be null")
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{_where(source, path)} must be one of {list(args)}, got {value!r}")
        return value
    if origin in (tuple, list, Sequence):
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{_where(source, path)} must be a list, got {type(value).__name__}")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise ConfigError(
                    f"{_where(source, path)} must have {len(args)} items, got {len(value)}"
                )
            return tuple(
                _coerce(v, a, f"{path}[{i}]", source)
                for i, (v, a) in enumerate(zip(value, args, strict=False))
            )
        item = args[0] if args else Any
        return tuple(_coerce(v, item, f"{path}[{i}]", source) for i, v in enumerate(value))
    if origin in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{_where(source, path)} must be a mapping")
        key_t, val_t = args if args else (Any, Any)
        return {
            _coerce(k, key_t, f"{path}.{k}", source): _coerce(v, val_t, f"{path}.{k}", source)
            for k, v in value.items()
        }
    if hint is Any:
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{_where(source, path)} must be a number, got {value!r}")
        try:
            number = float(value)
        except OverflowError:  # an integer beyond float range
            number = math.inf
        if not math.isfinite(number):
            raise ConfigError(f"{_where(source, path)} must be a finite number, got {value!r}")
        return number
    if origin is Annotated and args[0] is not int:
        return _coerce(value, args[0], path, source)
    if hint is int or origin is Annotated:
        bounds = next((a for a in args if isinstance(a, IntRange)), None)
        bounds = bounds or IntRange(INT32_MIN, INT32_MAX, "a 32-bit integer")
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{_where(source, path)} must be an integer, got {value!r}")
        if not bounds.low <= value <= bounds.high:
            raise ConfigError(f"{_where(source, path)} must be {bounds.what} in "
                              f"{bounds.low}..{bounds.high}, got {value}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{_where(source, path)} must be true or false, got {value!r}")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{_where(source, path)} must be a string, got {value!r}")
        return value
    raise ConfigError(f"{_where(source, path)}: unsupported type {hint!r}")


def from_dict(
    cls: type[T], data: Mapping[str, Any], source: str | Sources | None = None, prefix: str = ""
) -> T:
    """Build dataclass `cls` from `data`, checking keys and types; defaults fill the gaps."""
    hints = typing.get_type_hints(cls, include_extras=True)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    kwargs = {}
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f"; valid keys: {sorted(fields)}"
            raise ConfigError(f"{_where(source, path)} is not a known key{hint}")
        kwargs[key] = _coerce(value, hints[key], path, source)
    try:
        obj = cls(**kwargs)
    except TypeError as err:
        raise ConfigError(f"{_where(source, prefix)}: {err}") from err
    validate = getattr(obj, "validate", None)
    if callable(validate):
        try:
            validate()
        except ValueError as err:
            raise ConfigError(f"{_where(source, prefix)}: {err}") from err
    return obj


def to_dict(obj: Any) -> Any:
    """Plain (YAML/JSON-ready) form of a config dataclass."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, tuple | list):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


class _DuplicateKeyError(yaml.YAMLError):
    def __init__(self, key: Any, line: int, first_line: int) -> None:
        super().__init__(f"duplicate key {key!r}")
        self.key, self.line, self.first_line = key, line, first_line


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 floats and duplicate keys refused."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        first: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                seen = first.setdefault(key, key_node.start_mark.line)
            except TypeError:  # an unhashable key: the base constructor reports it
                continue
            if seen != key_node.start_mark.line:
                raise _DuplicateKeyError(key, key_node.start_mark.line + 1, seen + 1)
        return super().construct_mapping(node, deep=deep)


# YAML 1.2 floats that YAML 1.1 (PyYAML) reads as strings: an exponent without a dot.
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


def yaml_problem(err: yaml.YAMLError) -> str:
    """One line for a YAML syntax error: where, and what (PyYAML's own text spans lines)."""
    if not isinstance(err, yaml.MarkedYAMLError):
        return " ".join(str(err).split())
    mark = err.problem_mark or err.context_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    what = "; ".join(t for t in (err.context, err.problem) if t)
    return f"{where}{what}"


def parse_yaml(text: str) -> Any:
    """`text` parsed as our config YAML (see the module docstring)."""
    return yaml.load(text, Loader=_Loader)  # a SafeLoader subclass: no arbitrary objects


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping, with errors that name the file."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"config file {path} is a directory")
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text (byte {err.start}: {err.reason}); save the "
                          "config as UTF-8") from err
    try:
        data = parse_yaml(text)
    except _DuplicateKeyError as err:
        raise ConfigError(f"{path}: key {err.key!r} appears twice (lines {err.first_line} and "
                          f"{err.line}); give each key once") from err
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML at {yaml_problem(err)}") from err
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping, got {type(data).__name__}")
    return data


def _split_override(item: str) -> tuple[str, Any]:
    if "=" not in item:
        raise ConfigError(f"override '{item}' must look like key.sub=value")
    key, raw = item.split("=", 1)
    try:
        value = parse_yaml(raw)
    except yaml.YAMLError as err:
        raise ConfigError(f"override '{item}': value is not valid YAML ({yaml_problem(err)})"
                          ) from err
    return key.strip(), value


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply `a.b.c=value` strings (value parsed as YAML) to a nested mapping, returning a copy."""
    out = _deep_copy(data)
    for item in overrides:
        key, value = _split_override(item)
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"override '{item}': '{part}' is not a section")
            node = child
        node[parts[-1]] = value
    return out


def load_config(
    cls: type[T], path: str | Path | None, overrides: Sequence[str] = (),
    default_source: str = "config",
) -> T:
    """`cls` from the YAML file at `path` (defaults when None) with `key=value` overrides;
    errors name the override that set a bad value, else the file."""
    # Without a file the overrides edit the defaults, so that `env.reward.scales.alive=0.2`
    # changes one entry of a mapping instead of replacing the whole mapping with it.
    data = read_yaml(path) if path is not None else to_dict(cls())
    data = apply_overrides(data, overrides)
    keys = {_split_override(item)[0]: item for item in overrides}
    source = Sources(str(path) if path is not None else default_source, keys)
    return from_dict(cls, data, source=source)


def _deep_copy(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _deep_copy(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_deep_copy(v) for v in data]
    return data
