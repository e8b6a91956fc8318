"""Signals the booking services send, so other apps react without devices importing them.

``workflow_devices_granted`` is sent (on commit) when a queued request is granted on a
hand-off; the executor listens and starts the workflow. kwargs: ``workflow_id``.
"""

from django.dispatch import Signal

workflow_devices_granted = Signal()
