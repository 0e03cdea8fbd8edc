//! SCORM commits, applied in groups.
//!
//! A SCO commits every few seconds while a learner works, so a trust with thousands of learners
//! sends thousands of commits a second. Each is small, and most of its cost is the database's
//! round trips and the disk flush of its transaction. So commits that arrive together are applied
//! together: one transaction per trust takes the attempts' rows (locked), applies each commit in
//! the order it arrived, keeps every commit as sent, writes the attempts back, adds the statements
//! that mirror them in the LRS, and commits once; then each request is answered. Nothing waits to
//! fill a group: a commit that arrives when the database is idle is applied at once, alone, and
//! groups grow only while earlier ones are being written. Every answer is given after its
//! transaction committed, so an acknowledged commit is on disk. If a group fails, its commits are
//! applied one by one, so one bad commit cannot fail another learner's.

use super::{Launch, scorm_outcome, scorm_statements};
use crate::context::AppState;
use crate::context::commit_queue::{Answer, Committer, Job};
use crate::context::directory::Site;
use crate::context::launch_token::Claims;
use crate::error::AppError;
use crate::usecases::learning::record::{Did, record};
use bytes::Bytes;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{Semaphore, oneshot, watch};
use trellis_db::TenantTx;
use trellis_db::elearning::{self as db, Attempt, NewCommit};
use trellis_domain::AttemptId;
use trellis_elearning::cmi::{self, Model};
use trellis_elearning::commit;

/// The most commits applied in one transaction.
const MAX_GROUP: usize = 64;
/// Groups being written at once (each holds a database connection).
const WRITERS: usize = 4;

impl Committer {
    /// Applies a commit: through the group writer if it is running, otherwise at once.
    pub async fn apply(
        &self,
        state: &AppState,
        site: Arc<Site>,
        claims: Claims,
        raw: Bytes,
    ) -> Result<Answer, AppError> {
        let running = self.rx.lock().map(|r| r.is_none()).unwrap_or(false);
        if running {
            let (reply, answer) = oneshot::channel();
            if self.tx.send(Job { site: site.clone(), claims, raw: raw.clone(), reply }).await.is_ok()
                && let Ok(a) = answer.await
            {
                return a;
            }
            // The writer has stopped (the server is shutting down): apply it here.
        }
        let (reply, answer) = oneshot::channel();
        write_group(state, site.entry.id, vec![Job { site, claims, raw, reply }]).await;
        answer.await.unwrap_or_else(|_| Err(AppError::Unavailable("the commit was not applied".into())))
    }

    /// Runs the group writer until `stop` (started once, by the server).
    pub async fn run(state: AppState, mut stop: watch::Receiver<bool>) {
        let Some(mut rx) = state.commits.rx.lock().ok().and_then(|mut r| r.take()) else { return };
        let writers = Arc::new(Semaphore::new(WRITERS));
        loop {
            let first = tokio::select! {
                j = rx.recv() => match j { Some(j) => j, None => return },
                _ = stop.changed() => break,
            };
            // Wait for a writer before taking more: while all are busy, commits gather here.
            let Ok(permit) = writers.clone().acquire_owned().await else { break };
            let mut jobs = vec![first];
            while jobs.len() < MAX_GROUP {
                match rx.try_recv() {
                    Ok(j) => jobs.push(j),
                    Err(_) => break,
                }
            }
            let mut by_trust: HashMap<trellis_domain::TenantId, Vec<Job>> = HashMap::new();
            for j in jobs {
                by_trust.entry(j.site.entry.id).or_default().push(j);
            }
            let groups: Vec<_> = by_trust.into_iter().collect();
            let state = state.clone();
            tokio::spawn(async move {
                for (tenant, jobs) in groups {
                    write_group(&state, tenant, jobs).await;
                }
                drop(permit);
            });
        }
        // Stopping: answer what is queued, one group at a time.
        rx.close();
        while let Some(first) = rx.recv().await {
            let tenant = first.site.entry.id;
            write_group(&state, tenant, vec![first]).await;
        }
    }
}

fn model_of(standard: &str) -> Option<Model> {
    match standard {
        "scorm12" => Some(Model::Scorm12),
        "scorm2004" => Some(Model::Scorm2004),
        _ => None,
    }
}

/// What applying one commit (in memory) produced.
struct Applied {
    answer: Answer,
    commit: NewCommit,
    statements: Vec<Value>,
    /// The learning record needs the attempt's results (changed, finished, or a minute more).
    learning: bool,
}

/// Applies one commit to the attempt held in memory: the SCORM data model's part is
/// `trellis_elearning::commit::apply`; this keeps its outcome on the attempt and makes the
/// statements it calls for.
fn apply_one(site: &Site, a: &mut Attempt, launch: &Launch, claims: &Claims, raw: &[u8]) -> Applied {
    let model = model_of(&launch.standard).unwrap_or(Model::Scorm12);
    let outcome = commit::apply(raw, claims.launch, model, &a.record, launch.mastery_score);
    let mut out = Applied {
        answer: outcome.answer(),
        commit: NewCommit {
            attempt: a.id,
            launch: i32::try_from(claims.launch).unwrap_or(0),
            seq: outcome.seq(),
            payload: String::from_utf8_lossy(raw).into_owned(),
            outcome: outcome.trace(),
        },
        statements: vec![],
        learning: false,
    };
    let commit::Outcome::Applied { before, after, commit, .. } = outcome else { return out };
    if after == before && !commit.finishing {
        return out;
    }
    a.completion = after.completion.as_str().to_owned();
    a.success = after.success.as_str().to_owned();
    a.score_scaled = after.score_scaled;
    a.score_raw = after.score_raw;
    a.score_min = after.score_min;
    a.score_max = after.score_max;
    let recorded_cs = a.total_cs;
    a.total_cs = i64::try_from(after.total_time()).unwrap_or(i64::MAX);
    if commit::done(&after) && a.completed_at.is_none() {
        a.completed_at = Some(chrono::Utc::now());
    }
    if commit::ends(&after, commit.finishing) {
        a.ended_at = Some(chrono::Utc::now());
    }
    a.record = serde_json::to_string(&after).unwrap_or_default();
    out.statements = scorm_statements(site, a, launch, &before, &after, &commit, commit.finishing);
    // The learning record follows results at once, and time on the finishing commit or each
    // minute of it (a commit every few seconds need not rewrite the course's record each time).
    out.learning =
        commit::results_changed(&before, &after) || commit.finishing || a.total_cs / 6000 > recorded_cs / 6000;
    out
}

/// Applies a group of one trust's commits in one transaction and answers each; if the group
/// fails, each commit is applied alone.
async fn write_group(state: &AppState, tenant: trellis_domain::TenantId, jobs: Vec<Job>) {
    if jobs.is_empty() {
        return;
    }
    let single = jobs.len() == 1;
    match try_group(state, tenant, &jobs).await {
        Ok(answers) => {
            for (job, answer) in jobs.into_iter().zip(answers) {
                let _ = job.reply.send(answer);
            }
        }
        Err(e) if single => {
            tracing::error!(error = ?e, "SCORM commit failed");
            for job in jobs {
                let _ = job.reply.send(Err(AppError::Internal(anyhow::anyhow!("the commit could not be stored"))));
            }
        }
        Err(e) => {
            tracing::warn!(error = ?e, commits = jobs.len(), "a group of SCORM commits failed; applying them one by one");
            for job in jobs {
                Box::pin(write_group(state, tenant, vec![job])).await;
            }
        }
    }
}

async fn try_group(
    state: &AppState,
    tenant: trellis_domain::TenantId,
    jobs: &[Job],
) -> anyhow::Result<Vec<Result<Answer, AppError>>> {
    let tx = state.dbs.app.begin(tenant).await?;
    let ids: Vec<AttemptId> = jobs.iter().map(|j| AttemptId::from_uuid(j.claims.attempt)).collect();
    let mut held: HashMap<AttemptId, Attempt> =
        db::attempts_for_update(&tx, &ids).await?.into_iter().map(|a| (a.id, a)).collect();
    let mut answers = Vec::with_capacity(jobs.len());
    let mut commits = Vec::with_capacity(jobs.len());
    let mut statements = Vec::new();
    let mut changed: Vec<AttemptId> = Vec::new();
    let mut learning: Vec<(AttemptId, Arc<Launch>)> = Vec::new();
    for job in jobs {
        let id = AttemptId::from_uuid(job.claims.attempt);
        let Some(a) = held.get_mut(&id) else {
            answers.push(Err(AppError::NotFound));
            continue;
        };
        let Some(launch) = super::launch_cached(state, &tx, a.object).await? else {
            answers.push(Err(AppError::NotFound));
            continue;
        };
        let before = a.clone();
        let applied = apply_one(&job.site, a, &launch, &job.claims, &job.raw);
        if *a != before && !changed.contains(&id) {
            changed.push(id);
        }
        if applied.learning && !learning.iter().any(|(x, _)| *x == id) {
            learning.push((id, launch.clone()));
        }
        statements.extend(applied.statements);
        commits.push(applied.commit);
        answers.push(Ok(applied.answer));
    }
    db::add_commits(&tx, &commits).await?;
    let to_save: Vec<&Attempt> = changed.iter().filter_map(|id| held.get(id)).collect();
    db::save_attempts(&tx, &to_save).await?;
    if let Some(site) = jobs.first().map(|j| j.site.clone())
        && !statements.is_empty()
    {
        super::record_statements(&tx, &statements, &site).await?;
    }
    for (id, launch) in &learning {
        if let (Some(a), Some(site)) = (held.get(id), jobs.first().map(|j| j.site.clone())) {
            let after: cmi::Attempt = serde_json::from_str(&a.record).unwrap_or_default();
            record_learning(state, &tx, &site, a, launch, &after).await?;
        }
    }
    tx.commit().await?;
    Ok(answers)
}

/// Brings an attempt's results and time into the learning record (and the course's completion).
async fn record_learning(
    state: &AppState,
    tx: &TenantTx,
    site: &Site,
    a: &Attempt,
    launch: &Launch,
    after: &cmi::Attempt,
) -> anyhow::Result<()> {
    let Some(e) =
        trellis_db::learning::enrolment(tx, a.person, launch.object.course).await?.filter(|e| e.id == a.enrolment)
    else {
        return Ok(());
    };
    let all = db::attempts(tx, &e, a.object).await?;
    let seconds: i64 = all.iter().map(|x| if x.id == a.id { a.total_cs } else { x.total_cs }).sum::<i64>() / 100;
    let out = scorm_outcome(after, i32::try_from(seconds).unwrap_or(i32::MAX));
    record(state, tx, site, &e, &launch.object, Did::Result(out)).await?;
    Ok(())
}
