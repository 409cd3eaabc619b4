"""certificate templates: versioned designs (logo, colours, signer, border, wording)
assigned to tracks and courses

Revision ID: 0023_certificate_templates
Revises: 0022_bulk_imports
Create Date: 2026-12-01 14:17:00

Three new tables; nothing existing changes (an issued certificate names its template
version in its snapshot JSON, and one without stays on the built-in look).
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0023_certificate_templates'
down_revision = '0022_bulk_imports'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'certificate_templates',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=120), nullable=False),
        sa.Column('default_key', sa.String(length=10), nullable=True),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint('length(trim(name)) > 0',
                           name=op.f('ck_certificate_templates_name_not_blank')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_certificate_templates')),
        sa.UniqueConstraint('default_key', name=op.f('uq_certificate_templates_default_key')),
    )
    # Unique regardless of case, as organizations' names (0019): "Brand" and "BRAND" are
    # one name to the admin picking one.
    op.create_index('uq_certificate_templates_name_lower', 'certificate_templates',
                    [sa.text('lower(name)')], unique=True)
    op.create_table(
        'certificate_template_versions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('template_id', sa.Integer(), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('primary_color', sa.String(length=7), nullable=False),
        sa.Column('accent_color', sa.String(length=7), nullable=False),
        sa.Column('border_style', sa.String(length=10), nullable=False),
        sa.Column('title_text', sa.String(length=120), nullable=True),
        sa.Column('body_text', sa.String(length=500), nullable=True),
        sa.Column('signer_name', sa.String(length=120), nullable=True),
        sa.Column('signer_title', sa.String(length=120), nullable=True),
        sa.Column('logo_key', sa.String(length=100), nullable=True),
        sa.Column('signature_key', sa.String(length=100), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], ondelete='SET NULL',
                                name=op.f('fk_certificate_template_versions_created_by_id_users')),
        sa.ForeignKeyConstraint(['template_id'], ['certificate_templates.id'],
                                ondelete='CASCADE',
                                name=op.f('fk_certificate_template_versions_template_id_'
                                          'certificate_templates')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_certificate_template_versions')),
        sa.UniqueConstraint('template_id', 'number',
                            name=op.f('uq_certificate_template_versions_template_id_number')),
    )
    op.create_index(op.f('ix_certificate_template_versions_template_id'),
                    'certificate_template_versions', ['template_id'], unique=False)
    op.create_table(
        'certificate_template_assignments',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('template_id', sa.Integer(), nullable=False),
        sa.Column('track_id', sa.Integer(), nullable=True),
        sa.Column('course_id', sa.Integer(), nullable=True),
        sa.Column('definition_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            'CAST(track_id IS NOT NULL AS INTEGER) + CAST(course_id IS NOT NULL AS INTEGER) '
            '+ CAST(definition_id IS NOT NULL AS INTEGER) = 1',
            name=op.f('ck_certificate_template_assignments_one_subject')),
        sa.ForeignKeyConstraint(['course_id'], ['courses.id'], ondelete='CASCADE',
                                name=op.f('fk_certificate_template_assignments_course_id_courses')),
        sa.ForeignKeyConstraint(['definition_id'], ['micro_credential_definitions.id'],
                                ondelete='CASCADE',
                                name=op.f('fk_certificate_template_assignments_definition_id_'
                                          'micro_credential_definitions')),
        sa.ForeignKeyConstraint(['template_id'], ['certificate_templates.id'],
                                ondelete='CASCADE',
                                name=op.f('fk_certificate_template_assignments_template_id_'
                                          'certificate_templates')),
        sa.ForeignKeyConstraint(['track_id'], ['certification_tracks.id'], ondelete='CASCADE',
                                name=op.f('fk_certificate_template_assignments_track_id_'
                                          'certification_tracks')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_certificate_template_assignments')),
        sa.UniqueConstraint('course_id',
                            name=op.f('uq_certificate_template_assignments_course_id')),
        sa.UniqueConstraint('definition_id',
                            name=op.f('uq_certificate_template_assignments_definition_id')),
        sa.UniqueConstraint('track_id', name=op.f('uq_certificate_template_assignments_track_id')),
    )
    op.create_index(op.f('ix_certificate_template_assignments_template_id'),
                    'certificate_template_assignments', ['template_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_certificate_template_assignments_template_id'),
                  table_name='certificate_template_assignments')
    op.drop_table('certificate_template_assignments')
    op.drop_index(op.f('ix_certificate_template_versions_template_id'),
                  table_name='certificate_template_versions')
    op.drop_table('certificate_template_versions')
    op.drop_index('uq_certificate_templates_name_lower', table_name='certificate_templates')
    op.drop_table('certificate_templates')
