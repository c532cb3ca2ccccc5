"""Loading and validating the workflow configuration against its JSON schema.

The schema (``schemas/config.schema.yaml``) gives every key a type, a description and a
default; sections live in sibling files referenced with ``$ref``. :func:`validate_config`
fills defaults, then validates, and raises :class:`ConfigError` naming the offending key.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:  # jsonschema and referencing where a config is validated: every job imports this module
    from referencing import Registry

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"
DEFAULT_SCHEMA = SCHEMA_DIR / "config.schema.yaml"


class ConfigError(ValueError):
    """The configuration does not match the schema; the message names the key."""


# libyaml's loader where PyYAML was built with it: the schemas are read by every Snakemake
# start-up (each job of a cluster run is one), and the pure-Python loader takes 10x longer.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load_yaml(path: Path) -> Any:
    with open(path, encoding="utf-8") as fh:
        return yaml.load(fh, Loader=_SafeLoader)  # a safe loader


class _StrictLoader(_SafeLoader):
    """A safe loader that refuses a key given twice in one mapping (PyYAML keeps the last)."""

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                first = seen.setdefault(key, line)
            except TypeError:  # an unhashable key: let PyYAML report it
                continue
            if first != line:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"key {key!r} appears twice in one mapping (lines {first} and {line}); YAML would "
                    "silently keep the second. Keep one of them",
                    key_node.start_mark,
                )
        return super().construct_mapping(node, deep)


def read_config_file(path: str | Path) -> dict:
    """Read one YAML config file strictly: a syntax error or a key given twice in one mapping
    raises ConfigError naming the file and the line (PyYAML, and so Snakemake, would keep the
    second of two equal keys without a word)."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file {path} does not exist")
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.load(fh, Loader=_StrictLoader)  # a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f"{path}, line {mark.line + 1}, column {mark.column + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        context, start = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and start and mark and start.line != mark.line:
            context = f"{context} (line {start.line + 1})"
        detail = f"{context}: {problem}" if context else problem
        raise ConfigError(f"Invalid configuration file {where}: {detail}") from None
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"Invalid configuration file {path}: the top level is not a mapping of config keys")
    return data or {}


def check_config_files(paths) -> None:
    """read_config_file every existing file of ``paths`` (the Snakefile calls it on the files
    Snakemake merged, which Snakemake itself reads without checking for repeated keys)."""
    for path in paths:
        if Path(path).exists():
            read_config_file(path)


def _registry(schema_dir: Path) -> Registry:
    """All ``*.schema.yaml`` files of a folder, addressable by their file name."""
    from referencing import Registry, Resource

    resources = []
    for file in sorted(schema_dir.glob("*.schema.yaml")):
        resources.append((file.name, Resource.from_contents(_load_yaml(file), default_specification=_spec())))
    return Registry().with_resources(resources)


def _spec():
    from referencing.jsonschema import DRAFT202012

    return DRAFT202012


def _resolve(schema: dict, registry: Registry) -> dict:
    while "$ref" in schema:
        schema = registry.resolver().lookup(schema["$ref"]).contents
    return schema


def fill_defaults(instance: dict, schema: dict, registry: Registry) -> dict:
    """Insert schema defaults for missing keys, recursing into nested objects."""
    schema = _resolve(schema, registry)
    for key, sub in schema.get("properties", {}).items():
        sub = _resolve(sub, registry)
        if key not in instance:
            if "default" in sub:
                instance[key] = copy.deepcopy(sub["default"])
            elif sub.get("type") == "object" and "properties" in sub:
                instance[key] = {}
        if isinstance(instance.get(key), dict) and sub.get("type") == "object":
            fill_defaults(instance[key], sub, registry)
        items = _resolve(sub.get("items", {}), registry) if sub.get("type") == "array" else {}
        if isinstance(instance.get(key), list) and items.get("type") == "object":
            for item in instance[key]:
                if isinstance(item, dict):
                    fill_defaults(item, items, registry)
    return instance


def order_like_schema(instance: dict, schema: dict, registry: Registry) -> dict:
    """Reorder the keys of ``instance`` (in place, recursively, list items too) as the schema
    lists them, so that a config means the same dicts whatever the key order of its YAML files
    (Snakemake compares rule params in order: a reordered YAML file would rerun jobs)."""
    schema = _resolve(schema, registry)
    props = schema.get("properties", {})
    order = [k for k in props if k in instance] + sorted(k for k in instance if k not in props)
    values = {k: instance.pop(k) for k in order}
    instance.update(values)
    for key, value in instance.items():
        sub = _resolve(props.get(key, {}), registry)
        if isinstance(value, dict):
            order_like_schema(value, sub, registry)
        elif isinstance(value, list) and isinstance(sub.get("items"), dict):
            for item in value:
                if isinstance(item, dict):
                    order_like_schema(item, sub["items"], registry)
    return instance


def _key_path(error) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "<top level>"


def _describe(error, schema: dict, registry: Registry) -> str:
    where = _key_path(error)
    if error.validator == "additionalProperties":
        allowed = sorted(_resolve(error.schema, registry).get("properties", {}))
        unknown = [k for k in error.instance if k not in allowed]
        parts = []
        for key in unknown:
            full = key if where == "<top level>" else f"{where}.{key}"
            hint = difflib.get_close_matches(key, allowed, n=1)
            parts.append(f"unknown config key '{full}'" + (f" (did you mean '{hint[0]}'?)" if hint else ""))
        return "; ".join(parts) + f". Allowed keys here: {', '.join(allowed)}"
    return f"config key '{where}': {error.message}"


def validate_config(config: dict, schema_path: str | Path = DEFAULT_SCHEMA) -> dict:
    """Fill defaults into ``config`` (in place) and validate it; return it.

    Raises ConfigError listing every problem, each naming its key.
    """
    from jsonschema import Draft202012Validator

    schema_path = Path(schema_path)
    registry = _registry(schema_path.parent)
    schema = _load_yaml(schema_path)
    fill_defaults(config, schema, registry)
    order_like_schema(config, schema, registry)
    validator = Draft202012Validator(schema, registry=registry)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    lines = [_describe(e, schema, registry) for e in errors]
    if not lines:
        lines = _check_meaning(config, registry)
    if lines:
        raise ConfigError("Invalid configuration:\n  - " + "\n  - ".join(lines))
    _complete_model_pretrain(config, registry)
    return config


def _complete_model_pretrain(config: dict, registry: Registry) -> None:
    """Give every compared pretrained model its full pretrain section (the pretrain section, its
    overrides on top, defaults filled in, e.g. in the iterations it lists), so that every
    model's settings are complete wherever they are read."""
    from speechneurons.study import merged

    pretrain_schema = registry.resolver().lookup("pretrain.schema.yaml").contents
    for entry in config.get("compare", {}).get("models", []):
        if entry["source"] == "pretrain" and entry.get("pretrain"):
            section = merged(config["pretrain"], entry["pretrain"])
            fill_defaults(section, pretrain_schema, registry)
            entry["pretrain"] = section


def _check_meaning(config: dict, registry: Registry) -> list[str]:
    """What the schema cannot say: unique names, each model's pretraining settings (the
    pretrain section with its overrides, validated like the section) and iteration rules."""
    from jsonschema import Draft202012Validator

    from speechneurons.study import duplicate_names, merged

    lines = [
        f"config: {name} is used twice; give every corpus and every model its own name"
        for name in duplicate_names(config)
    ]
    pretrain_schema = registry.resolver().lookup("pretrain.schema.yaml").contents
    sections = [("pretrain", config["pretrain"])]
    for i, entry in enumerate(config.get("compare", {}).get("models", [])):
        if entry.get("pretrain"):
            if entry["source"] != "pretrain":
                lines.append(
                    f"config key 'compare.models[{i}].pretrain': only a model with source pretrain is pretrained"
                )
                continue
            section = merged(config["pretrain"], entry["pretrain"])
            fill_defaults(section, pretrain_schema, registry)
            for err in Draft202012Validator(pretrain_schema, registry=registry).iter_errors(section):
                where = ".".join(map(str, err.absolute_path))
                lines.append(f"config key 'compare.models[{i}].pretrain.{where}': {err.message}")
            sections.append((f"compare.models[{i}].pretrain", section))
    for where, section in sections:
        for k, it in enumerate(section.get("iterations", [])):
            if k == 0 and (it.get("targets") != "mfcc" or it.get("init") != "scratch"):
                lines.append(
                    f"config key '{where}.iterations[0]': the first iteration has targets mfcc and init scratch"
                )
    return lines


def load_config(path: str | Path, schema_path: str | Path = DEFAULT_SCHEMA) -> dict:
    """Read a YAML config file and validate it (used by tests and tools outside Snakemake)."""
    return validate_config(read_config_file(path), schema_path)


def defaults(schema_path: str | Path = DEFAULT_SCHEMA) -> dict:
    """The full default configuration (the embedded default experiment)."""
    return validate_config({}, schema_path)


# --------------------------------------------------------------------------- settings objects


def settings_from(cls, section: Mapping[str, Any], **given: Any):
    """Build the settings dataclass ``cls`` from a validated config section.

    Every field of ``cls`` is the config key of the same name (the schema holds its type,
    default and description; the dataclass declares no default). ``given`` supplies fields
    that are not config keys of the section (e.g. a seed or a per-iteration step count).
    Lists become tuples, so frozen settings stay hashable. A field missing from both is a
    programming error that names the key.
    """
    values = {}
    for f in fields(cls):
        if f.name in given:
            values[f.name] = given[f.name]
        elif f.name in section:
            value = section[f.name]
            values[f.name] = tuple(value) if isinstance(value, list) else value
        else:
            raise KeyError(f"{cls.__name__}: config key {f.name!r} is not in the section (schema and code disagree)")
    return cls(**values)


def section_params(cls, section: Mapping[str, Any]) -> dict:
    """The keys of ``section`` that ``cls`` reads: a rule passes exactly these as ``params``,
    so that changing another key of the section does not rerun the job."""
    names = {f.name for f in fields(cls)}
    return {k: copy.deepcopy(v) for k, v in section.items() if k in names}


def _merge(base: dict, override: dict) -> dict:
    """``override`` on top of ``base``, nested mappings merged key by key (as Snakemake does)."""
    out = dict(base)
    for key, value in override.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m speechneurons.config FILE [FILE ...]``: read the files strictly (a syntax
    error or a repeated key names the file and line), merge them in order and validate the result.
    Snakemake reads ``--configfile`` files itself before the workflow starts and names neither
    the file nor the line of a syntax error; ``make run`` runs this check first."""
    import sys

    paths = sys.argv[1:] if argv is None else argv
    try:
        merged: dict = {}
        for path in paths:
            merged = _merge(merged, read_config_file(path))
        validate_config(merged)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"config OK: {' + '.join(map(str, paths))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
