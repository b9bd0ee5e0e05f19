"""Certificates: what a tool-verified answer rests on, kept whole with the trajectory whose answer it backs."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.engine import Connection

from ...types import Certificate
from ..models import CertificateRow
from ._base import StoreBase
from ._errors import StoreError, guarded
from ._rows import to_datetime

_CERTIFICATES = cast(Table, CertificateRow.__table__)


def certificate_values(certificate: Certificate) -> dict[str, Any]:
    return {
        "id": certificate.id,
        "trajectory_id": certificate.trajectory_id,
        "kind": certificate.kind,
        "schema": certificate.schema,
        "body": certificate.to_dict(),
        "created_at": to_datetime(certificate.created_at),
    }


def insert_certificates(conn: Connection, certificates: list[Certificate]) -> None:
    """Insert certificates in the caller's transaction (the trajectory's finish); each needs its
    ``trajectory_id``."""
    if not certificates:
        return
    if any(not c.trajectory_id for c in certificates):
        raise ValueError("a certificate is saved with the trajectory it backs: its trajectory_id is empty")
    conn.execute(_CERTIFICATES.insert(), [certificate_values(c) for c in certificates])


class CertificatesMixin(StoreBase):
    @guarded
    def save_certificates(self, certificates: list[Certificate]) -> None:
        """Keep certificates (each names its trajectory), in one transaction."""
        with self.engine.begin() as conn:
            insert_certificates(conn, certificates)

    @guarded
    def certificates(self, trajectory_id: str) -> list[Certificate]:
        """The certificates of one trajectory, oldest first."""
        with self.engine.connect() as conn:
            bodies = conn.execute(
                select(CertificateRow.body)
                .where(CertificateRow.trajectory_id == trajectory_id)
                .order_by(CertificateRow.created_at, CertificateRow.id)
            ).scalars()
            return [Certificate.from_dict(b) for b in bodies]

    @guarded
    def certificate(self, certificate_id: str) -> Certificate:
        """One certificate by its id; a StoreError naming it when there is none."""
        with self.engine.connect() as conn:
            body = conn.execute(select(CertificateRow.body).where(CertificateRow.id == certificate_id)).scalar()
        if body is None:
            raise StoreError(f"no certificate {certificate_id!r} in {self.display}")
        return Certificate.from_dict(body)
