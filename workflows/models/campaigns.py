"""A culture campaign: many plates, each following one published protocol, run together."""

from django.conf import settings
from django.db import models

from devices.choices import Priority

# A run of a campaign is named "<campaign name> / <plate barcode>": a Workflow name holds 200
# characters and a barcode 64, so the campaign's name is kept short enough for both.
CAMPAIGN_NAME_MAX_LENGTH = 120


class Campaign(models.Model):
    """One workflow per plate on that plate's samples, all of one protocol, created and started at once.

    Its runs are ``Workflow`` rows pointing at it (``campaign.workflows``); each run's plate is
    the plate of its samples, so no second link is kept that could disagree with them.
    """

    name = models.CharField(max_length=CAMPAIGN_NAME_MAX_LENGTH)
    protocol = models.ForeignKey("workflows.Protocol", on_delete=models.PROTECT, related_name="campaigns")
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.name} (#{self.pk})"
