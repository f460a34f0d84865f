"""The initial schema: the tables as `create_all` made them before migrations existed.

Service records and their reviews, complaint tickets and their evidence, handoff tickets
and the desk's tables (contacts, claims, audit, deliveries, Chatwoot links and relayed
messages), and the idempotency keys of creating requests. Times are stored as naive UTC
(`UtcDateTime`). A record database from before the desk has only some of these tables:
the others are added.

Revision ID: 0001
Revises:
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # IF NOT EXISTS: a database made by `create_all` before migrations existed has no version
    # table, and this revision adopts it, adding only what is missing (as `create_all` did).
    op.create_table(
        "complaint_tickets",
        sa.Column("ticket_id", sa.String(length=32), nullable=False),
        sa.Column("conversation_id", sa.String(length=128), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=True),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("contact_phone", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("rule", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("ticket_id"),
        if_not_exists=True,
    )
    op.create_index(
        "ix_complaint_tickets_conversation_id", "complaint_tickets", ["conversation_id"], if_not_exists=True
    )
    op.create_table(
        "handoff_tickets",
        sa.Column("ticket_id", sa.String(length=32), nullable=False),
        sa.Column("conversation_id", sa.String(length=128), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("callback_at", sa.DateTime(), nullable=True),
        sa.Column("rule", sa.String(length=128), nullable=True),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("ticket_id"),
        if_not_exists=True,
    )
    op.create_index(
        "ix_handoff_tickets_conversation_id", "handoff_tickets", ["conversation_id"], if_not_exists=True
    )
    op.create_index(
        "ix_handoff_tickets_queue", "handoff_tickets", ["status", "priority", "due_at"], if_not_exists=True
    )
    op.create_table(
        "record_idempotency_keys",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("operation", sa.String(length=32), nullable=False),
        sa.Column("request_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("resource_id", sa.String(length=32), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
        if_not_exists=True,
    )
    op.create_table(
        "service_records",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.String(length=64), nullable=False),
        sa.Column("rule", sa.String(length=128), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        if_not_exists=True,
    )
    op.create_index(
        "ix_service_records_conversation", "service_records", ["conversation_id", "id"], if_not_exists=True
    )
    op.create_table(
        "chatwoot_links",
        sa.Column("ticket_id", sa.String(length=32), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("source_id", sa.String(length=255), nullable=True),
        sa.Column("conversation_id", sa.Integer(), nullable=True),
        sa.Column("note_message_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["ticket_id"], ["handoff_tickets.ticket_id"]),
        sa.PrimaryKeyConstraint("ticket_id"),
        sa.UniqueConstraint("conversation_id"),
        if_not_exists=True,
    )
    op.create_table(
        "chatwoot_relayed_messages",
        sa.Column("message_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("ticket_id", sa.String(length=32), nullable=False),
        sa.Column("relayed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["handoff_tickets.ticket_id"]),
        sa.PrimaryKeyConstraint("message_id"),
        if_not_exists=True,
    )
    op.create_table(
        "complaint_evidence",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ticket_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("media_id", sa.String(length=128), nullable=True),
        sa.Column("url", sa.String(length=1024), nullable=True),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["complaint_tickets.ticket_id"]),
        sa.PrimaryKeyConstraint("id"),
        if_not_exists=True,
    )
    op.create_index(
        "ix_complaint_evidence_ticket_id", "complaint_evidence", ["ticket_id"], if_not_exists=True
    )
    op.create_table(
        "desk_audit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ticket_id", sa.String(length=32), nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["handoff_tickets.ticket_id"]),
        sa.PrimaryKeyConstraint("id"),
        if_not_exists=True,
    )
    op.create_index("ix_desk_audit_ticket", "desk_audit", ["ticket_id", "id"], if_not_exists=True)
    op.create_table(
        "handoff_claims",
        sa.Column("ticket_id", sa.String(length=32), nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("agent_name", sa.String(length=64), nullable=False),
        sa.Column("claimed_from", sa.String(length=24), nullable=False),
        sa.Column("claimed_at", sa.DateTime(), nullable=False),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.Column("resolution", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(["ticket_id"], ["handoff_tickets.ticket_id"]),
        sa.PrimaryKeyConstraint("ticket_id"),
        if_not_exists=True,
    )
    op.create_index("ix_handoff_claims_agent_id", "handoff_claims", ["agent_id"], if_not_exists=True)
    op.create_table(
        "handoff_contacts",
        sa.Column("ticket_id", sa.String(length=32), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["handoff_tickets.ticket_id"]),
        sa.PrimaryKeyConstraint("ticket_id"),
        if_not_exists=True,
    )
    op.create_table(
        "handoff_deliveries",
        sa.Column("delivery_id", sa.String(length=36), nullable=False),
        sa.Column("ticket_id", sa.String(length=32), nullable=False),
        sa.Column("target", sa.String(length=16), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["ticket_id"], ["handoff_tickets.ticket_id"]),
        sa.PrimaryKeyConstraint("delivery_id"),
        if_not_exists=True,
    )
    op.create_index(
        "ix_handoff_deliveries_due", "handoff_deliveries", ["status", "next_attempt_at"], if_not_exists=True
    )
    op.create_index(
        "ix_handoff_deliveries_ticket_id", "handoff_deliveries", ["ticket_id"], if_not_exists=True
    )
    op.create_table(
        "unanswered_reviews",
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("intent", sa.String(length=64), nullable=True),
        sa.Column("new_topic", sa.String(length=64), nullable=True),
        sa.Column("reviewed_by", sa.String(length=64), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["record_id"], ["service_records.id"]),
        sa.PrimaryKeyConstraint("record_id"),
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_table("unanswered_reviews")
    op.drop_table("handoff_deliveries")
    op.drop_table("handoff_contacts")
    op.drop_table("handoff_claims")
    op.drop_table("desk_audit")
    op.drop_table("complaint_evidence")
    op.drop_table("chatwoot_relayed_messages")
    op.drop_table("chatwoot_links")
    op.drop_table("service_records")
    op.drop_table("record_idempotency_keys")
    op.drop_table("handoff_tickets")
    op.drop_table("complaint_tickets")
