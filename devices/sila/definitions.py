"""SiLA 2 feature definitions (FDL XML) read as data: commands, properties and JSON Schemas.

Pure functions, no I/O and no database: the adapter uses them to find a command and convert
parameters, ``sila_import`` to derive each ActionType's parameter schema, and the simulator to
load the features shipped in ``devices/sila/features/``.

Type mapping (SiLA -> JSON Schema; the JSON the registry validated -> what the sila2 package
sends):

| SiLA | JSON Schema | sent as |
| --- | --- | --- |
| Basic String | ``string`` | str |
| Basic Integer | ``integer`` | int |
| Basic Real | ``number`` | float |
| Basic Boolean | ``boolean`` | bool |
| Basic Binary | ``string`` (base64, ``contentEncoding``) | bytes |
| List | ``array`` of the element type | list |
| Structure | ``object`` with every element required | dict by element identifier |
| Constrained | the base type plus minimum/maximum, enum, length, pattern, item counts; | as the base |
| | the unit goes into the description (``[unit: degC]``) | type |
| DataTypeIdentifier | the feature's DataTypeDefinition, inlined | as that type |
| Date, Time, Timestamp, Any | ``string`` (not convertible: a dispatch reports it) | - |
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

SILA_NS = "http://www.sila-standard.org"
_NS = {"s": SILA_NS}
FEATURES_DIR = Path(__file__).resolve().parent / "features"

# Where an ActionType's SiLA call is named: "<FeatureIdentifier>/<CommandOrPropertyIdentifier>".
TARGET_SEPARATOR = "/"
# Imported ActionTypes are named sila.<FeatureIdentifier>.<Identifier> (a name may not hold "/").
ACTION_NAME_PREFIX = "sila."

COMMAND = "command"
PROPERTY = "property"


class UnsupportedSilaType(ValueError):
    """A value of a SiLA type LabCore does not convert (Date, Time, Timestamp, Any)."""


@dataclass(frozen=True)
class Element:
    """A parameter, response or structure element: identifier, description and its DataType node."""

    identifier: str
    display_name: str
    description: str
    data_type: ElementTree.Element


@dataclass(frozen=True)
class Call:
    """One command or property of a feature, as an action LabCore can dispatch."""

    feature: str
    identifier: str
    kind: str  # COMMAND or PROPERTY
    display_name: str
    description: str
    observable: bool
    parameters: tuple[Element, ...] = ()
    responses: tuple[Element, ...] = ()

    @property
    def target(self) -> str:
        return f"{self.feature}{TARGET_SEPARATOR}{self.identifier}"

    @property
    def action_name(self) -> str:
        return f"{ACTION_NAME_PREFIX}{self.feature}.{self.identifier}"


@dataclass(frozen=True)
class FeatureDefinition:
    identifier: str
    display_name: str
    description: str
    originator: str
    category: str
    version: str
    xml: str
    commands: dict[str, Call] = field(default_factory=dict)
    properties: dict[str, Call] = field(default_factory=dict)
    data_types: dict[str, ElementTree.Element] = field(default_factory=dict)

    @property
    def calls(self) -> list[Call]:
        return [*self.commands.values(), *self.properties.values()]

    def call(self, identifier: str) -> Call | None:
        return self.commands.get(identifier) or self.properties.get(identifier)


def _text(node, path: str) -> str:
    found = node.find(path, _NS)
    return " ".join((found.text or "").split()) if found is not None else ""


def _elements(node, tag: str) -> tuple[Element, ...]:
    return tuple(
        Element(
            identifier=_text(child, "s:Identifier"),
            display_name=_text(child, "s:DisplayName"),
            description=_text(child, "s:Description"),
            data_type=child.find("s:DataType", _NS),
        )
        for child in node.findall(f"s:{tag}", _NS)
    )


def feature_definition(xml: str) -> FeatureDefinition:
    """Parse one feature definition (raises ValueError for XML that is not one)."""
    try:
        root = ElementTree.fromstring(xml.encode() if isinstance(xml, str) else xml)
    except ElementTree.ParseError as exc:
        raise ValueError(f"not a feature definition: {exc}") from None
    if root.tag != f"{{{SILA_NS}}}Feature":
        raise ValueError(f"not a feature definition: root element {root.tag!r}")
    identifier = _text(root, "s:Identifier")
    commands, properties = {}, {}
    for node in root.findall("s:Command", _NS):
        call = Call(
            feature=identifier,
            identifier=_text(node, "s:Identifier"),
            kind=COMMAND,
            display_name=_text(node, "s:DisplayName"),
            description=_text(node, "s:Description"),
            observable=_text(node, "s:Observable") == "Yes",
            parameters=_elements(node, "Parameter"),
            responses=_elements(node, "Response"),
        )
        commands[call.identifier] = call
    for node in root.findall("s:Property", _NS):
        value = Element(
            identifier=_text(node, "s:Identifier"),
            display_name=_text(node, "s:DisplayName"),
            description=_text(node, "s:Description"),
            data_type=node.find("s:DataType", _NS),
        )
        call = Call(
            feature=identifier,
            identifier=value.identifier,
            kind=PROPERTY,
            display_name=value.display_name,
            description=value.description,
            observable=_text(node, "s:Observable") == "Yes",
            responses=(value,),
        )
        properties[call.identifier] = call
    data_types = {
        _text(node, "s:Identifier"): node.find("s:DataType", _NS) for node in root.findall("s:DataTypeDefinition", _NS)
    }
    return FeatureDefinition(
        identifier=identifier,
        display_name=_text(root, "s:DisplayName"),
        description=_text(root, "s:Description"),
        originator=root.get("Originator", ""),
        category=root.get("Category", "none"),
        version=root.get("FeatureVersion", ""),
        xml=xml if isinstance(xml, str) else xml.decode(),
        commands=commands,
        properties=properties,
        data_types=data_types,
    )


def shipped_feature(identifier: str) -> FeatureDefinition:
    """A feature definition kept in the repository (``devices/sila/features/<Id>.sila.xml``)."""
    return feature_definition((FEATURES_DIR / f"{identifier}.sila.xml").read_text())


def split_target(target: str) -> tuple[str, str] | None:
    """``"Feature/Command"`` -> ``("Feature", "Command")``, or None if it is not one."""
    feature, separator, identifier = str(target or "").partition(TARGET_SEPARATOR)
    return (feature, identifier) if separator and feature and identifier else None


# -- JSON Schema -----------------------------------------------------------------------------------

_BASIC_SCHEMA = {
    "String": {"type": "string"},
    "Integer": {"type": "integer"},
    "Real": {"type": "number"},
    "Boolean": {"type": "boolean"},
    "Binary": {"type": "string", "contentEncoding": "base64"},
    "Date": {"type": "string", "format": "date"},
    "Time": {"type": "string", "format": "time"},
    "Timestamp": {"type": "string", "format": "date-time"},
    "Any": {},
}


def _number(text: str):
    number = float(text)
    return int(number) if number.is_integer() else number


def _unit_label(unit) -> str:
    return _text(unit, "s:Label")


def _constrained_schema(node, feature: FeatureDefinition) -> dict:
    base_node = node.find("s:DataType", _NS)
    schema = dict(data_type_schema(base_node, feature))
    base_type = schema.get("type")
    constraints = node.find("s:Constraints", _NS)
    if constraints is None:
        return schema
    numeric = base_type in ("integer", "number")
    for constraint in constraints:
        name = constraint.tag.split("}")[-1]
        text = (constraint.text or "").strip()
        if name == "MinimalInclusive" and numeric:
            schema["minimum"] = _number(text)
        elif name == "MaximalInclusive" and numeric:
            schema["maximum"] = _number(text)
        elif name == "MinimalExclusive" and numeric:
            schema["exclusiveMinimum"] = _number(text)
        elif name == "MaximalExclusive" and numeric:
            schema["exclusiveMaximum"] = _number(text)
        elif name == "Length":
            schema["minLength"] = schema["maxLength"] = int(text)
        elif name == "MinimalLength":
            schema["minLength"] = int(text)
        elif name == "MaximalLength":
            schema["maxLength"] = int(text)
        elif name == "Pattern":
            schema["pattern"] = f"^(?:{text})$"  # SiLA patterns match the whole value
        elif name == "Set":
            values = [(value.text or "") for value in constraint.findall("s:Value", _NS)]
            schema["enum"] = [_number(value) for value in values] if numeric else values
        elif name == "ElementCount":
            schema["minItems"] = schema["maxItems"] = int(text)
        elif name == "MinimalElementCount":
            schema["minItems"] = int(text)
        elif name == "MaximalElementCount":
            schema["maxItems"] = int(text)
        elif name == "Unit":
            schema["x-sila-unit"] = _unit_label(constraint)
        # ContentType, Schema, FullyQualifiedIdentifier, AllowedTypes: no JSON Schema counterpart.
    return schema


def data_type_schema(node, feature: FeatureDefinition) -> dict:
    """The JSON Schema of one ``<DataType>`` node."""
    if node is None:
        return {}
    basic = node.find("s:Basic", _NS)
    if basic is not None:
        return dict(_BASIC_SCHEMA.get((basic.text or "").strip(), {}))
    listed = node.find("s:List", _NS)
    if listed is not None:
        return {"type": "array", "items": data_type_schema(listed.find("s:DataType", _NS), feature)}
    structure = node.find("s:Structure", _NS)
    if structure is not None:
        elements = _elements(structure, "Element")
        return {
            "type": "object",
            "properties": {element.identifier: element_schema(element, feature) for element in elements},
            "required": [element.identifier for element in elements],
            "additionalProperties": False,
        }
    constrained = node.find("s:Constrained", _NS)
    if constrained is not None:
        return _constrained_schema(constrained, feature)
    reference = node.find("s:DataTypeIdentifier", _NS)
    if reference is not None:
        return data_type_schema(feature.data_types.get((reference.text or "").strip()), feature)
    return {}


def element_schema(element: Element, feature: FeatureDefinition) -> dict:
    """A parameter's schema with its title and description (and unit, if any, in the description)."""
    schema = data_type_schema(element.data_type, feature)
    unit = schema.pop("x-sila-unit", "")
    description = element.description
    if unit:
        description = f"{description} [unit: {unit}]".strip()
    return {**schema, "title": element.display_name or element.identifier, "description": description}


def parameter_schema(call: Call, feature: FeatureDefinition) -> dict:
    """The ActionType parameter schema of a command (every SiLA parameter is required)."""
    return {
        "type": "object",
        "properties": {parameter.identifier: element_schema(parameter, feature) for parameter in call.parameters},
        "required": [parameter.identifier for parameter in call.parameters],
        "additionalProperties": False,
    }


# -- value conversion --------------------------------------------------------------------------------


def _resolve(node, feature: FeatureDefinition):
    """The concrete type node behind Constrained and DataTypeIdentifier wrappers."""
    while node is not None:
        constrained = node.find("s:Constrained", _NS)
        reference = node.find("s:DataTypeIdentifier", _NS)
        if constrained is not None:
            node = constrained.find("s:DataType", _NS)
        elif reference is not None:
            node = feature.data_types.get((reference.text or "").strip())
        else:
            return node
    return None


def to_native(value, node, feature: FeatureDefinition):
    """A JSON value (already validated against the schema) as the sila2 package expects it."""
    node = _resolve(node, feature)
    if node is None:
        raise UnsupportedSilaType("unknown SiLA data type")
    basic = node.find("s:Basic", _NS)
    if basic is not None:
        kind = (basic.text or "").strip()
        if kind == "Real":
            return float(value)
        if kind == "Integer":
            return int(value)
        if kind in ("String", "Boolean"):
            return value
        if kind == "Binary":
            return base64.b64decode(value)
        raise UnsupportedSilaType(f"SiLA {kind} values are not converted from JSON")
    listed = node.find("s:List", _NS)
    if listed is not None:
        return [to_native(item, listed.find("s:DataType", _NS), feature) for item in value]
    structure = node.find("s:Structure", _NS)
    if structure is not None:
        return {
            element.identifier: to_native(value[element.identifier], element.data_type, feature)
            for element in _elements(structure, "Element")
        }
    raise UnsupportedSilaType("unknown SiLA data type")


def to_json(value):
    """A value the sila2 package returned, as JSON (named tuples become objects)."""
    if hasattr(value, "_asdict"):
        return {key: to_json(item) for key, item in value._asdict().items()}
    if isinstance(value, dict):
        return {str(key): to_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(item) for item in value]
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)
