"""Electronic signatures bound to a record's content, and the failed attempts to sign."""

from django.conf import settings
from django.db import models
from django.db.models.functions import Now

from labcore.append_only import AppendOnlyError, AppendOnlyModel
from workflows.choices import SignatureMeaning

# The signature tables' refusals are the shared append-only ones (labcore.append_only).
AppendOnlySignatureError = AppendOnlyError


class Signature(AppendOnlyModel):
    """One person's signature of one record (a protocol version, or a run): who, when, what it means, over what.

    ``content_hash`` is the SHA-256 of the record's canonical content when it was signed
    (``workflows.records``); a signature covers the record only while that hash still matches.
    The signer re-entered their password to sign: a token alone never makes a signature.
    """

    protocol = models.ForeignKey(
        "workflows.Protocol", null=True, blank=True, on_delete=models.PROTECT, related_name="signatures"
    )
    workflow = models.ForeignKey(
        "workflows.Workflow", null=True, blank=True, on_delete=models.PROTECT, related_name="signatures"
    )
    signer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    printed_name = models.CharField(max_length=300, help_text="The signer's full name when they signed.")
    meaning = models.CharField(max_length=16, choices=SignatureMeaning.choices)
    comment = models.TextField(blank=True)
    content_hash = models.CharField(max_length=64, help_text="SHA-256 of the record's canonical content.")
    signed_at = models.DateTimeField(db_default=Now(), help_text="Database clock, UTC.")

    class Meta:
        ordering = ["signed_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(protocol__isnull=False, workflow__isnull=True)
                | models.Q(protocol__isnull=True, workflow__isnull=False),
                name="signature_of_one_record",
            )
        ]

    def __str__(self):
        record = f"protocol {self.protocol_id}" if self.protocol_id else f"workflow {self.workflow_id}"
        return f"{record}: {self.meaning} by {self.printed_name}"


class SignatureFailure(AppendOnlyModel):
    """A signing attempt with a wrong password: recorded, and counted to lock signing for a while."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    record = models.CharField(max_length=100, help_text="What they tried to sign, e.g. 'protocol 3'.")
    at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["user", "at"], name="signaturefailure_user_at")]

    def __str__(self):
        return f"{self.user_id} failed to sign {self.record} at {self.at}"
