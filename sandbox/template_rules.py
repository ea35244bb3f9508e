"""Template rules: validating definitions (management API) and the parameters of template sends.

Both are pure functions over dicts. Definitions follow reference 7.1 (components, named vs
positional parameters, limits of 6.6); send checks follow 4.6 and the error codes of 5
(132000 parameter count, 132012 parameter format).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .errors import GraphError

CATEGORIES = ("MARKETING", "UTILITY", "AUTHENTICATION")
FORMATS = ("POSITIONAL", "NAMED")
BUTTON_TYPES = ("QUICK_REPLY", "URL", "PHONE_NUMBER", "COPY_CODE", "OTP", "FLOW")
HEADER_FORMATS = ("TEXT", "IMAGE", "VIDEO", "DOCUMENT", "LOCATION")
_NAME = re.compile(r"^[a-z0-9_]{1,512}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(_[A-Za-z]{2,4})?$")
_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
_NAMED_PARAM = re.compile(r"^[a-z][a-z0-9_]*$")
_TEXT_PARAM_TYPES = ("text", "currency", "date_time")


@dataclass
class Slots:
    """The parameters a template expects: header, body and per-button."""

    header_format: str | None = None
    header: list[str] = field(default_factory=list)
    body: list[str] = field(default_factory=list)
    buttons: list[tuple[str, int]] = field(default_factory=list)  # (type, number of variables)


@dataclass(frozen=True)
class Definition:
    name: str
    language: str
    category: str
    parameter_format: str
    components: list[dict[str, Any]]


def placeholders(text: str) -> list[str]:
    return _PLACEHOLDER.findall(text)


def _bad(details: str, subcode: int = 2388040) -> GraphError:
    return GraphError(100, details, subcode=subcode)


def validate_definition(payload: Any, *, current: Definition | None = None) -> Definition:
    """Validate a create body, or (with ``current``) an edit body merged over the current template."""
    if not isinstance(payload, dict):
        raise _bad("The request body must be a JSON object.")
    if current is None:
        name = payload.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise _bad("Param name must be lowercase letters, digits and underscores, at most 512 characters.", 2388043)
        language = payload.get("language")
        if not isinstance(language, str) or not _LANGUAGE.match(language):
            raise _bad("Param language must be a language code such as en or en_US.", 2388003)
    else:
        name, language = current.name, current.language
    category = payload.get("category", current.category if current else None)
    if not isinstance(category, str) or category.upper() not in CATEGORIES:
        raise _bad(f"Param category must be one of {{{', '.join(CATEGORIES)}}}.", 2388006)
    fmt = payload.get("parameter_format", current.parameter_format if current else "POSITIONAL")
    if not isinstance(fmt, str) or fmt.upper() not in FORMATS:
        raise _bad("Param parameter_format must be POSITIONAL or NAMED.", 2388006)
    components = payload.get("components", current.components if current else None)
    definition = Definition(name, language, category.upper(), fmt.upper(), _components(components, fmt.upper()))
    slots(definition.components)
    return definition


def _components(components: Any, fmt: str) -> list[dict[str, Any]]:
    if not isinstance(components, list) or not components:
        raise _bad("Param components must be a non-empty array.", 2388006)
    seen: set[str] = set()
    for component in components:
        if not isinstance(component, dict) or not isinstance(component.get("type"), str):
            raise _bad("Every component must be an object with a type.", 2388006)
        kind = component["type"].upper()
        if kind not in ("HEADER", "BODY", "FOOTER", "BUTTONS") or kind in seen:
            raise _bad(f"Unexpected or repeated component type {component['type']!r}.", 2388006)
        seen.add(kind)
        if kind == "HEADER":
            _header(component, fmt)
        elif kind == "BODY":
            _text(component, "BODY", 1024, fmt, edges=True)
        elif kind == "FOOTER":
            _text(component, "FOOTER", 60, fmt, max_vars=0)
        else:
            _buttons(component)
    if "BODY" not in seen:
        raise _bad("A template needs a BODY component.", 2388072)
    return [{**component, "type": component["type"].upper()} for component in components]


def _header(component: dict[str, Any], fmt: str) -> None:
    header_format = component.get("format", "TEXT")
    if not isinstance(header_format, str) or header_format.upper() not in HEADER_FORMATS:
        raise _bad(f"HEADER format must be one of {{{', '.join(HEADER_FORMATS)}}}.", 2388047)
    if header_format.upper() == "TEXT":
        _text(component, "HEADER", 60, fmt, max_vars=1)


def _text(component: dict[str, Any], kind: str, limit: int, fmt: str, *, max_vars: int = 100, edges: bool = False) -> None:
    text = component.get("text")
    if not isinstance(text, str) or not text.strip():
        raise _bad(f"{kind} text is required.", 2388072)
    if len(text) > limit:
        raise _bad(f"{kind} text must be at most {limit} characters.", 2388040)
    names = placeholders(text)
    if len(names) > max_vars:
        raise _bad(f"{kind} text can have at most {max_vars} variables.", 2388293)
    _check_names(names, fmt, kind)
    stripped = text.strip()
    if edges and names and (stripped.startswith("{{") or stripped.endswith("}}")):
        raise _bad("Variables can't be at the start or end of the template.", 2388299)


def _check_names(names: list[str], fmt: str, kind: str) -> None:
    if fmt == "POSITIONAL":
        if names != [str(number) for number in range(1, len(names) + 1)]:
            raise _bad(f"{kind} variables must be {{{{1}}}}, {{{{2}}}}, ... in order for POSITIONAL templates.", 2388273)
    else:
        if not all(_NAMED_PARAM.match(name) for name in names) or len(set(names)) != len(names):
            raise _bad(f"{kind} variables must be unique lowercase names for NAMED templates.", 2388273)


def _buttons(component: dict[str, Any]) -> None:
    buttons = component.get("buttons")
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 10:
        raise _bad("BUTTONS needs 1 to 10 buttons.", 2388158)
    for button in buttons:
        if not isinstance(button, dict) or str(button.get("type", "")).upper() not in BUTTON_TYPES:
            raise _bad(f"Button type must be one of {{{', '.join(BUTTON_TYPES)}}}.", 2388158)
        text = button.get("text")
        if not isinstance(text, str) or not text.strip() or len(text) > 25:
            raise _bad("Button text is required and at most 25 characters.", 2388040)
        if str(button["type"]).upper() == "URL":
            url = button.get("url")
            if not isinstance(url, str) or not url.startswith(("http://", "https://")) or len(url) > 2000:
                raise _bad("URL buttons need an http(s) url of at most 2000 characters.", 2388040)
            if len(placeholders(url)) > 1:
                raise _bad("URL buttons can have at most one variable.", 2388293)


def slots(components: list[dict[str, Any]]) -> Slots:
    """What a send of this template must provide."""
    result = Slots()
    for component in components:
        kind = str(component.get("type", "")).upper()
        if kind == "HEADER":
            result.header_format = str(component.get("format", "TEXT")).upper()
            if result.header_format == "TEXT":
                result.header = placeholders(str(component.get("text", "")))
        elif kind == "BODY":
            result.body = placeholders(str(component.get("text", "")))
        elif kind == "BUTTONS":
            for button in component.get("buttons", []):
                variables = len(placeholders(str(button.get("url", "")))) if str(button.get("type")).upper() == "URL" else 0
                result.buttons.append((str(button.get("type", "")).upper(), variables))
    return result


def check_send(expected: Slots, named: bool, components: list[dict[str, Any]]) -> None:
    """Raise 132000/132012 when a send's parameters don't fit the template."""
    given: dict[str, list[dict[str, Any]]] = {"header": [], "body": []}
    buttons: dict[int, dict[str, Any]] = {}
    for component in components:
        kind = str(component["type"]).lower()
        if kind == "button":
            index = _button_index(component)
            buttons[index] = component
        elif kind in given:
            given[kind] = given[kind] + list(component.get("parameters", []))
    if expected.header_format in ("IMAGE", "VIDEO", "DOCUMENT", "LOCATION"):
        _media_header(expected.header_format.lower(), given["header"])
    else:
        _text_params("header", expected.header, named, given["header"])
    _text_params("body", expected.body, named, given["body"])
    for index, component in buttons.items():
        if index >= len(expected.buttons):
            raise GraphError(132000, f"The template has no button at index {index}.")
    for index, (button_type, variables) in enumerate(expected.buttons):
        component = buttons.get(index)
        parameters = list(component.get("parameters", [])) if component else []
        if button_type == "URL" and len(parameters) != variables:
            raise GraphError(132000, f"Button at index {index} expects {variables} parameter(s), got {len(parameters)}.")
        if component and button_type == "QUICK_REPLY" and str(component.get("sub_type")) != "quick_reply":
            raise GraphError(132012, f"Button at index {index} is a quick reply button.")


def _button_index(component: dict[str, Any]) -> int:
    raw = component.get("index")
    try:
        index = int(raw) if not isinstance(raw, bool) else -1
    except (TypeError, ValueError):
        index = -1
    if index < 0:
        raise GraphError(131008, "The parameter template['components'][]['index'] is required for buttons.")
    return index


def _media_header(kind: str, parameters: list[dict[str, Any]]) -> None:
    if len(parameters) != 1:
        raise GraphError(132000, f"The header expects 1 {kind} parameter, got {len(parameters)}.")
    if parameters[0].get("type") != kind:
        raise GraphError(132012, f"The header expects a {kind} parameter, got {parameters[0].get('type')}.")


def _text_params(where: str, names: list[str], named: bool, parameters: list[dict[str, Any]]) -> None:
    for parameter in parameters:
        if parameter.get("type") not in _TEXT_PARAM_TYPES:
            raise GraphError(132012, f"{where} parameters must be text, currency or date_time.")
        has_name = parameter.get("parameter_name") is not None
        if named and not has_name:
            raise GraphError(132012, f"The template uses NAMED parameters; every {where} parameter needs parameter_name.")
        if not named and has_name:
            raise GraphError(132012, f"The template uses POSITIONAL parameters; {where} parameters must not be named.")
    if len(parameters) != len(names):
        raise GraphError(132000, f"The {where} expects {len(names)} parameter(s), got {len(parameters)}.")
    if named:
        given = sorted(str(parameter["parameter_name"]) for parameter in parameters)
        if given != sorted(names):
            raise GraphError(132000, f"The {where} expects parameters {sorted(names)}, got {given}.")
