"""The demo catalogue: models, prices and which UK sizes are in stock."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import FrozenSet, Optional, Tuple


@dataclass(frozen=True)
class Model:
    name: str
    kind: str
    price: int  # rupees
    sizes: Tuple[float, ...]
    sold_out: FrozenSet[float]
    aliases: Tuple[str, ...]

    @property
    def in_stock(self) -> Tuple[float, ...]:
        return tuple(s for s in self.sizes if s not in self.sold_out)

    @property
    def url(self) -> str:
        return "paidal.in/" + self.name.lower().replace(" ", "-")

    @property
    def price_text(self) -> str:
        return f"₹{self.price:,}"


def _range(lo: int, hi: int) -> Tuple[float, ...]:
    return tuple(float(s) for s in range(lo, hi + 1))


MODELS: Tuple[Model, ...] = (
    Model("Chalo Runner", "running shoe", 2999, _range(6, 11), frozenset({9.0}), ("chalo",)),
    Model("Monsoon Trek", "waterproof hiker", 3499, _range(7, 12), frozenset({12.0}),
          ("monsoon", "monsoon trekker")),
    Model("Kolhapuri Classic", "leather sandal", 1499, _range(4, 10), frozenset(),
          ("kolhapuri", "kolapuri")),
    Model("Metro Loafer", "loafer", 2499, _range(6, 10), frozenset({6.0, 7.0}), ("loafer",)),
    Model("Cloud Slide", "slide", 899, _range(4, 11), frozenset(), ("slide",)),
    Model("Desi Court", "sneaker", 2299, _range(5, 11), frozenset({5.0}), ("court",)),
    Model("Mojari Festive", "mojari", 1999, _range(5, 10), frozenset({10.0}), ("mojari",)),
    Model("Sprint Flex", "running shoe", 3999, _range(6, 12), frozenset({8.0}), ("sprint",)),
)
RESTOCK_DAYS = 10


def _key(text: str) -> str:
    words = re.sub(r"[^a-z ]", " ", text.lower()).split()
    return " ".join(w[:-1] if w.endswith("s") and len(w) > 3 else w for w in words)


_INDEX = {}
for _m in MODELS:
    for _alias in (_m.name,) + _m.aliases:
        _INDEX[_key(_alias)] = _m


def find(text: Optional[str]) -> Optional[Model]:
    """The model a customer named ('chalo runners', 'Kolapuri', 'monsoon trekker'), or None."""
    if not text:
        return None
    key = _key(text)
    if key in _INDEX:
        return _INDEX[key]
    for alias, model in _INDEX.items():
        if alias in key:
            return model
    return None


def listing() -> str:
    return "\n".join(f"• {m.name}: {m.kind}, {m.price_text}" for m in MODELS)
