"""Certificate templates: how a certificate looks (logo, colours, signer, border, wording).

A template is a name and a version counter; each save adds an immutable
CertificateTemplateVersion. An issued certificate names the version it was issued with
in its frozen snapshot ("template_version_id"), so editing the template later never
changes it. Assignments say which template a track or course uses (a definition_id
column exists, unused: nothing renders a template for micro-credential awards yet); the
default template (at most one) covers everything else.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, not_blank, utcnow


class CertificateTemplate(Base):
    __tablename__ = "certificate_templates"
    __table_args__ = (not_blank("name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Unique regardless of case: the index uq_certificate_templates_name_lower, below.
    name: Mapped[str] = mapped_column(String(120))
    # "default" on the default template, NULL on the others: its unique constraint
    # allows one default, race or not.
    default_key: Mapped[str | None] = mapped_column(String(10), unique=True)
    # The number of the newest version; a save bumps it with a conditional UPDATE from
    # the number the editor started from (two saves at once: one wins, one gets 409).
    version: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    versions: Mapped[list[CertificateTemplateVersion]] = relationship(
        back_populates="template", order_by="CertificateTemplateVersion.number.desc()",
        viewonly=True)

    @property
    def is_default(self) -> bool:
        return self.default_key is not None


Index("uq_certificate_templates_name_lower", func.lower(CertificateTemplate.name), unique=True)


class CertificateTemplateVersion(Base):
    """One saved design; never updated after it is written."""

    __tablename__ = "certificate_template_versions"
    __table_args__ = (UniqueConstraint("template_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("certificate_templates.id",
                                                        ondelete="CASCADE"), index=True)
    number: Mapped[int]
    primary_color: Mapped[str] = mapped_column(String(7))  # #rrggbb
    accent_color: Mapped[str] = mapped_column(String(7))
    border_style: Mapped[str] = mapped_column(String(10))  # double, single, none
    title_text: Mapped[str | None] = mapped_column(String(120))
    body_text: Mapped[str | None] = mapped_column(String(500))
    signer_name: Mapped[str | None] = mapped_column(String(120))
    signer_title: Mapped[str | None] = mapped_column(String(120))
    # Private storage keys of the re-encoded PNGs (app/services/storage.py).
    logo_key: Mapped[str | None] = mapped_column(String(100))
    signature_key: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id",
                                                                 ondelete="SET NULL"))

    template: Mapped[CertificateTemplate] = relationship(back_populates="versions")


class CertificateTemplateAssignment(Base):
    """A track, course or definition's template (exactly one of the three ids)."""

    __tablename__ = "certificate_template_assignments"
    __table_args__ = (
        CheckConstraint("CAST(track_id IS NOT NULL AS INTEGER) + CAST(course_id IS NOT "
                        "NULL AS INTEGER) + CAST(definition_id IS NOT NULL AS INTEGER) = 1",
                        name="one_subject"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("certificate_templates.id",
                                                        ondelete="CASCADE"), index=True)
    track_id: Mapped[int | None] = mapped_column(
        ForeignKey("certification_tracks.id", ondelete="CASCADE"), unique=True)
    course_id: Mapped[int | None] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), unique=True)
    definition_id: Mapped[int | None] = mapped_column(
        ForeignKey("micro_credential_definitions.id", ondelete="CASCADE"), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    template: Mapped[CertificateTemplate] = relationship()
