"""Delivery estimates by pincode (demo rules: metros fast, remote regions slow)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

_METROS = {"110": "Delhi", "400": "Mumbai", "560": "Bengaluru", "600": "Chennai",
           "700": "Kolkata", "500": "Hyderabad", "411": "Pune", "380": "Ahmedabad",
           "122": "Gurugram", "201": "Noida"}
_REMOTE = ("18", "19", "78", "79", "744", "737", "682559")  # J&K/Ladakh, North-East, islands


@dataclass(frozen=True)
class Estimate:
    pincode: str
    min_days: int
    max_days: int
    region: str
    cod: bool
    serviceable: bool = True


def normalise(raw: Optional[str]) -> Optional[str]:
    digits = re.sub(r"\D", "", raw or "")
    return digits if re.fullmatch(r"[1-9]\d{5}", digits) else None


def estimate(pincode: str) -> Estimate:
    if pincode.startswith("9"):  # Army Postal Service pincodes
        return Estimate(pincode, 0, 0, "Army Postal Service", cod=False, serviceable=False)
    if pincode[:3] in _METROS:
        return Estimate(pincode, 2, 3, _METROS[pincode[:3]], cod=True)
    if pincode.startswith(_REMOTE):
        return Estimate(pincode, 6, 9, "a remote region", cod=False)
    return Estimate(pincode, 3, 5, "your area", cod=True)


def describe(est: Estimate) -> str:
    if not est.serviceable:
        return (f"Sorry, we can't deliver to {est.pincode} yet 😕 "
                "(Army Postal Service pincodes aren't covered by our couriers).")
    cod = "Cash on delivery available." if est.cod else "Prepaid orders only here (no COD)."
    return (f"🚚 Delivery to {est.pincode} ({est.region}) takes {est.min_days}-{est.max_days} "
            f"working days. Order before 2 pm for same-day dispatch. Free shipping above ₹999. {cod}")
