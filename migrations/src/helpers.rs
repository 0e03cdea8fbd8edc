//! Column, table and index helpers for migrations from 2026-12-06 on (earlier files keep their
//! own copies: an applied migration is never edited).

use sea_orm_migration::prelude::*;

pub fn a(name: &str) -> Alias {
    Alias::new(name)
}
pub fn uuid(name: &str) -> ColumnDef {
    ColumnDef::new(a(name)).uuid().not_null().to_owned()
}
pub fn uuid_null(name: &str) -> ColumnDef {
    ColumnDef::new(a(name)).uuid().null().to_owned()
}
pub fn text(name: &str, len: u32) -> ColumnDef {
    ColumnDef::new(a(name)).string_len(len).not_null().default("").to_owned()
}
pub fn text_null(name: &str, len: u32) -> ColumnDef {
    ColumnDef::new(a(name)).string_len(len).null().to_owned()
}
pub fn long_text(name: &str) -> ColumnDef {
    ColumnDef::new(a(name)).text().not_null().default("").to_owned()
}
pub fn int(name: &str) -> ColumnDef {
    ColumnDef::new(a(name)).integer().not_null().default(0).to_owned()
}
pub fn boolean(name: &str) -> ColumnDef {
    ColumnDef::new(a(name)).boolean().not_null().default(false).to_owned()
}
pub fn at(name: &str) -> ColumnDef {
    ColumnDef::new(a(name)).timestamp_with_time_zone().not_null().to_owned()
}
pub fn at_null(name: &str) -> ColumnDef {
    ColumnDef::new(a(name)).timestamp_with_time_zone().null().to_owned()
}
pub fn date(name: &str) -> ColumnDef {
    ColumnDef::new(a(name)).date().not_null().to_owned()
}
pub fn date_null(name: &str) -> ColumnDef {
    ColumnDef::new(a(name)).date().null().to_owned()
}

/// Creates a table with these columns and primary key.
pub async fn table(manager: &SchemaManager<'_>, name: &str, cols: Vec<ColumnDef>, key: &[&str]) -> Result<(), DbErr> {
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

/// Creates an index (unique if asked).
pub async fn index(
    manager: &SchemaManager<'_>,
    name: &str,
    table: &str,
    cols: &[&str],
    unique: bool,
) -> Result<(), DbErr> {
    let mut i = Index::create().name(name).table(a(table)).to_owned();
    for c in cols {
        i.col(a(c));
    }
    if unique {
        i.unique();
    }
    manager.create_index(i).await
}

/// Adds a column to an existing table (one per statement: SQLite's rule).
pub async fn add_column(manager: &SchemaManager<'_>, table: &str, col: ColumnDef) -> Result<(), DbErr> {
    let mut col = col;
    manager.alter_table(Table::alter().table(a(table)).add_column(&mut col).to_owned()).await
}
