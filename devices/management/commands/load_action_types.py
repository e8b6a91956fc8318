"""Register action types from a YAML or JSON file: ``manage.py load_action_types FILE``."""

import json
from pathlib import Path

import yaml
from django.core.management.base import BaseCommand, CommandError

from devices.registry import action_types_load
from labcore.exceptions import ApplicationError


def entries_with_locations(text: str, suffix: str) -> tuple[list, list[str]]:
    """The entries of the file and, for each, where it is: ``[index] name (line N)``.

    The file is a list of action types, or a mapping with an ``action_types`` list. YAML's
    node marks give line numbers; JSON is read by the YAML composer for them too (JSON is
    YAML), and by ``json`` for its values so JSON keeps its own strict syntax.
    """
    try:
        data = json.loads(text) if suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise CommandError(f"cannot parse the file: {exc}") from exc
    items_node = None
    try:
        node = yaml.compose(text)
        if isinstance(node, yaml.MappingNode):
            node = next((value for key, value in node.value if key.value == "action_types"), None)
        items_node = node if isinstance(node, yaml.SequenceNode) else None
    except yaml.YAMLError:
        pass  # line numbers are a courtesy; keys and indexes still name each entry
    if isinstance(data, dict) and "action_types" in data:
        data = data["action_types"]
    if not isinstance(data, list):
        raise CommandError("the file must hold a list of action types (or a mapping with an 'action_types' list)")
    locations = []
    for index, entry in enumerate(data):
        name = entry.get("name") if isinstance(entry, dict) else None
        line = ""
        if items_node is not None and index < len(items_node.value):
            line = f" (line {items_node.value[index].start_mark.line + 1})"
        locations.append(f"[{index}]{' ' + str(name) if name else ''}{line}")
    return data, locations


class Command(BaseCommand):
    help = "Create or update action types from a YAML or JSON file (idempotent; all or nothing)."

    def add_arguments(self, parser):
        parser.add_argument("file", help="YAML (.yaml/.yml) or JSON (.json) file: a list of action types.")

    def handle(self, *args, file, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"no such file: {file}")
        entries, locations = entries_with_locations(path.read_text(encoding="utf-8"), path.suffix.lower())
        try:
            report = action_types_load(entries, locations=locations)
        except ApplicationError as exc:
            for where, messages in exc.fields.items():
                for message in messages:
                    self.stderr.write(f"{where}: {message}")
            raise CommandError(exc.message) from exc
        for outcome in ("created", "updated", "unchanged"):
            names = report[outcome]
            self.stdout.write(f"{outcome}: {len(names)}" + (f" ({', '.join(names)})" if names else ""))
