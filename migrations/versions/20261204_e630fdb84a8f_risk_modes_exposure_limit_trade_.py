"""risk modes, exposure limit, trade excursions, news and option chains

`risk_limits.risk_mode` becomes nullable, null meaning no mode (the strategies' own
quantities), and every existing row is set to null: until now every account said
`moderate` by default and nothing read it, so turning that word on would silently
resize every account's orders. Downgrading writes `moderate` back into the nulls.
`max_exposure`, `trades.mae`/`mfe` and the new tables start empty.

Revision ID: e630fdb84a8f
Revises: 0aed4991d68c
Create Date: 2026-12-04 20:23:04.517259
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e630fdb84a8f"
down_revision: str | None = "0aed4991d68c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "news_sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("weight", sa.Numeric(precision=6, scale=3), nullable=False),
        sa.Column("etag", sa.String(length=255), nullable=True),
        sa.Column("last_modified", sa.String(length=64), nullable=True),
        sa.Column("last_fetched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_news_sources")),
        sa.UniqueConstraint("url", name=op.f("uq_news_sources_url")),
    )
    op.create_table(
        "option_chains",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("underlying", sa.String(length=40), nullable=False),
        sa.Column("underlying_price", sa.Numeric(precision=20, scale=9), nullable=True),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "model",
            sa.Enum("black76", "bsm", name="optionmodel", native_enum=False, length=8),
            nullable=False,
        ),
        sa.Column("rate", sa.Numeric(precision=10, scale=6), nullable=False),
        sa.Column("dividend_yield", sa.Numeric(precision=10, scale=6), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "model IN ('black76', 'bsm')", name=op.f("ck_option_chains_model_allowed")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_option_chains")),
    )
    op.create_table(
        "news_articles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=True),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tickers", sa.JSON(), nullable=False),
        sa.Column("sentiment_score", sa.Numeric(precision=5, scale=4), nullable=False),
        sa.Column(
            "sentiment_label",
            sa.Enum(
                "very_negative",
                "negative",
                "neutral",
                "positive",
                "very_positive",
                name="sentimentlabel",
                native_enum=False,
            ),
            nullable=False,
        ),
        sa.Column("sentiment_confidence", sa.Numeric(precision=5, scale=4), nullable=False),
        sa.CheckConstraint(
            "sentiment_label IN "
            "('very_negative', 'negative', 'neutral', 'positive', 'very_positive')",
            name=op.f("ck_news_articles_sentiment_label_allowed"),
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["news_sources.id"],
            name=op.f("fk_news_articles_source_id_news_sources"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_news_articles")),
        sa.UniqueConstraint("content_hash", name=op.f("uq_news_articles_content_hash")),
        sa.UniqueConstraint("url", name=op.f("uq_news_articles_url")),
    )
    with op.batch_alter_table("news_articles", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_news_articles_published_at"), ["published_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_news_articles_source_id"), ["source_id"], unique=False)

    op.create_table(
        "option_contracts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column(
            "option_type",
            sa.Enum("call", "put", name="optiontype", native_enum=False),
            nullable=False,
        ),
        sa.Column("strike", sa.Numeric(precision=20, scale=9), nullable=False),
        sa.Column("expiry", sa.Date(), nullable=False),
        sa.Column("bid", sa.Numeric(precision=20, scale=9), nullable=True),
        sa.Column("ask", sa.Numeric(precision=20, scale=9), nullable=True),
        sa.Column("last", sa.Numeric(precision=20, scale=9), nullable=True),
        sa.Column("volume", sa.Integer(), nullable=False),
        sa.Column("open_interest", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "option_type IN ('call', 'put')", name=op.f("ck_option_contracts_option_type_allowed")
        ),
        sa.ForeignKeyConstraint(
            ["chain_id"],
            ["option_chains.id"],
            name=op.f("fk_option_contracts_chain_id_option_chains"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_option_contracts")),
    )
    with op.batch_alter_table("option_contracts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_option_contracts_chain_id"), ["chain_id"], unique=False
        )

    with op.batch_alter_table("risk_limits", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("max_exposure", sa.Numeric(precision=18, scale=4), nullable=True)
        )
        batch_op.alter_column("risk_mode", existing_type=sa.VARCHAR(length=16), nullable=True)

    op.execute("UPDATE risk_limits SET risk_mode = NULL")

    with op.batch_alter_table("trades", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mae", sa.Numeric(precision=18, scale=4), nullable=True))
        batch_op.add_column(sa.Column("mfe", sa.Numeric(precision=18, scale=4), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("trades", schema=None) as batch_op:
        batch_op.drop_column("mfe")
        batch_op.drop_column("mae")

    op.execute("UPDATE risk_limits SET risk_mode = 'moderate' WHERE risk_mode IS NULL")
    with op.batch_alter_table("risk_limits", schema=None) as batch_op:
        batch_op.alter_column("risk_mode", existing_type=sa.VARCHAR(length=16), nullable=False)
        batch_op.drop_column("max_exposure")

    with op.batch_alter_table("option_contracts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_option_contracts_chain_id"))

    op.drop_table("option_contracts")
    with op.batch_alter_table("news_articles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_news_articles_source_id"))
        batch_op.drop_index(batch_op.f("ix_news_articles_published_at"))

    op.drop_table("news_articles")
    op.drop_table("option_chains")
    op.drop_table("news_sources")
