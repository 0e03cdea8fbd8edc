//! The marketplace (issue 6): sellers, their listings, the listings trusts add to their
//! catalogues, budgets, charges (each sale or bill, owned by the buying trust), the ledger
//! (double-entry lines, each owned by the party whose account it is) and Stripe's events.
//!
//! A live listing's course is a reviewed snapshot in the national content space with a seller
//! and a price, so every trust that adds it reads it as it reads a national course.

use crate::{grant_platform_table, protect_tenant_table};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn a(name: &str) -> Alias {
    Alias::new(name)
}
fn uuid(name: &str) -> ColumnDef {
    ColumnDef::new(a(name)).uuid().not_null().to_owned()
}
fn uuid_null(name: &str) -> ColumnDef {
    ColumnDef::new(a(name)).uuid().null().to_owned()
}
fn text(name: &str, len: u32) -> ColumnDef {
    ColumnDef::new(a(name)).string_len(len).not_null().default("").to_owned()
}
fn text_null(name: &str, len: u32) -> ColumnDef {
    ColumnDef::new(a(name)).string_len(len).null().to_owned()
}
fn long_text(name: &str) -> ColumnDef {
    ColumnDef::new(a(name)).text().not_null().default("").to_owned()
}
fn long_text_null(name: &str) -> ColumnDef {
    ColumnDef::new(a(name)).text().null().to_owned()
}
fn int(name: &str) -> ColumnDef {
    ColumnDef::new(a(name)).integer().not_null().default(0).to_owned()
}
fn big(name: &str) -> ColumnDef {
    ColumnDef::new(a(name)).big_integer().not_null().default(0).to_owned()
}
fn big_null(name: &str) -> ColumnDef {
    ColumnDef::new(a(name)).big_integer().null().to_owned()
}
fn boolean(name: &str) -> ColumnDef {
    ColumnDef::new(a(name)).boolean().not_null().default(false).to_owned()
}
fn at(name: &str) -> ColumnDef {
    ColumnDef::new(a(name)).timestamp_with_time_zone().not_null().to_owned()
}
fn at_null(name: &str) -> ColumnDef {
    ColumnDef::new(a(name)).timestamp_with_time_zone().null().to_owned()
}
fn date_null(name: &str) -> ColumnDef {
    ColumnDef::new(a(name)).date().null().to_owned()
}

async fn table(manager: &SchemaManager<'_>, name: &str, cols: Vec<ColumnDef>, key: &[&str]) -> Result<(), DbErr> {
    let mut t = Table::create().table(a(name)).to_owned();
    for mut c in cols {
        t.col(&mut c);
    }
    let mut pk = Index::create();
    for k in key {
        pk.col(a(k));
    }
    t.primary_key(&mut pk);
    manager.create_table(t).await
}

async fn index(manager: &SchemaManager<'_>, name: &str, table: &str, cols: &[&str], unique: bool) -> Result<(), DbErr> {
    let mut i = Index::create().name(name).table(a(table)).to_owned();
    for c in cols {
        i.col(a(c));
    }
    if unique {
        i.unique();
    }
    manager.create_index(i).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // A seller: a vendor's site or a trust that chose to sell (one per site).
        table(
            manager,
            "sellers",
            vec![
                uuid("id"),
                // The seller's own site (a trust's or a vendor's): a platform table, so not
                // `tenant_id`, which marks tenant-owned rows under row-level security.
                uuid("site_id"),
                text("kind", 8),
                text("name", 200),
                text("summary", 1000),
                text("website", 300),
                text_null("stripe_account", 64),
                boolean("charges_enabled"),
                boolean("payouts_enabled"),
                at("created_at"),
            ],
            &["id"],
        )
        .await?;
        index(manager, "sellers_site", "sellers", &["site_id"], true).await?;
        index(manager, "sellers_stripe", "sellers", &["stripe_account"], false).await?;
        grant_platform_table(manager, "sellers", "SELECT, INSERT, UPDATE").await?;

        // A course offered in the national marketplace, reviewed before it goes live.
        table(
            manager,
            "listings",
            vec![
                uuid("id"),
                uuid("seller_id"),
                uuid("source_tenant"),
                uuid("source_course"),
                uuid_null("course_id"),
                text("title", 200),
                text("summary", 500),
                big("price_pence"),
                text("currency", 3),
                long_text("tiers"),
                int("licence_days"),
                long_text("preview"),
                text_null("preview_url", 2000),
                text("standards", 100),
                text("status", 16),
                text("review_note", 1000),
                uuid_null("reviewed_by"),
                at_null("reviewed_at"),
                int("commission_bps"),
                at("created_at"),
                at("updated_at"),
            ],
            &["id"],
        )
        .await?;
        index(manager, "listings_status", "listings", &["status", "title"], false).await?;
        index(manager, "listings_seller", "listings", &["seller_id", "created_at"], false).await?;
        index(manager, "listings_course", "listings", &["course_id"], false).await?;
        grant_platform_table(manager, "listings", "SELECT, INSERT, UPDATE").await?;

        // A listing a trust added to its catalogue, how it pays for it, and the terms it agreed
        // (price, tiers, licence, commission), fixed when it added the listing.
        table(
            manager,
            "market_adoptions",
            vec![
                uuid("tenant_id"),
                uuid("listing_id"),
                uuid("course_id"),
                uuid("seller_id"),
                uuid("seller_tenant"),
                text_null("seller_account", 64),
                text("funding", 8),
                int("seats"),
                big("price_pence"),
                text("currency", 3),
                long_text("tiers"),
                int("licence_days"),
                int("commission_bps"),
                uuid_null("added_by"),
                at("added_at"),
            ],
            &["tenant_id", "listing_id"],
        )
        .await?;
        index(manager, "market_adoptions_course", "market_adoptions", &["tenant_id", "course_id"], true).await?;
        protect_tenant_table(manager, "market_adoptions").await?;

        // The most a trust lets paid enrolments cost in a calendar month.
        table(
            manager,
            "market_budgets",
            vec![
                uuid("tenant_id"),
                big_null("monthly_pence"),
                // The trust as Stripe's customer, for its monthly invoices.
                text_null("stripe_customer", 64),
                uuid_null("updated_by"),
                at("updated_at"),
            ],
            &["tenant_id"],
        )
        .await?;
        protect_tenant_table(manager, "market_budgets").await?;

        // One sale or bill: an enrolment billed to the trust, drawn from seats or paid by card, or
        // seats bought by card. Owned by the buying trust.
        table(
            manager,
            "charges",
            vec![
                uuid("tenant_id"),
                uuid("id"),
                uuid("listing_id"),
                uuid("course_id"),
                uuid("seller_id"),
                text("kind", 12),
                text("funding", 8),
                uuid_null("person_id"),
                uuid_null("enrolment_id"),
                int("quantity"),
                big("unit_pence"),
                big("amount_pence"),
                big("fee_pence"),
                text("currency", 3),
                text("status", 12),
                text("month", 7),
                text_null("checkout_id", 255),
                text_null("payment_intent", 255),
                text_null("refund_id", 255),
                uuid_null("invoice_id"),
                date_null("access_until"),
                at("created_at"),
                at_null("settled_at"),
                at_null("refunded_at"),
            ],
            &["tenant_id", "id"],
        )
        .await?;
        index(manager, "charges_id", "charges", &["id"], true).await?;
        index(manager, "charges_month", "charges", &["tenant_id", "month", "status"], false).await?;
        index(manager, "charges_enrolment", "charges", &["tenant_id", "enrolment_id"], false).await?;
        index(manager, "charges_created", "charges", &["tenant_id", "created_at"], false).await?;
        index(manager, "charges_checkout", "charges", &["checkout_id"], false).await?;
        protect_tenant_table(manager, "charges").await?;

        // A trust's monthly invoice for the enrolments billed to it in a month.
        table(
            manager,
            "invoices",
            vec![
                uuid("tenant_id"),
                uuid("id"),
                text("month", 7),
                big("amount_pence"),
                int("items"),
                text("currency", 3),
                text("status", 8),
                text_null("stripe_invoice", 255),
                text_null("hosted_url", 2000),
                at("created_at"),
                at_null("paid_at"),
            ],
            &["tenant_id", "id"],
        )
        .await?;
        index(manager, "invoices_id", "invoices", &["id"], true).await?;
        index(manager, "invoices_month", "invoices", &["tenant_id", "month"], false).await?;
        protect_tenant_table(manager, "invoices").await?;
        index(manager, "charges_invoice", "charges", &["tenant_id", "invoice_id"], false).await?;

        // The ledger: double-entry lines; the lines of one transaction (`txn`) sum to zero. Each
        // line belongs to the party whose account it is (the buying trust, the seller's site, or
        // the platform), so each reads only its own; the platform writes them.
        table(
            manager,
            "ledger_entries",
            vec![
                uuid("tenant_id"),
                uuid("id"),
                uuid("txn"),
                int("line"),
                text("kind", 12),
                text("account", 24),
                big("amount_pence"),
                text("currency", 3),
                uuid_null("charge_id"),
                uuid_null("listing_id"),
                uuid_null("buyer_tenant"),
                uuid_null("seller_id"),
                uuid_null("person_id"),
                uuid_null("course_id"),
                text("memo", 300),
                at("at"),
            ],
            &["tenant_id", "id"],
        )
        .await?;
        index(manager, "ledger_txn_line", "ledger_entries", &["tenant_id", "txn", "line"], true).await?;
        index(manager, "ledger_txn", "ledger_entries", &["txn"], false).await?;
        index(manager, "ledger_account", "ledger_entries", &["tenant_id", "account", "at"], false).await?;
        protect_tenant_table(manager, "ledger_entries").await?;
        if crate::is_postgres(manager) {
            // The ledger is append-only, and only the platform writes it: the application role
            // reads its own party's lines.
            manager
                .get_connection()
                .execute_unprepared(&format!(
                    "REVOKE INSERT, UPDATE, DELETE ON ledger_entries FROM {app};
                     REVOKE UPDATE, DELETE ON ledger_entries FROM {platform};",
                    app = crate::APP_ROLE,
                    platform = crate::PLATFORM_ROLE
                ))
                .await?;
        }

        // Stripe's events as received: kept until processed, retried when they fail.
        table(
            manager,
            "stripe_events",
            vec![
                text("id", 255),
                text("kind", 100),
                long_text("payload"),
                text("status", 12),
                int("attempts"),
                long_text_null("last_error"),
                at("received_at"),
                at("next_at"),
                at_null("processed_at"),
            ],
            &["id"],
        )
        .await?;
        index(manager, "stripe_events_due", "stripe_events", &["status", "next_at"], false).await?;
        grant_platform_table(manager, "stripe_events", "SELECT, INSERT, UPDATE").await?;

        // A listing's snapshot package reads the seller's stored files rather than copies.
        for col in [uuid_null("files_owner"), uuid_null("files_package")] {
            manager.alter_table(Table::alter().table(a("packages")).add_column(col).to_owned()).await?;
        }
        Ok(())
    }
}
