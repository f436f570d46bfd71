"""Proofs for outside monitors (docs/api.md, "Proofs for outside monitors"): checkpoint, proofs, public key.

Any authenticated caller (a key with the ``read`` scope, or a signed-in person) may read these: checkpoints,
proofs and leaf hashes reveal hashes only. An inclusion proof also carries the entry's payload, which is
the evidence itself, so the payload is served only for entries of a job the caller may see (their team's,
as on every other job endpoint), and serving it is recorded as a view of that job; for any other entry
(another team's job, an access, a kill-switch or account event) ``payload`` is null and the leaf hash alone
lets the caller check a payload they already hold, for example from a bundle.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audit_app.models import AccessEvent
from audit_app.services import proofs
from audit_app.services.access_events import record_access
from audit_app.web.api.auth import account
from audit_app.web.api.schema import with_problems
from audit_app.web.permissions import visible_jobs

TEXT = "text/plain; charset=utf-8"
LEDGER_ERRORS = (400, 401, 403, 404, 429, 503)


class CheckpointOut(serializers.Serializer[Any]):
    origin = serializers.CharField(help_text="The log's name, the first line of the signed note.")
    size = serializers.IntegerField(help_text="How many entries the checkpoint signs.")
    root_hash = serializers.CharField(help_text="The RFC 6962 root of those entries, hex.")
    note = serializers.CharField(help_text="The C2SP signed note exactly as stored (what checkpoint/note/ serves).")


class InclusionOut(serializers.Serializer[Any]):
    sequence = serializers.IntegerField()
    tree_size = serializers.IntegerField()
    leaf_hash = serializers.CharField(help_text="SHA-256(0x00 || payload), hex.")
    payload = serializers.DictField(
        allow_null=True, help_text="The entry's canonical JSON; null unless it is evidence of a job you may see."
    )
    inclusion_proof = serializers.ListField(child=serializers.CharField(), help_text="Hex hashes, leaf to root.")
    checkpoint = CheckpointOut()


class ConsistencyOut(serializers.Serializer[Any]):
    format = serializers.CharField()
    old_size = serializers.IntegerField()
    old_root_hash = serializers.CharField()
    new_size = serializers.IntegerField()
    new_root_hash = serializers.CharField()
    consistency_proof = serializers.ListField(child=serializers.CharField(), help_text="Hex hashes (RFC 6962).")
    checkpoint = serializers.CharField(help_text="The signed note of the new size, exactly as stored.")


class InclusionQuery(serializers.Serializer[Any]):
    size = serializers.IntegerField(required=False, min_value=0, max_value=2**62)


class ConsistencyQuery(serializers.Serializer[Any]):
    to = serializers.IntegerField(required=False, min_value=0, max_value=2**62)

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        # "from" is a Python keyword, so it cannot be declared as a class attribute.
        return {"from": serializers.IntegerField(min_value=0, max_value=2**62), **super().get_fields()}


def _refused(error: proofs.ProofRefused) -> exceptions.APIException:
    if error.status == 404:
        return exceptions.NotFound(str(error))
    if error.status == 400:
        return exceptions.ParseError(str(error))
    refusal = exceptions.APIException(str(error))
    refusal.status_code = error.status
    return refusal


def _checkpoint_data(head: proofs.SignedHead) -> dict[str, Any]:
    return {"origin": head.origin, "size": head.size, "root_hash": head.root.hex(), "note": head.note}


def _query(serializer: type[serializers.Serializer[Any]], request: Request) -> dict[str, Any]:
    incoming = serializer(data=request.query_params)
    incoming.is_valid(raise_exception=True)
    return dict(incoming.validated_data)


class LatestCheckpoint(APIView):
    @extend_schema(
        responses=with_problems({200: CheckpointOut}, LEDGER_ERRORS), operation_id="ledger_checkpoint_retrieve"
    )
    def get(self, request: Request) -> Response:
        try:
            return Response(_checkpoint_data(proofs.latest()))
        except proofs.ProofRefused as error:
            raise _refused(error) from None


class LatestCheckpointNote(APIView):
    @extend_schema(
        responses=with_problems({(200, "text/plain"): OpenApiTypes.STR}, LEDGER_ERRORS),
        operation_id="ledger_checkpoint_note_retrieve",
    )
    def get(self, request: Request) -> HttpResponse:
        try:
            return HttpResponse(proofs.latest().note, content_type=TEXT)
        except proofs.ProofRefused as error:
            raise _refused(error) from None


class InclusionProof(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("sequence", int, OpenApiParameter.PATH, description="The entry's sequence number."),
            OpenApiParameter("size", int, description="A tree size some checkpoint signed (default: the latest)."),
        ],
        responses=with_problems({200: InclusionOut}, LEDGER_ERRORS),
        operation_id="ledger_inclusion_retrieve",
    )
    def get(self, request: Request, sequence: str) -> Response:
        if not sequence.isdigit() or len(sequence) > 19:
            raise exceptions.ParseError(f"The sequence number must be a whole number from 0; {sequence!r} is not.")
        size = _query(InclusionQuery, request).get("size")
        try:
            proof = proofs.inclusion(int(sequence), size)
        except proofs.ProofRefused as error:
            raise _refused(error) from None
        payload = None
        if proof.job_id is not None and visible_jobs(account(request)).filter(pk=proof.job_id).exists():
            record_access(account(request), AccessEvent.VIEW, f"job:{proof.job_id}")
            payload = proof.payload
        return Response(
            {
                "sequence": proof.sequence,
                "tree_size": proof.head.size,
                "leaf_hash": proof.leaf_hash.hex(),
                "payload": payload,
                "inclusion_proof": [h.hex() for h in proof.proof],
                "checkpoint": _checkpoint_data(proof.head),
            }
        )


class ConsistencyProof(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("from", int, required=True, description="The size of the checkpoint you saved."),
            OpenApiParameter("to", int, description="A later signed size (default: the latest checkpoint's)."),
        ],
        responses=with_problems({200: ConsistencyOut}, LEDGER_ERRORS),
        operation_id="ledger_consistency_retrieve",
    )
    def get(self, request: Request) -> Response:
        query = _query(ConsistencyQuery, request)
        try:
            proof = proofs.consistency(query["from"], query.get("to"))
        except proofs.ProofRefused as error:
            raise _refused(error) from None
        return Response(
            {
                "format": proofs.CONSISTENCY_FORMAT,
                "old_size": proof.old.size,
                "old_root_hash": proof.old.root.hex(),
                "new_size": proof.new.size,
                "new_root_hash": proof.new.root.hex(),
                "consistency_proof": [h.hex() for h in proof.proof],
                "checkpoint": proof.new.note,
            }
        )


class PublicKey(APIView):
    @extend_schema(
        responses=with_problems({(200, "text/plain"): OpenApiTypes.STR}, LEDGER_ERRORS),
        operation_id="ledger_public_key_retrieve",
    )
    def get(self, request: Request) -> HttpResponse:
        try:
            return HttpResponse(proofs.verifier_key() + "\n", content_type=TEXT)  # as the command prints it
        except proofs.ProofRefused as error:
            raise _refused(error) from None
