"""The compiled validation fast path: marshmallow schemas loaded without its per-item
bookkeeping.

`Schema.load` spends most of its time on orchestration (error stores, hooks, partial
loading, a validator chain built per call), about 60 µs for a ten-field sample. A batch of
1000 valid samples needs none of it. `compile_loader` turns a flat schema into a function
that runs the same fields' own `_deserialize` and the same validators, in the same way,
and gives up at the first doubt; the full `Schema.load` then runs and produces the errors.
So every rule still lives once, in the schema, and an invalid item gets exactly the 422
it got before.
"""

from collections.abc import Callable
from typing import Any

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields
from marshmallow.utils import missing


class GiveUp(Exception):
    """The compiled loader cannot decide this item: the full load must run."""


def compile_loader(schema: Schema) -> Callable[[Any], dict] | None:
    """A loader equivalent to `schema.load` for items it accepts, or None if the schema has
    anything it does not reproduce (hooks, nested fields, dotted attributes, INCLUDE)."""
    if any(schema._hooks.values()) or schema.unknown not in (RAISE, EXCLUDE):
        return None
    plan = []
    for name, field in schema.load_fields.items():
        attribute = field.attribute or name
        hooked = field.pre_load or field.post_load
        if "." in attribute or isinstance(field, fields.Nested) or hooked:
            return None
        key = field.data_key if field.data_key is not None else name
        plan.append((key, attribute, field, field._deserialize, tuple(field.validators)))
    known = frozenset(key for key, *_ in plan)
    raise_unknown = schema.unknown == RAISE

    def load(item: Any) -> dict:
        if type(item) is not dict or (raise_unknown and not item.keys() <= known):
            raise GiveUp
        result = {}
        for key, attribute, field, deserialize, validators in plan:
            value = item.get(key, missing)
            if value is missing:
                if field.required:
                    raise GiveUp
                default = field.load_default
                value = default() if callable(default) else default
                if value is missing:
                    continue
            elif value is None:
                if not field.allow_none:
                    raise GiveUp
            else:
                value = deserialize(value, attribute, item)
                for validator in validators:
                    validator(value)
            result[attribute] = value
        return result

    return load


_LOADERS: dict[Schema, Callable[[Any], dict] | None] = {}


def loader_for(schema: Schema) -> Callable[[Any], dict] | None:
    """The schema's compiled loader (compiled once per schema instance), or None."""
    if schema not in _LOADERS:
        _LOADERS[schema] = compile_loader(schema)
    return _LOADERS[schema]


def load(schema: Schema, data: Any) -> dict:
    """`schema.load(data)`, through the schema's compiled loader when that can decide."""
    loader = loader_for(schema)
    if loader is not None:
        try:
            return loader(data)
        except (GiveUp, ValidationError):
            pass
    return schema.load(data)


class CompiledList(fields.List):
    """`fields.List(fields.Nested(...))` that loads valid items through `compile_loader`.

    Any item the compiled loader refuses sends the whole list through the ordinary
    `fields.List` load, which reports every error with its index.
    """

    def _deserialize(self, value, attr, data, **kwargs):
        schema = self.inner.schema
        # A Nested field that overrides the schema's `unknown` is not what was compiled.
        same = self.inner.unknown in (None, schema.unknown)
        loader = loader_for(schema) if same else None
        if loader is not None and type(value) is list:
            try:
                return [loader(item) for item in value]
            except (GiveUp, ValidationError):
                pass
        return super()._deserialize(value, attr, data, **kwargs)
