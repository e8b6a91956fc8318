"""Records that can be signed, and whether their signatures still cover them (docs/compliance.md).

A record's canonical content is a JSON document: a protocol version's export (without its
status, so publishing a signed draft keeps the signature valid), or a run's report record
(``workflows.report``). Its hash is the SHA-256 of that document as canonical JSON (keys sorted,
no spaces, UTF-8). A signature stores the hash it signed; it covers the record only while the
record still hashes the same.
"""

import hashlib
import json

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import QuerySet

from executionlogs.chain import canonical_timestamp
from workflows.choices import SignatureMeaning
from workflows.models import Protocol, Signature
from workflows.protocol_document import protocol_export


def canonical_json(document) -> bytes:
    """The one byte form every record hash is taken over."""
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, cls=DjangoJSONEncoder
    ).encode()


def content_hash(document) -> str:
    return hashlib.sha256(canonical_json(document)).hexdigest()


def protocol_content(protocol: Protocol) -> dict:
    """What a protocol signature signs: the version's export, less its status (publishing changes no content)."""
    document = protocol_export(protocol)
    document.pop("status")
    return document


def protocol_content_hash(protocol: Protocol) -> str:
    return content_hash(protocol_content(protocol))


def signature_list(*, protocol_id: int | None = None, workflow_id: int | None = None) -> QuerySet[Signature]:
    """A record's signatures, oldest first, with their signers (one query)."""
    return (
        Signature.objects.filter(protocol_id=protocol_id, workflow_id=workflow_id)
        .select_related("signer")
        .order_by("signed_at", "id")
    )


def signature_entry(signature: Signature, current_hash: str) -> dict:
    """A signature as the API and the report show it: its manifestation (11.50), and does it still cover the record."""
    return {
        "id": signature.pk,
        "signer": signature.signer.username,
        "printed_name": signature.printed_name,
        "meaning": signature.meaning,
        "comment": signature.comment,
        "signed_at": canonical_timestamp(signature.signed_at),
        "content_hash": signature.content_hash,
        "covers_current_content": signature.content_hash == current_hash,
    }


def protocol_approval_problem(protocol: Protocol) -> str | None:
    """Why ``protocol`` may not be published under the approval policy, or None.

    With ``LABCORE_PUBLISH_REQUIRES_APPROVAL`` a draft needs an ``approved`` signature over its
    current content by someone other than its author (its creator, and anyone who signed it
    as ``authored``).
    """
    if not settings.LABCORE_PUBLISH_REQUIRES_APPROVAL:
        return None
    signatures = list(signature_list(protocol_id=protocol.pk))
    authors = {protocol.created_by_id} | {s.signer_id for s in signatures if s.meaning == SignatureMeaning.AUTHORED}
    current = protocol_content_hash(protocol)
    approvals = [s for s in signatures if s.meaning == SignatureMeaning.APPROVED and s.content_hash == current]
    if any(s.signer_id not in authors for s in approvals):
        return None
    if approvals:
        return "it is approved only by its author; an approved signature by someone else is required"
    return "it needs an approved signature over its current content by someone other than its author"
