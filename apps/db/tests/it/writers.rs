//! Writers take turns on SQLite (one file, one writer: queued fairly in the process rather than
//! left to SQLite's busy handler), and many at once all commit, on both databases.

use crate::support::fixture;
use chrono::NaiveDate;
use std::time::Duration;
use trellis_db::Backend;
use trellis_db::site::{self, MessageInput};

fn input(title: &str) -> MessageInput {
    MessageInput {
        title: title.into(),
        body: "body".into(),
        starts_on: NaiveDate::from_ymd_opt(2020, 1, 1).unwrap(),
        ends_on: None,
    }
}

#[tokio::test]
async fn writers_take_turns_and_all_commit() {
    let f = fixture().await;
    let (a, b) = (f.ids["northmoor"], f.ids["riverside"]);

    // While one trust's writing transaction is open, another's waits for it on SQLite (its
    // turn), and begins at once on PostgreSQL; reading transactions never wait.
    let first = f.dbs.app.begin(a).await.unwrap();
    site::add_message(&first, input("first")).await.unwrap();
    let app = f.dbs.app.clone();
    let second = tokio::spawn(async move { app.begin(b).await.unwrap() });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(second.is_finished(), f.dbs.backend == Backend::Postgres, "the second writer's turn");
    let read = tokio::time::timeout(Duration::from_secs(2), f.dbs.app.begin_read(b)).await;
    assert!(read.is_ok(), "a reader does not wait for the writer");
    drop(read);
    if f.dbs.backend == Backend::Sqlite {
        // Longer than SQLite's busy timeout (5 s): left to SQLite, the second would fail with
        // "database is locked"; waiting for its turn, it begins when the first commits.
        tokio::time::sleep(Duration::from_secs(6)).await;
    }
    first.commit().await.unwrap();
    let second = tokio::time::timeout(Duration::from_secs(5), second).await.expect("its turn came").unwrap();
    site::add_message(&second, input("second")).await.unwrap();
    second.commit().await.unwrap();

    // Sixty-four writers at once, each holding its transaction a little: every one commits.
    let mut tasks = Vec::new();
    for i in 0..64 {
        let app = f.dbs.app.clone();
        let tenant = if i % 2 == 0 { a } else { b };
        tasks.push(tokio::spawn(async move {
            let tx = app.begin(tenant).await?;
            site::add_message(&tx, input(&format!("writer {i}"))).await?;
            tokio::time::sleep(Duration::from_millis(5)).await;
            tx.commit().await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let tx = f.dbs.app.begin_read(a).await.unwrap();
    let day = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
    let mine = site::current_messages(&tx, day, 1000).await.unwrap();
    assert_eq!(mine.iter().filter(|m| m.title.starts_with("writer ")).count(), 32);
    assert!(mine.iter().any(|m| m.title == "first"));
    assert!(!mine.iter().any(|m| m.title == "second"), "riverside's message is not northmoor's");
}
