"""factory-boy factories for every model the tests build."""

import uuid

import factory
from django.contrib.auth import get_user_model

from devices.choices import DeviceKind, Priority
from devices.models import ActionType, Booking, Device, QueueEntry
from executionlogs.models import ExecutionLog
from samples.models import Plate, Sample
from workflows.models import Action, Project, Protocol, RunStep, Step, Workflow


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("password")


class DeviceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Device

    id = factory.Sequence(lambda n: f"device-{n}")
    name = factory.LazyAttribute(lambda o: o.id.replace("-", " ").title())
    kind = DeviceKind.LIQUID_HANDLER


class ActionTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ActionType
        django_get_or_create = ["name"]

    name = factory.Sequence(lambda n: f"test.action_{n}")
    device_kind = DeviceKind.LIQUID_HANDLER
    parameter_schema = factory.LazyFunction(lambda: {"type": "object", "properties": {}})
    estimated_duration_seconds = 10
    mock_latency_seconds = 0


class PlateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Plate

    barcode = factory.Sequence(lambda n: f"PLATE-T{n:04d}")


class SampleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Sample

    barcode = factory.Sequence(lambda n: f"TS{n:05d}")
    sample_type = "cells"
    plate = factory.SubFactory(PlateFactory)
    well = factory.Sequence(lambda n: f"{'ABCDEFGH'[(n // 12) % 8]}{n % 12 + 1}")


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    name = factory.Sequence(lambda n: f"Project {n}")


class ProtocolFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Protocol

    project = factory.SubFactory(ProjectFactory)
    name = factory.Sequence(lambda n: f"Protocol {n}")


class StepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Step

    protocol = factory.SubFactory(ProtocolFactory)
    position = factory.Sequence(lambda n: n + 1)
    name = factory.Sequence(lambda n: f"Step {n}")


class ActionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Action

    step = factory.SubFactory(StepFactory)
    position = factory.Sequence(lambda n: n + 1)
    action_type = factory.SubFactory(ActionTypeFactory)


class WorkflowFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Workflow

    name = factory.Sequence(lambda n: f"Workflow {n}")
    priority = Priority.NORMAL


class RunStepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RunStep

    workflow = factory.SubFactory(WorkflowFactory)
    position = factory.Sequence(lambda n: n + 1)
    step_name = "step"
    action_type = factory.SubFactory(ActionTypeFactory)
    device = factory.SubFactory(DeviceFactory)


class BookingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Booking

    device = factory.SubFactory(DeviceFactory)
    workflow = factory.SubFactory(WorkflowFactory)


class QueueEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = QueueEntry

    device = factory.SubFactory(DeviceFactory)
    workflow = factory.SubFactory(WorkflowFactory)
    request_id = factory.LazyFunction(uuid.uuid4)


class ExecutionLogFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ExecutionLog

    device = factory.SubFactory(DeviceFactory)
    action_type = "test.action"
    status = "success"
    request = factory.LazyFunction(dict)
    response = factory.LazyFunction(dict)
    latency_ms = 12.5
