"""Shoe sizes: parse what customers type and convert between UK (Paidal's sizes), US and EU."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

# UK -> EU for Paidal's lasts (unisex). Half sizes take the EU size of the next whole size.
_UK_TO_EU = {3: 36, 4: 37, 5: 38, 6: 40, 7: 41, 8: 42, 9: 43, 10: 44, 11: 45, 12: 46, 13: 47}
_EU_TO_UK = {eu: uk for uk, eu in _UK_TO_EU.items()}
_SIZE = re.compile(r"(?:\b(uk|us|eu)\D{0,8}?)?(?<![\d.])(\d{1,2}(?:\.5)?)(?![\d.])(?:\s*(uk|us|eu)\b)?",
                   re.IGNORECASE)

CHART = (
    "Paidal sizes are UK sizes 👟\n"
    "• US men = UK + 1, US women = UK + 2\n"
    "• UK 5 = EU 38, UK 6 = EU 40, UK 7 = EU 41, UK 8 = EU 42, UK 9 = EU 43, UK 10 = EU 44\n"
    "Between sizes? Go half a size up. Tell me your size (e.g. \"US 9\") and I'll convert it."
)


@dataclass(frozen=True)
class Size:
    system: str  # "UK" | "US" | "EU"
    value: float

    def __str__(self) -> str:
        return f"{self.system} {_num(self.value)}"


def parse(raw: Optional[str]) -> Optional[Size]:
    """'uk 8', 'size 9', '9 number', 'EU42', 'us-10.5' -> Size; no number -> None.
    Without a system the size is UK, as customers in India mean."""
    if not raw:
        return None
    match = _SIZE.search(raw)
    if not match:
        return None
    system = (match.group(1) or match.group(3) or "UK").upper()
    value = float(match.group(2))
    if system == "EU" and value < 30 or system != "EU" and value > 15:
        return None
    return Size(system, value)


def to_uk(size: Size, women: bool = False) -> Optional[float]:
    """The UK size for `size` (US read as men's unless `women`), or None when out of range."""
    if size.system == "UK":
        uk = size.value
    elif size.system == "US":
        uk = size.value - (2 if women else 1)
    else:
        uk = _EU_TO_UK.get(int(size.value))
        if uk is None:
            return None
    return uk if 3 <= uk <= 13 else None


def to_eu(uk: float) -> Optional[int]:
    return _UK_TO_EU.get(int(uk + 0.5))


def explain(size: Size) -> str:
    """A one-message conversion of `size` into the other systems."""
    if size.system == "US":
        men, women = to_uk(size), to_uk(size, women=True)
        if men is None and women is None:
            return f"Hmm, {size} is outside our range (UK 3-13) 🤔"
        parts = []
        if men is not None:
            parts.append(f"US {_num(size.value)} men's = UK {_num(men)} (EU {to_eu(men)})")
        if women is not None:
            parts.append(f"US {_num(size.value)} women's = UK {_num(women)} (EU {to_eu(women)})")
        return "👟 " + "\n👟 ".join(parts) + "\nOrder the UK size on paidal.in."
    uk = to_uk(size)
    if uk is None:
        return f"Hmm, {size} is outside our range (UK 3-13 / EU 36-47) 🤔"
    return (f"👟 UK {_num(uk)} = US {_num(uk + 1)} men's / US {_num(uk + 2)} women's = EU {to_eu(uk)}."
            "\nOrder UK " + _num(uk) + " on paidal.in; between sizes, go half a size up.")


def _num(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)
