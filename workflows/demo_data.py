"""The demo lab that ``seed_demo`` creates: devices, action types, samples and a protocol.

Mock latencies are chosen so the demo protocol runs end to end in about 15 seconds at
LABCORE_MOCK_LATENCY_SCALE=1; estimated durations are what the real instruments take.
"""

DEVICES = [
    {"id": "liquid-handler-1", "name": "Liquid handler 1", "kind": "liquid_handler"},
    {"id": "liquid-handler-2", "name": "Liquid handler 2", "kind": "liquid_handler"},
    {"id": "incubator-1", "name": "CO2 incubator 1", "kind": "incubator", "capacity": 44},
    {"id": "plate-reader-1", "name": "Plate reader 1", "kind": "plate_reader"},
    {"id": "microscope-1", "name": "Microscope 1", "kind": "microscope"},
    {"id": "robot-arm-1", "name": "Robot arm 1", "kind": "robot_arm"},
    {"id": "vision-1", "name": "Cell-analysis vision service", "kind": "vision"},
]

_VOLUME = {"type": "number", "exclusiveMinimum": 0, "maximum": 50000, "description": "microlitres"}
_WELL = {"type": "string", "pattern": "^[A-P]([1-9]|1[0-9]|2[0-4])$"}
_REAGENT = {"type": "string", "minLength": 1, "maxLength": 100}


def _schema(properties: dict, required: list[str] | None = None) -> dict:
    return {
        "type": "object",
        "properties": properties,
        "required": required or [],
        "additionalProperties": False,
    }


ACTION_TYPES = [
    {
        "name": "incubator.warm",
        "device_kind": "incubator",
        "description": "Bring media or a plate to temperature.",
        "parameter_schema": _schema(
            {
                "temperature_c": {"type": "number", "minimum": 4, "maximum": 45, "default": 37},
                "duration_s": {"type": "integer", "minimum": 1, "maximum": 86400, "default": 900},
            }
        ),
        "estimated_duration_seconds": 900,
        "timeout_seconds": 1200,
        "safe_to_repeat": True,
        "mock_response": {"temperature_c": 37.0, "stable": True},
        "mock_latency_seconds": 1.0,
    },
    {
        "name": "incubate",
        "device_kind": "incubator",
        "description": "Hold a plate at temperature and CO2 for a time (long-running).",
        "parameter_schema": _schema(
            {
                "temperature_c": {"type": "number", "minimum": 4, "maximum": 45, "default": 37},
                "co2_percent": {"type": "number", "minimum": 0, "maximum": 20, "default": 5},
                "duration_s": {"type": "integer", "minimum": 1, "maximum": 604800, "default": 300},
            }
        ),
        "estimated_duration_seconds": 300,
        "timeout_seconds": 700000,
        "safe_to_repeat": False,
        "is_long_running": True,
        "on_failure": "pause",
        "mock_response": {"completed": True},
        "mock_latency_seconds": 2.0,
    },
    {
        "name": "robot.aspirate",
        "device_kind": "robot_arm",
        "description": "Aspirate liquid from a well.",
        "parameter_schema": _schema({"volume_ul": _VOLUME, "well": _WELL}, ["volume_ul"]),
        "estimated_duration_seconds": 45,
        "timeout_seconds": 120,
        "mock_response": {"aspirated_ul": "{volume_ul}"},
        "mock_latency_seconds": 0.6,
    },
    {
        "name": "robot.dispense",
        "device_kind": "robot_arm",
        "description": "Dispense liquid into a well.",
        "parameter_schema": _schema({"volume_ul": _VOLUME, "well": _WELL, "reagent": _REAGENT}, ["volume_ul"]),
        "estimated_duration_seconds": 45,
        "timeout_seconds": 120,
        "mock_response": {"dispensed_ul": "{volume_ul}"},
        "mock_latency_seconds": 0.6,
    },
    {
        "name": "robot.move_plate",
        "device_kind": "robot_arm",
        "description": "Move a plate between two instruments.",
        "parameter_schema": _schema(
            {"from_device": {"type": "string"}, "to_device": {"type": "string"}}, ["from_device", "to_device"]
        ),
        "estimated_duration_seconds": 30,
        "timeout_seconds": 120,
        "mock_response": {"moved": True},
        "mock_latency_seconds": 0.5,
    },
    {
        "name": "microscope.image",
        "device_kind": "microscope",
        "description": "Image every well of the plate.",
        "parameter_schema": _schema(
            {
                "magnification": {"type": "integer", "enum": [4, 10, 20, 40], "default": 10},
                "channels": {"type": "array", "items": {"type": "string"}, "default": ["brightfield"]},
            }
        ),
        "estimated_duration_seconds": 240,
        "timeout_seconds": 600,
        "safe_to_repeat": True,
        "mock_response": {"images": 96, "channels": ["brightfield"]},
        "mock_latency_seconds": 1.0,
    },
    {
        "name": "vision.analyse",
        "device_kind": "vision",
        "description": "Count cells and measure confluence and viability per sample.",
        "parameter_schema": _schema({"model": {"type": "string", "default": "msc-v2"}}),
        "estimated_duration_seconds": 60,
        "timeout_seconds": 300,
        "safe_to_repeat": True,
        "mock_response": {"model": "msc-v2"},
        "mock_latency_seconds": 0.8,
    },
    {
        "name": "pipette_transfer",
        "device_kind": "liquid_handler",
        "description": "Transfer liquid between wells (original lab API step).",
        "parameter_schema": _schema(
            {"volume_ul": {**_VOLUME, "default": 100}, "source_well": _WELL, "target_well": _WELL}
        ),
        "estimated_duration_seconds": 60,
        "timeout_seconds": 180,
        "mock_response": {"transferred_ul": "{volume_ul}"},
        "mock_latency_seconds": 0.8,
    },
    {
        "name": "dispense_reagent",
        "device_kind": "liquid_handler",
        "description": "Dispense a reagent into wells (original lab API step).",
        "parameter_schema": _schema(
            {"reagent": {**_REAGENT, "default": "media"}, "volume_ul": {**_VOLUME, "default": 50}}
        ),
        "estimated_duration_seconds": 45,
        "timeout_seconds": 180,
        "mock_response": {"dispensed_ul": "{volume_ul}", "reagent": "{reagent}"},
        "mock_latency_seconds": 0.7,
    },
    {
        "name": "plate_read",
        "device_kind": "plate_reader",
        "description": "Read absorbance of every well (original lab API step).",
        "parameter_schema": _schema(
            {"wavelength_nm": {"type": "integer", "minimum": 200, "maximum": 1000, "default": 450}}
        ),
        "estimated_duration_seconds": 120,
        "timeout_seconds": 300,
        "safe_to_repeat": True,
        "mock_response": {"wavelength_nm": "{wavelength_nm}", "wells_read": 96},
        "mock_latency_seconds": 1.0,
    },
]

PLATES = [
    {"barcode": "PLATE-01", "name": "MSC culture plate 1", "well_count": 96},
    {"barcode": "PLATE-02", "name": "MSC culture plate 2", "well_count": 96},
]

_SAMPLE_TYPES = ["cells", "blood", "tissue", "saliva"]
# SAMPLE001-012 in row A of PLATE-01, SAMPLE013-020 in row A of PLATE-02.
SAMPLES = [
    {
        "barcode": f"SAMPLE{number:03d}",
        "sample_type": _SAMPLE_TYPES[(number - 1) % len(_SAMPLE_TYPES)],
        "plate": "PLATE-01" if number <= 12 else "PLATE-02",
        "well": f"A{number if number <= 12 else number - 12}",
    }
    for number in range(1, 21)
]

PROJECT = {"name": "Stem cell expansion", "description": "Mesenchymal stem cell expansion, passage by passage."}

# 5 steps, 14 actions, 5 devices: (step name, [(action type, parameters, pinned device)]).
PROTOCOL = {
    "name": "MSC passage P3 -> P4",
    "version_major": 0,
    "version_minor": 4,
    "description": "Passage mesenchymal stem cells from P3 to P4 and reseed at 5000 cells/cm2.",
    "steps": [
        ("Pre-warm media @ 37°C", [("incubator.warm", {"temperature_c": 37, "duration_s": 900}, "incubator-1")]),
        (
            "Aspirate spent media",
            [
                ("robot.move_plate", {"from_device": "incubator-1", "to_device": "robot-arm-1"}, "robot-arm-1"),
                ("robot.aspirate", {"volume_ul": 2000}, "robot-arm-1"),
            ],
        ),
        (
            "PBS wash × 2",
            [
                ("robot.dispense", {"volume_ul": 2000, "reagent": "PBS"}, "robot-arm-1"),
                ("robot.aspirate", {"volume_ul": 2000}, "robot-arm-1"),
                ("robot.dispense", {"volume_ul": 2000, "reagent": "PBS"}, "robot-arm-1"),
                ("robot.aspirate", {"volume_ul": 2000}, "robot-arm-1"),
            ],
        ),
        (
            "Trypsinise & neutralise",
            [
                ("dispense_reagent", {"reagent": "trypsin", "volume_ul": 500}, "liquid-handler-1"),
                ("incubate", {"temperature_c": 37, "co2_percent": 5, "duration_s": 300}, "incubator-1"),
                ("dispense_reagent", {"reagent": "complete media", "volume_ul": 1500}, "liquid-handler-1"),
            ],
        ),
        (
            "Reseed at 5000 cells/cm²",
            [
                ("microscope.image", {"magnification": 10}, "microscope-1"),
                ("vision.analyse", {"model": "msc-v2"}, "vision-1"),
                ("pipette_transfer", {"volume_ul": 1000}, "liquid-handler-1"),
                ("incubator.warm", {"temperature_c": 37, "duration_s": 600}, "incubator-1"),
            ],
        ),
    ],
}

HOUR = 3600
_TO_HANDLER = {"from_device": "incubator-1", "to_device": "liquid handler"}
_TO_INCUBATOR = {"from_device": "liquid handler", "to_device": "incubator-1"}
_IMAGE_AND_ANALYSE = [
    ("microscope.image", {"magnification": 10, "channels": ["brightfield"]}, "microscope-1"),
    ("vision.analyse", {"model": "msc-v2"}, "vision-1"),
]
_FEED = [
    ("incubator.warm", {"temperature_c": 37, "duration_s": 600}, "incubator-1"),
    ("robot.move_plate", _TO_HANDLER, "robot-arm-1"),
    ("pipette_transfer", {"volume_ul": 150}, None),  # spent media out, on any liquid handler
    ("dispense_reagent", {"reagent": "complete media", "volume_ul": 150}, None),
    ("robot.move_plate", _TO_INCUBATOR, "robot-arm-1"),
]


def _imaging(start_after_h: float, runs: int, **extra) -> dict:
    """Image + analyse due ``start_after_h`` after the previous step, then every 12 h, each within 30 min."""
    timing = {"start_after_seconds": start_after_h * HOUR, "window_seconds": 30 * 60}
    if runs > 1:
        timing |= {"repeat_every_seconds": 12 * HOUR, "repeat_max": runs}
    return timing | extra


# 7 days of culture as a sequence (a run's steps run in order, so imaging every 12 h and feeding
# every 48 h alternate as steps): image at 12, 24, ..., 168 h; feed at 48, 96, 144 h; passage at
# 120 h (detach, then count and reseed with the devices kept). docs/protocols.md has the timeline.
# (step name, [(action type, parameters, pinned device)], timing)
EXPANSION_PROTOCOL = {
    "name": "MSC expansion, 7 days",
    "version_major": 1,
    "version_minor": 0,
    "description": (
        "Seed MSCs, image and analyse every 12 h (within 30 min), feed every 48 h, passage on day 5; "
        "7 days of culture on one plate."
    ),
    "steps": [
        (
            "Seed",
            [
                ("incubator.warm", {"temperature_c": 37, "duration_s": 600}, "incubator-1"),
                ("robot.move_plate", _TO_HANDLER, "robot-arm-1"),
                ("dispense_reagent", {"reagent": "MSC suspension, 5000 cells/cm2", "volume_ul": 150}, None),
                ("robot.move_plate", _TO_INCUBATOR, "robot-arm-1"),
            ],
            {},
        ),
        ("Image + analyse, 12-48 h", _IMAGE_AND_ANALYSE, _imaging(12, 4)),
        ("Feed, 48 h", _FEED, {"start_after_seconds": 0, "window_seconds": 30 * 60}),
        ("Image + analyse, 60-96 h", _IMAGE_AND_ANALYSE, _imaging(12, 4)),
        ("Feed, 96 h", _FEED, {"start_after_seconds": 0, "window_seconds": 30 * 60}),
        ("Image + analyse, 108 h", _IMAGE_AND_ANALYSE, _imaging(12, 1)),
        (
            "Passage: detach, day 5",
            [
                ("robot.move_plate", _TO_HANDLER, "robot-arm-1"),
                ("dispense_reagent", {"reagent": "trypsin", "volume_ul": 50}, None),
                ("dispense_reagent", {"reagent": "complete media", "volume_ul": 150}, None),
            ],
            {"start_after_seconds": 12 * HOUR, "window_seconds": HOUR, "keep_devices": True},
        ),
        (
            "Passage: count and reseed",
            [
                *_IMAGE_AND_ANALYSE,
                ("pipette_transfer", {"volume_ul": 100}, None),
                ("robot.move_plate", _TO_INCUBATOR, "robot-arm-1"),
            ],
            {"start_after_seconds": 0},
        ),
        ("Image + analyse, 132-144 h", _IMAGE_AND_ANALYSE, _imaging(12, 2)),
        ("Feed, 144 h", _FEED, {"start_after_seconds": 0, "window_seconds": 30 * 60}),
        (
            "Image + analyse, 156-168 h",
            _IMAGE_AND_ANALYSE,
            _imaging(12, 2, until={"metric": "confluence", "op": ">=", "value": 95, "samples": "all"}),
        ),
    ],
}

CONFLUENT = {"metric": "confluence", "op": ">=", "value": 80, "samples": "all"}

# Closed loop (docs/closed-loop.md): image and analyse every 12 h until every sample of the plate
# is at 80 % confluence (at most 20 times), then passage it. The growth model of the mock decides
# when: each plate passages at its own time, and the schedule plans the passage at the forecast.
LOOP_PROTOCOL = {
    "name": "MSC expansion to 80% confluence",
    "version_major": 1,
    "version_minor": 0,
    "description": (
        "Image and analyse every 12 h until confluence >= 80 % on every sample (20 times at most), then passage."
    ),
    "steps": [
        (
            "Image + analyse until 80% confluent",
            _IMAGE_AND_ANALYSE,
            {
                "start_after_seconds": 0,
                "window_seconds": 30 * 60,
                "repeat_every_seconds": 12 * HOUR,
                "repeat_max": 20,
                "until": CONFLUENT,
            },
        ),
        (
            "Passage",
            [
                ("robot.move_plate", _TO_HANDLER, "robot-arm-1"),
                ("dispense_reagent", {"reagent": "trypsin", "volume_ul": 50}, None),
                ("dispense_reagent", {"reagent": "complete media", "volume_ul": 150}, None),
                ("pipette_transfer", {"volume_ul": 100}, None),
                ("robot.move_plate", _TO_INCUBATOR, "robot-arm-1"),
            ],
            {"start_after_seconds": 0, "window_seconds": HOUR},
        ),
    ],
}

# demo: the scientist and operator of the demo lab; viewer: read-only (admin and API).
USERS = [
    {"username": "demo", "is_staff": True, "roles": ["scientist", "operator"]},
    {"username": "viewer", "is_staff": True, "roles": ["viewer"]},
]
