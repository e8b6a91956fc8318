"""The booking and queue endpoints: thin views over devices.services and devices.selectors."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.roles import OPERATE_DEVICES
from devices.api.booking_serializers import (
    BookingSerializer,
    QueueEntrySerializer,
    QueuePageSerializer,
    QueueRequestSerializer,
    QueueResultSerializer,
    WaitTimeQuerySerializer,
    WaitTimeSerializer,
    WorkflowRefSerializer,
)
from devices.api.filters import BookingFilter
from devices.choices import Priority
from devices.models import Booking, Device, QueueEntry
from devices.querysets import SERVICE_ORDER
from devices.selectors import booking_list, device_queue
from devices.services import booking_create, booking_release, queue_entry_create, queue_entry_withdraw
from devices.wait_time import wait_time_estimate
from labcore.api.pagination import cursor_pagination
from labcore.exceptions import ApplicationError, NotFound

BOOKING_CAPABILITIES = {
    "book": OPERATE_DEVICES,
    "release": OPERATE_DEVICES,
    "queue_create": OPERATE_DEVICES,
    "queue_withdraw": OPERATE_DEVICES,
}


def _workflow_get(workflow_id: int):
    # Workflows sit above devices: their model is reached through the booking's foreign key.
    workflow_model = Booking._meta.get_field("workflow").related_model
    workflow = workflow_model.objects.filter(pk=workflow_id).first()
    if workflow is None:
        message = f"workflow {workflow_id} does not exist"
        # A reference in the body or query string, not the URL: bad input naming the field (400).
        raise ApplicationError(message, fields={"workflow_id": [message]})
    return workflow


class DeviceBookingActionsMixin:
    """book, release, queue, wait-time: the per-device actions of DeviceViewSet."""

    def _device(self) -> Device:
        device_id = self.kwargs[self.lookup_url_kwarg or self.lookup_field]
        device = Device.objects.filter(pk=device_id).first()
        if device is None:
            raise NotFound(f"device {device_id} does not exist")
        return device

    def _payload(self, serializer_class, data):
        payload = serializer_class(data=data)
        payload.is_valid(raise_exception=True)
        return payload.validated_data

    @extend_schema(
        request=WorkflowRefSerializer,
        responses={201: BookingSerializer, 200: OpenApiResponse(BookingSerializer, "The workflow already held it.")},
    )
    @action(detail=True, methods=["post"], filterset_class=None, pagination_class=None)
    def book(self, request, pk=None):
        """Book the device for a workflow; 409 naming the holder (or the queued workflow) if busy."""
        device = self._device()
        workflow = _workflow_get(self._payload(WorkflowRefSerializer, request.data)["workflow_id"])
        booking = booking_create(device=device, workflow=workflow, user=request.user)
        code = status.HTTP_201_CREATED if booking.created else status.HTTP_200_OK
        return Response(BookingSerializer(booking_list().get(pk=booking.pk)).data, status=code)

    @extend_schema(request=WorkflowRefSerializer, responses=BookingSerializer)
    @action(detail=True, methods=["post"], filterset_class=None, pagination_class=None)
    def release(self, request, pk=None):
        """Release the device; the next queued request is booked in the same transaction."""
        device = self._device()
        workflow = _workflow_get(self._payload(WorkflowRefSerializer, request.data)["workflow_id"])
        booking = booking_release(device=device, workflow=workflow, user=request.user)
        return Response(BookingSerializer(booking_list().get(pk=booking.pk)).data)

    @extend_schema(responses=QueuePageSerializer)
    @action(detail=True, methods=["get"], filterset_class=None, pagination_class=cursor_pagination(*SERVICE_ORDER))
    def queue(self, request, pk=None):
        """The device's waiting requests in the order they will be served (urgent, normal, low; FIFO)."""
        page = self.paginate_queryset(device_queue(self._device()))
        return self.get_paginated_response(QueueEntrySerializer(page, many=True).data)

    @extend_schema(
        request=QueueRequestSerializer,
        responses={
            201: QueueResultSerializer,
            200: OpenApiResponse(QueueResultSerializer, "The workflow already held or waited for the device."),
        },
    )
    @queue.mapping.post
    def queue_create(self, request, pk=None):
        """Queue a workflow for the device at a priority; booked at once when nothing is before it."""
        device = self._device()
        data = self._payload(QueueRequestSerializer, request.data)
        workflow = _workflow_get(data["workflow_id"])
        priority = Priority.from_name(data["priority"]) if "priority" in data else workflow.priority
        result = queue_entry_create(device=device, workflow=workflow, priority=priority)
        if isinstance(result, Booking):
            body = {"outcome": "booked", "position": 0, "entry": None}
            body["booking"] = BookingSerializer(booking_list().get(pk=result.pk)).data
        else:
            entry = device_queue(device).get(pk=result.pk)
            body = {"outcome": "queued", "position": entry.position, "booking": None}
            body["entry"] = QueueEntrySerializer(entry).data
        if not result.created:
            body["outcome"] = "already_" + body["outcome"]
        return Response(body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)

    @extend_schema(request=None, responses={204: None})
    @action(
        detail=True,
        methods=["delete"],
        url_path=r"queue/(?P<entry_id>[0-9]{1,18})",
        filterset_class=None,
        pagination_class=None,
    )
    def queue_withdraw(self, request, pk=None, entry_id=None):
        """Withdraw a waiting request (all of its devices); what it reserved is handed on."""
        device = self._device()
        entry = QueueEntry.objects.filter(pk=int(entry_id), device=device).first()
        if entry is None:
            raise NotFound(f"queue entry {entry_id} of device {device.pk} does not exist")
        queue_entry_withdraw(entry=entry, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        parameters=[OpenApiParameter("workflow_id", int, description="The workflow asking; else a new low request.")],
        responses=WaitTimeSerializer,
    )
    @action(detail=True, methods=["get"], url_path="wait-time", filterset_class=None, pagination_class=None)
    def wait_time(self, request, pk=None):
        """Queue position and estimated wait; see docs/booking.md for the method."""
        device = self._device()
        workflow_id = self._payload(WaitTimeQuerySerializer, request.query_params).get("workflow_id")
        workflow = _workflow_get(workflow_id) if workflow_id is not None else None
        return Response(wait_time_estimate(device=device, workflow=workflow))


class BookingViewSet(viewsets.ReadOnlyModelViewSet):
    """Every booking, newest first; filter by ``device``, ``workflow`` and ``status``."""

    serializer_class = BookingSerializer
    filterset_class = BookingFilter
    pagination_class = cursor_pagination("-id")

    def get_queryset(self):
        return booking_list()
