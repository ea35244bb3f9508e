"""Typed contact attributes: the schema and the coercion of raw values (CSV text, JSON) to it."""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Dict, Iterable, List, Mapping, Tuple

from .errors import InvalidInput

TRUE = {"true", "yes", "y", "1"}
FALSE = {"false", "no", "n", "0"}


class AttrType(str, enum.Enum):
    STRING = "string"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"
    ENUM = "enum"


@dataclass(frozen=True)
class Attribute:
    name: str
    type: AttrType
    values: Tuple[str, ...] = ()  # enum members
    indexed: bool = True

    def coerce(self, raw: Any) -> Any:
        """The typed value of ``raw``; None for empty; InvalidInput naming the attribute otherwise."""
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None
        text = raw.strip() if isinstance(raw, str) else raw
        try:
            if self.type is AttrType.STRING:
                return str(text)
            if self.type is AttrType.NUMBER:
                if isinstance(text, bool):
                    raise ValueError
                number = float(text)
                return int(number) if number.is_integer() else number
            if self.type is AttrType.BOOLEAN:
                if isinstance(text, bool):
                    return text
                if str(text).lower() in TRUE:
                    return True
                if str(text).lower() in FALSE:
                    return False
                raise ValueError
            if self.type is AttrType.DATE:
                if isinstance(text, datetime):
                    value = text
                else:
                    value = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
                return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
            if self.type is AttrType.ENUM:
                member = str(text).lower()
                if member not in self.values:
                    raise ValueError
                return member
        except (ValueError, TypeError):
            pass
        expected = f"one of {', '.join(self.values)}" if self.type is AttrType.ENUM else self.type.value
        raise InvalidInput(f"{self.name}: {raw!r} is not {expected}")

    def to_dict(self) -> Dict[str, Any]:
        return {"name": self.name, "type": self.type.value, "values": list(self.values), "indexed": self.indexed}


@dataclass(frozen=True)
class Schema:
    attributes: Tuple[Attribute, ...] = field(default_factory=tuple)

    @classmethod
    def from_list(cls, items: Iterable[Mapping[str, Any]]) -> "Schema":
        attrs: List[Attribute] = []
        for item in items:
            name = str(item.get("name", "")).strip()
            if not name.isidentifier():
                raise InvalidInput(f"attribute name {name!r} must be an identifier")
            try:
                kind = AttrType(item.get("type", "string"))
            except ValueError:
                raise InvalidInput(f"attribute {name}: unknown type {item.get('type')!r}") from None
            values = tuple(str(v).lower() for v in item.get("values") or ())
            if kind is AttrType.ENUM and not values:
                raise InvalidInput(f"attribute {name}: an enum needs values")
            attrs.append(Attribute(name, kind, values, bool(item.get("indexed", True))))
        return cls(tuple(attrs))

    def get(self, name: str) -> Attribute:
        for attr in self.attributes:
            if attr.name == name:
                return attr
        raise InvalidInput(f"unknown attribute {name!r}")

    def names(self) -> List[str]:
        return [a.name for a in self.attributes]

    def coerce_all(self, raw: Mapping[str, Any]) -> Dict[str, Any]:
        """Typed values of every attribute in ``raw`` (unknown names are an error)."""
        return {name: self.get(name).coerce(value) for name, value in raw.items()}

    def to_list(self) -> List[Dict[str, Any]]:
        return [a.to_dict() for a in self.attributes]


#: The schema a fresh install starts with (editable through the API).
DEFAULT_SCHEMA = Schema.from_list([
    {"name": "first_name", "type": "string"},
    {"name": "city", "type": "string"},
    {"name": "gender", "type": "enum", "values": ["female", "male", "other"]},
    {"name": "shoe_size", "type": "number"},
    {"name": "vip", "type": "boolean"},
    {"name": "birthday", "type": "date"},
])
