"""The protocol editor: a protocol's steps in order, each with its actions, edited on one page.

Steps and actions are nested inlines (django-nested-admin), both reorderable by drag and drop
(the ``position`` fields). A step's timing is edited as durations people read ("24 h",
"30 min", "1 d 2 h", or plain seconds) and its conditions as JSON; the rules of
``workflows.step_timing`` are checked across the steps, in their new order, on save. Action
types are chosen from the registry with a search box, and parameters are checked against the
chosen type's JSON Schema by ``Action.clean``, so an error appears on the parameters field. A
published version is shown read-only.

Every page renders in a constant number of queries: the graph is prefetched once, and the
choice lists that each inline form would query on its own (devices, action type labels) are
loaded once per request and shared.
"""

import nested_admin
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AutocompleteSelect, RelatedFieldWidgetWrapper
from django.db.models import Count, Prefetch
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from accounts.roles import EDIT_DEFINITIONS
from devices.models import ActionType, Device
from devices.parameter_words import parameter_fields, parameters_readable
from labcore.admin_history import AuditHistoryAdminMixin
from labcore.durations import duration_format, duration_parse
from labcore.exceptions import ApplicationError
from workflows.admin import protocol_views
from workflows.admin.signing import sign_view
from workflows.choices import WindowPolicy
from workflows.conditions import METRICS, OPERATORS
from workflows.models import Action, Project, Protocol, Step
from workflows.selectors import protocol_list, protocol_summary, protocol_versions
from workflows.services.protocols import protocol_ensure_editable, protocol_lock, protocol_positions_normalise
from workflows.step_timing import STEP_TIMING_FIELDS, steps_timing_errors

FROZEN_MESSAGE = (
    "This version is published and frozen: edits are refused. Use “New version” to make an editable draft (v{next})."
)


def _editing_protocol(request) -> Protocol | None:
    """The protocol whose page is being built or saved (set by ProtocolAdmin.get_object)."""
    return getattr(request, "_labcore_protocol", None)


def _frozen(request) -> bool:
    protocol = _editing_protocol(request)
    return protocol is not None and protocol.is_published


@admin.register(Project)
class ProjectAdmin(AuditHistoryAdminMixin, admin.ModelAdmin):
    list_display = ["name", "protocol_count", "created_at"]
    search_fields = ["name"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(protocol_total=Count("protocols")).order_by("name")

    @admin.display(description="protocols", ordering="protocol_total")
    def protocol_count(self, project):
        return project.protocol_total


class RegistryAutocomplete(AutocompleteSelect):
    """The admin's searchable select, labelling the chosen type from a per-request map.

    The stock widget queries the selected option of every form; with one map per request the
    editor's cost does not grow with the number of actions.
    """

    def __init__(self, *args, labels: dict[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        self.labels = labels

    def optgroups(self, name, value, attr=None):
        options = []
        if not self.is_required:
            options.append(self.create_option(name, "", "", False, 0))
        for index, chosen in enumerate(str(v) for v in value if v not in (None, "")):
            options.append(self.create_option(name, chosen, self.labels.get(chosen, chosen), True, index + 1))
        return [(None, options, 0)]


def _request_cache(request, key: str, load):
    cache = request.__dict__.setdefault("_labcore_admin_cache", {})
    if key not in cache:
        cache[key] = load()
    return cache[key]


def registry_entries(request) -> dict[int, dict]:
    """The registry as the editor needs it: one query per request.

    Each type's name, its parameter schema (the editor's script builds the parameters form from
    it) and each parameter's label and unit, worded on the server so the form, the published page
    and the error messages say the same ("volume (µL)", "volume must be more than 0 µL").
    """
    return _request_cache(
        request,
        "registry",
        lambda: {
            pk: {"name": name, "schema": schema or {}, "fields": parameter_fields(schema)}
            for pk, name, schema in ActionType.objects.values_list("pk", "name", "parameter_schema")
        },
    )


class ActionForm(forms.ModelForm):
    class Meta:
        model = Action
        fields = ["position", "action_type", "parameters", "device"]
        widgets = {
            "position": forms.HiddenInput,  # set by drag and drop
            "parameters": forms.Textarea(attrs={"rows": 2, "cols": 42, "class": "action-parameters"}),
        }


class DurationField(forms.CharField):
    """Seconds typed and shown as people say them: ``24 h``, ``30 min``, ``90 s``, ``1 d 2 h``, ``3600``."""

    def __init__(self, *, max_length=None, **kwargs):  # the model field's max_length does not apply
        kwargs.setdefault("required", False)
        kwargs["widget"] = forms.TextInput(attrs={"size": 10, "placeholder": "e.g. 24 h", "class": "step-duration"})
        super().__init__(**kwargs)

    def prepare_value(self, value):
        return duration_format(value) if isinstance(value, int | float) and not isinstance(value, bool) else value

    def to_python(self, value):
        text = super().to_python(value)
        if text in self.empty_values:
            return None
        try:
            return duration_parse(text)
        except ValueError as error:
            raise forms.ValidationError(str(error), code="invalid") from error

    def has_changed(self, initial, data):
        try:
            return self.to_python(data) != initial
        except forms.ValidationError:
            return True


class ConditionField(forms.JSONField):
    """A step condition as JSON; no condition is an empty box (the stock field showed ``null``)."""

    def prepare_value(self, value):
        return "" if value is None else super().prepare_value(value)


CONDITION_HELP = (
    f'JSON, e.g. {{"metric": "confluence", "op": ">=", "value": 80, "samples": "all"}}; metric one of '
    f"{', '.join(METRICS)}; op one of {' '.join(OPERATORS)}; samples all or any. Empty: none."
)


class StepForm(forms.ModelForm):
    class Meta:
        model = Step
        fields = ["position", "name", "description", *STEP_TIMING_FIELDS]
        field_classes = {
            "start_after_seconds": DurationField,
            "window_seconds": DurationField,
            "repeat_every_seconds": DurationField,
            "until": ConditionField,
            "run_if": ConditionField,
        }
        widgets = {
            "position": forms.HiddenInput,
            "description": forms.Textarea(attrs={"rows": 1, "cols": 60}),
            "until": forms.Textarea(attrs={"rows": 1, "cols": 60, "class": "step-condition"}),
            "run_if": forms.Textarea(attrs={"rows": 1, "cols": 60, "class": "step-condition"}),
            "repeat_max": forms.NumberInput(attrs={"min": 1, "style": "width: 5em"}),
        }
        labels = {
            "start_after_seconds": "Start after",
            "window_seconds": "Window",
            "repeat_every_seconds": "Repeat every",
            "repeat_max": "Runs at most",
        }
        help_texts = {
            "start_after_seconds": "After the previous step ends (the first step: after the run starts). "
            "24 h, 30 min, 90 s, 1 d 2 h or seconds.",
            "window_seconds": "It must start within this long after it is due.",
            "repeat_every_seconds": "Runs again this long after each run ends; set Runs at most too.",
            "until": "Stop repeating once this holds. " + CONDITION_HELP,
            "run_if": "Skip the step when this does not hold. " + CONDITION_HELP,
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["on_window_missed"].required = False  # a post without it (an older page) means the default

    def clean_on_window_missed(self):
        return self.cleaned_data.get("on_window_missed") or WindowPolicy.RUN_LATE


class StepFormSet(nested_admin.NestedInlineFormSet):
    """Checks the steps' timing together, in their new order (keep_devices looks at the next step)."""

    def clean(self):
        super().clean()
        kept = [
            form
            for form in self.forms
            if (form.has_changed() or form.instance.pk) and not self._should_delete_form(form)
        ]
        kept.sort(key=lambda form: (form.cleaned_data.get("position") is None, form.cleaned_data.get("position") or 0))
        if any(field in form.errors for form in kept for field in STEP_TIMING_FIELDS):
            return  # a field that did not parse: its own message says what to fix first
        specs = [{field: form.cleaned_data.get(field) for field in STEP_TIMING_FIELDS} for form in kept]
        for place, refusals in steps_timing_errors(specs).items():
            index, field = place.removeprefix("steps[").split("].", 1)
            for message in refusals:
                kept[int(index)].add_error(field, message)


class ActionFormSet(nested_admin.NestedInlineFormSet):
    """Reads a step's actions from the prefetch of the step inline instead of one query per step."""

    def get_queryset(self):
        prefetched = getattr(self.instance, "_prefetched_objects_cache", {}).get("actions")
        if not self.data and prefetched is not None:
            return list(prefetched)
        return super().get_queryset()


class FrozenWhenPublishedMixin:
    """Inline rows of a published protocol cannot be added, changed or deleted."""

    def has_add_permission(self, request, obj=None):
        return not _frozen(request) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return not _frozen(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not _frozen(request) and super().has_delete_permission(request, obj)

    def get_formset(self, request, obj=None, **kwargs):
        if _frozen(request):
            # Nothing to drag, so no position field: read-only, nested-admin printed the hidden
            # field's dict ({'name': 'position', ...}) at the start of every row. The rows keep
            # their order from the prefetch. (Inline instances are made per request.)
            self.sortable_field_name = None
        return super().get_formset(request, obj, **kwargs)


class ActionInline(FrozenWhenPublishedMixin, nested_admin.NestedTabularInline):
    model = Action
    form = ActionForm
    formset = ActionFormSet
    extra = 0
    sortable_field_name = "position"
    autocomplete_fields = ["action_type"]
    fields = ["position", "action_type", "parameters", "device"]
    # A published version: no hidden position (read-only, the admin printed its field dict) and
    # the parameters as "volume: 1500 µL" lines instead of JSON.
    frozen_fields = ["action_type", "parameter_list", "pinned_device"]

    def get_fields(self, request, obj=None):
        return self.frozen_fields if _frozen(request) else self.fields

    def get_readonly_fields(self, request, obj=None):
        return self.frozen_fields if _frozen(request) else []

    @admin.display(description="parameters")
    def parameter_list(self, action):
        lines = parameters_readable(action.action_type.parameter_schema, action.parameters)
        if not lines:
            return "—"
        items = format_html_join("", "<span>{}</span>", ((line,) for line in lines))
        return format_html('<span class="action-parameter-list">{}</span>', items)

    @admin.display(description="device")
    def pinned_device(self, action):
        if not action.device_id:
            return "any device of the type's kind"
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:devices_device_change", args=[action.device_id]), action.device_id
        )

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if field is not None and isinstance(field.widget, RelatedFieldWidgetWrapper):
            # The pencil, plus and cross next to an action's type or device edit the registry or
            # the device list, not this action: the red cross deleted the ActionType itself. The
            # editor only offers a look at the chosen one (the eye).
            field.widget.can_add_related = False
            field.widget.can_change_related = False
            field.widget.can_delete_related = False
        return field

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "action_type":
            labels = {str(pk): entry["name"] for pk, entry in registry_entries(request).items()}
            kwargs["widget"] = RegistryAutocomplete(db_field, self.admin_site, labels=labels)
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "device":
            field.choices = _request_cache(
                request,
                "device_choices",
                lambda: (
                    [("", "any device of the type's kind")]
                    + [(d.pk, f"{d.pk} ({d.get_kind_display()})") for d in Device.objects.order_by("id")]
                ),
            )
        return field


class StepInline(FrozenWhenPublishedMixin, nested_admin.NestedStackedInline):
    model = Step
    form = StepForm
    formset = StepFormSet
    extra = 0
    sortable_field_name = "position"
    fields = [
        "position",
        "name",
        "description",
        ("start_after_seconds", "window_seconds", "on_window_missed"),
        ("repeat_every_seconds", "repeat_max", "keep_devices"),
        "until",
        "run_if",
    ]
    # A frozen version shows its timing as durations too (the stock read-only display prints 86400.0).
    frozen_fields = [
        "name",
        "description",
        ("start_after", "window", "on_window_missed"),
        ("repeat_every", "repeat_max", "keep_devices"),
        "until",
        "run_if",
    ]
    inlines = [ActionInline]

    def get_fields(self, request, obj=None):
        return self.frozen_fields if _frozen(request) else self.fields

    def get_readonly_fields(self, request, obj=None):
        return ["start_after", "window", "repeat_every"] if _frozen(request) else []

    @admin.display(description="start after")
    def start_after(self, step):
        return duration_format(step.start_after_seconds) or "—"

    @admin.display(description="window")
    def window(self, step):
        return duration_format(step.window_seconds) or "—"

    @admin.display(description="repeat every")
    def repeat_every(self, step):
        return duration_format(step.repeat_every_seconds) or "—"

    def get_queryset(self, request):
        actions = Action.objects.select_related("action_type", "device").order_by("position")
        return super().get_queryset(request).prefetch_related(Prefetch("actions", queryset=actions))


@admin.register(Protocol)
class ProtocolAdmin(AuditHistoryAdminMixin, nested_admin.NestedModelAdmin):
    list_display = ["name", "project", "version", "status", "step_total", "action_total", "published_at"]
    list_select_related = ["project"]
    list_filter = ["status", "project"]
    search_fields = ["name", "project__name"]
    fields = ["project", "name", "version_major", "version_minor", "description", "status", "previous_version"]
    readonly_fields = ["status", "previous_version"]
    inlines = [StepInline]
    actions = ["publish_selected", "new_version_of_selected", "export_selected", "run_selected"]
    save_on_top = True

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "description":
            kwargs["widget"] = forms.Textarea(attrs={"rows": 3, "cols": 80})
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    class Media:
        css = {"all": ["workflows/protocol_editor.css"]}
        js = ["workflows/protocol_editor.js"]

    def render_change_form(self, request, context, *args, **kwargs):
        # The parameter hints of the editor's script: each type's schema, keyed by its id.
        context["action_type_registry"] = {str(pk): entry for pk, entry in registry_entries(request).items()}
        return super().render_change_form(request, context, *args, **kwargs)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(step_total=Count("steps", distinct=True), action_total=Count("steps__actions"))
            .order_by("project__name", "name", "version_major", "version_minor")
        )

    @admin.display(description="steps", ordering="step_total")
    def step_total(self, protocol):
        return protocol.step_total

    @admin.display(description="actions", ordering="action_total")
    def action_total(self, protocol):
        return protocol.action_total

    def get_object(self, request, object_id, from_field=None):
        # The whole graph in a fixed number of queries, for the summary panel; remembered on the
        # request so the inlines know whether the version is frozen without asking again.
        protocol = protocol_list().filter(pk=object_id).first() if str(object_id).isdigit() else None
        request._labcore_protocol = protocol
        return protocol

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_published:
            return False  # frozen: the page is read-only and a POST is refused
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_published:
            return False
        return super().has_delete_permission(request, obj)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        protocol = self.get_object(request, object_id)
        extra_context = dict(extra_context or {})
        if protocol is not None:
            versions = list(protocol_versions(protocol).only("pk", "version_major", "version_minor", "status"))
            if protocol.is_published and request.method == "GET":
                top = max(v.version_minor for v in versions if v.version_major == protocol.version_major)
                messages.warning(request, FROZEN_MESSAGE.format(next=f"{protocol.version_major}.{top + 1}"))
            summary = protocol_summary(protocol)
            extra_context.update(
                summary=summary,
                summary_duration=duration_format(round(summary.estimated_duration_seconds)),
                versions=versions,
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ApplicationError as exc:
            # A refusal decided under the lock (published meanwhile, lock timeout): the admin's
            # transaction is rolled back; say why on the page instead of a 500.
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def save_model(self, request, obj, form, change):
        if change:
            # Lock the row (held until the admin's transaction commits, inline rows included), then
            # the service guard on the row as locked, whatever the UI did: a publish racing this
            # save either committed first (refused here) or waits for it.
            protocol_ensure_editable(protocol_lock(obj))
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # The drag-and-drop widget numbers from 0; keep the 1..n positions the API and exports use.
        protocol_positions_normalise(protocol=form.instance)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("import/", view(protocol_views.import_view(self)), name="workflows_protocol_import"),
            path("<int:pk>/publish/", view(protocol_views.publish_view(self)), name="workflows_protocol_publish"),
            path(
                "<int:pk>/new-version/",
                view(protocol_views.new_version_view(self)),
                name="workflows_protocol_new_version",
            ),
            path("<int:pk>/export/", view(protocol_views.export_view(self)), name="workflows_protocol_export"),
            path("<int:pk>/run/", view(protocol_views.run_view(self)), name="workflows_protocol_run"),
            path(
                "<int:pk>/sign/",
                view(sign_view(self, kind="protocol", capability=EDIT_DEFINITIONS)),
                name="workflows_protocol_sign",
            ),
            *super().get_urls(),
        ]

    @admin.action(description="Publish selected drafts", permissions=["definitions"])
    def publish_selected(self, request, queryset):
        protocol_views.publish_many(self, request, queryset)

    @admin.action(description="New version of selected published protocols", permissions=["definitions"])
    def new_version_of_selected(self, request, queryset):
        protocol_views.new_version_many(self, request, queryset)

    @admin.action(description="Export selected as JSON")
    def export_selected(self, request, queryset):
        return protocol_views.export_response(queryset)

    @admin.action(description="Run the selected protocol…")
    def run_selected(self, request, queryset):
        protocols = list(queryset[:2])
        if len(protocols) != 1:
            self.message_user(request, "Choose exactly one published protocol to run.", messages.WARNING)
            return None
        return HttpResponseRedirect(reverse("admin:workflows_protocol_run", args=[protocols[0].pk]))

    def has_definitions_permission(self, request):
        return protocol_views.can_edit_definitions(request)
