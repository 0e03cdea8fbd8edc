//! Completions back to HR: a trust's competence codes, settings and exports are its own (the
//! data layer on both databases, and raw SQL on PostgreSQL under forced row-level security); an
//! export is queued once however many ask, claimed by one worker at a time, and the next starts
//! where the last delivered one ended.

use crate::support::fixture;
use chrono::{Duration, Utc};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use trellis_db::hr_export::{self as hr, Settings};
use trellis_testkit::Backend;

#[tokio::test]
async fn a_trusts_exports_to_hr_are_its_own_and_queue_once() {
    let f = fixture().await;
    let (a, b) = (f.ids["northmoor"], f.ids["riverside"]);
    let tx = f.dbs.app.begin(a).await.unwrap();
    let s = Settings {
        target: "sftp".into(),
        sftp_host: "sftp.northmoor.example".into(),
        sftp_port: 22,
        ..Settings::default()
    };
    hr::save_settings(&tx, &s).await.unwrap();
    let t1 = Utc::now() - Duration::minutes(10);
    let (first, new) = hr::queue(&tx, "sftp", t1).await.unwrap();
    assert!(new && first.since.is_none());
    let (again, new) = hr::queue(&tx, "sftp", Utc::now()).await.unwrap();
    assert!(!new && again.id == first.id, "one waits at a time");
    let claimed = hr::claim_due(&tx, Utc::now(), Duration::minutes(15)).await.unwrap().expect("due");
    assert_eq!(claimed.attempts, 1);
    assert!(hr::claim_due(&tx, Utc::now(), Duration::minutes(15)).await.unwrap().is_none(), "leased");
    hr::delivered(&tx, first.id, 3, "abc", "f.csv").await.unwrap();
    let (second, new) = hr::queue(&tx, "sftp", Utc::now()).await.unwrap();
    assert!(new);
    assert_eq!(second.since.map(|s| s.timestamp_millis()), Some(t1.timestamp_millis()), "from where the last ended");
    tx.commit().await.unwrap();

    let tx = f.dbs.app.begin(b).await.unwrap();
    assert_eq!(hr::settings(&tx).await.unwrap().target, "", "Riverside's own (none)");
    assert!(hr::exports(&tx, 50).await.unwrap().is_empty());
    assert!(hr::export(&tx, first.id).await.unwrap().is_none());
    assert!(hr::claim_due(&tx, Utc::now() + Duration::days(1), Duration::minutes(1)).await.unwrap().is_none());
    assert!(!hr::retry_now(&tx).await.unwrap());
    assert!(hr::competences(&tx).await.unwrap().is_empty());
    tx.commit().await.unwrap();

    if f.db.backend == Backend::Postgres {
        let tx = crate::support::raw_as(&f, b).await;
        for table in ["hr_exports", "hr_export_settings", "course_competences"] {
            assert_eq!(crate::support::rows_of(&tx, table, a).await, 0, "{table}: Riverside read Northmoor's rows");
        }
        let tried = [
            "UPDATE hr_export_settings SET sftp_host = 'evil.example' WHERE tenant_id = $1",
            "UPDATE hr_exports SET status = 'delivered' WHERE tenant_id = $1",
            "DELETE FROM hr_exports WHERE tenant_id = $1",
        ];
        crate::support::changes_nothing(&tx, a, &tried).await;
        let forged = tx
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "INSERT INTO hr_export_settings (tenant_id, target, updated_at) VALUES ($1, 'sftp', now())",
                [a.as_uuid().into()],
            ))
            .await;
        assert!(forged.is_err(), "a row for another trust is refused");
        tx.rollback().await.unwrap();
    }
}
