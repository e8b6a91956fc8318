from django.db import models


class DeviceKind(models.TextChoices):
    LIQUID_HANDLER = "liquid_handler", "Liquid handler"
    INCUBATOR = "incubator", "Incubator"
    PLATE_READER = "plate_reader", "Plate reader"
    MICROSCOPE = "microscope", "Microscope"
    ROBOT_ARM = "robot_arm", "Robot arm"
    VISION = "vision", "Cell-analysis vision service"
    OTHER = "other", "Other"


class DeviceStatus(models.TextChoices):
    AVAILABLE = "available", "Available"
    BUSY = "busy", "Busy"
    MAINTENANCE = "maintenance", "Maintenance"
    OFFLINE = "offline", "Offline"


class AdapterName(models.TextChoices):
    MOCK = "mock", "Mock (simulated)"
    HTTP = "http", "HTTP device service"
    SILA2 = "sila2", "SiLA 2 server"


class Priority(models.IntegerChoices):
    """Lower value is served first, so ``ORDER BY priority, id`` is the service order."""

    URGENT = 0, "urgent"
    NORMAL = 1, "normal"
    LOW = 2, "low"

    @classmethod
    def from_name(cls, name: str) -> "Priority":
        return {member.label: member for member in cls}[name]


class BookingStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    RELEASED = "released", "Released"


class QueueEntryStatus(models.TextChoices):
    WAITING = "waiting", "Waiting"
    GRANTED = "granted", "Granted"
    WITHDRAWN = "withdrawn", "Withdrawn"


class FailurePolicy(models.TextChoices):
    FAIL = "fail", "Fail the workflow"
    PAUSE = "pause", "Pause for an operator"
