"""Signals the booking services send, so other apps react without devices importing them.

``workflow_devices_granted`` is sent (on commit) when a queued request is granted on a
hand-off; the executor listens and starts the workflow. kwargs: ``workflow_id``.

``workflow_device_lost`` is sent (on commit) when a workflow's booking is released from
outside its own lifecycle (a ``release`` request, an operator's force-release), so the executor
can pause a manual run that can no longer act. kwargs: ``workflow_id``, ``device_id``, ``reason``.
"""

from django.dispatch import Signal

workflow_devices_granted = Signal()
workflow_device_lost = Signal()
