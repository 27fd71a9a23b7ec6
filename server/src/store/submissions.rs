//! Storing survey writes (submissions and draft saves) durably and fast: group commit.
//!
//! A submission is acknowledged (the phone shows its receipt and forgets its copy) only after
//! the transaction that stores it has committed, and commits are durable on both engines
//! (SQLite `synchronous = FULL`, PostgreSQL's default `synchronous_commit = on`). A durable commit
//! costs a flush to disk; one writer task therefore takes every submission that is waiting when
//! it is free, stores them all in one transaction, and answers each after that one commit.
//! Under load the batches grow by themselves; a lone submission is written at once.
//!
//! Each submission runs the same statements as on its own, inside the batch's transaction, so
//! the rules keep their exact meaning: the code is claimed with
//! `UPDATE … WHERE used_at IS NULL`, so of several submissions with one code (in one batch or
//! in concurrent transactions) exactly one stores; a retry with the same submission id and
//! content gets the first receipt. If the batch fails as a whole, every submission in it is
//! retried in a transaction of its own, so one bad submission never fails the others.
//!
//! Draft saves (one per screen a respondent moves through, so several per submission) take the
//! same path: each alone would cost a flush of its own and wait for SQLite's one write lock.

use sipas_app::ports::{StoreError, StoreResult};
use sipas_app::survey::response::{Draft, DraftSaved, NewResponse, Receipt, StoreOutcome};
use sipas_stats::quality::DEVICES_COUNTED_AT_MOST;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use sqlx::{AnyConnection, AnyPool};
use tokio::sync::{mpsc, oneshot};

use super::sql::{answers_json, db_error, now_rfc3339};

/// One write the writer task performs.
#[derive(Debug, Clone)]
pub(super) enum Write {
    Submission(NewResponse),
    Draft {
        code_hash: String,
        draft: Draft,
        /// `survey::device::device_hash` of the browser that sent it.
        device: Option<String>,
    },
}

/// What a write came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Written {
    Submission(StoreOutcome),
    Draft(DraftSaved),
}

/// Submissions stored in one transaction at most. Large enough to amortise the flush, small
/// enough that a batch commits in milliseconds.
const MAX_BATCH: usize = 256;

/// Submissions waiting for the writer at most; the server's in-flight bound is below this, so
/// in practice it never fills (and if it did, senders would wait, not fail).
const QUEUE: usize = 1024;

/// What one write came to; `Err(NotFound)` is an unknown (or, for a draft, used) code.
type Outcome = StoreResult<Written>;

struct Pending {
    write: Write,
    reply: oneshot::Sender<Outcome>,
}

/// The handle submissions are sent through; the writer task ends when it is dropped.
#[derive(Clone)]
pub(super) struct GroupCommit {
    queue: mpsc::Sender<Pending>,
}

impl GroupCommit {
    /// Starts the writer task (on the current tokio runtime).
    pub(super) fn start(pool: AnyPool, counted: Arc<CountedDevices>) -> Self {
        let (queue, receiver) = mpsc::channel(QUEUE);
        tokio::spawn(writer(pool, receiver, counted));
        Self { queue }
    }

    /// Performs one write; resolves after the transaction holding it has committed.
    pub(super) async fn write(&self, write: Write) -> Outcome {
        let (reply, answer) = oneshot::channel();
        let pending = Pending { write, reply };
        let stopped = || StoreError::Backend("the submission writer has stopped".to_owned());
        self.queue.send(pending).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn writer(
    pool: AnyPool,
    mut receiver: mpsc::Receiver<Pending>,
    counted: Arc<CountedDevices>,
) {
    let mut batch: Vec<Pending> = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let writes: Vec<&Write> = batch.iter().map(|p| &p.write).collect();
        crate::metrics::METRICS
            .group_commit_batch
            .observe(writes.len() as f64);
        let outcomes = store_batch(&pool, &writes, &counted).await;
        for (pending, outcome) in batch.drain(..).zip(outcomes) {
            // The requester may have gone (timeout, closed connection): the response is
            // stored all the same, and its retry will get the same receipt.
            let _ = pending.reply.send(outcome);
        }
    }
}

/// Performs the writes in one transaction; if that fails, each in its own.
pub(super) async fn store_batch(
    pool: &AnyPool,
    writes: &[&Write],
    counted: &CountedDevices,
) -> Vec<Outcome> {
    match store_together(pool, writes, counted).await {
        Ok(outcomes) => outcomes,
        Err(err) if writes.len() == 1 => vec![Err(err)],
        Err(err) => {
            tracing::warn!(error = %err, size = writes.len(), "batch failed; writing one by one");
            let mut outcomes = Vec::with_capacity(writes.len());
            for write in writes {
                outcomes.push(match store_together(pool, &[write], counted).await {
                    Ok(mut one) => one.pop().unwrap_or(Err(StoreError::NotFound)),
                    Err(err) => Err(err),
                });
            }
            outcomes
        }
    }
}

/// One transaction for all of them; `Err` only when the transaction itself failed.
async fn store_together(
    pool: &AnyPool,
    writes: &[&Write],
    counted: &CountedDevices,
) -> Result<Vec<Outcome>, StoreError> {
    let now = now_rfc3339()?;
    let mut newly_counted = Vec::new();
    let postgres = pool.connect_options().database_url.scheme() != "sqlite";
    let mut tx = super::sql::begin_write(pool).await.map_err(db_error)?;
    let mut outcomes = Vec::with_capacity(writes.len());
    for write in writes {
        outcomes.push(match write {
            Write::Submission(response) => store_one(&mut tx, response, &now)
                .await?
                .map(Written::Submission),
            Write::Draft {
                code_hash,
                draft,
                device,
            } => {
                if let Some(device) = device {
                    let key = CountedDevices::key(code_hash, device);
                    if !counted.contains(key)
                        && count_device(&mut tx, postgres, code_hash, device).await?
                    {
                        newly_counted.push(key);
                    }
                }
                save_draft(&mut tx, code_hash, draft, &now)
                    .await?
                    .map(Written::Draft)
            }
        });
    }
    tx.commit().await.map_err(db_error)?;
    counted.remember(&newly_counted);
    Ok(outcomes)
}

/// The devices this server has counted, as hashes of (code hash, device hash), remembered
/// after their transaction committed: the draft saves from a browser already counted (nine in
/// ten: one per screen) skip the counting statement, which on PostgreSQL would otherwise double
/// the writer's round trips. Only a speed-up: a pair not remembered (another server counted
/// it, a restart, the bound below reached) runs the statement, which counts a device once
/// anyway; a remembered pair whose code's hashes went (its response stored, the sweep) belongs
/// to a code that takes no more drafts.
#[derive(Default)]
pub(super) struct CountedDevices(Mutex<HashSet<u64>>);

impl CountedDevices {
    /// About 1–2 MB of hashes; then it starts again.
    const AT_MOST: usize = 100_000;

    fn key(code_hash: &str, device: &str) -> u64 {
        let mut hasher = std::hash::DefaultHasher::new();
        (code_hash, device).hash(&mut hasher);
        hasher.finish()
    }

    fn contains(&self, key: u64) -> bool {
        self.0.lock().is_ok_and(|keys| keys.contains(&key))
    }

    fn remember(&self, keys: &[u64]) {
        if keys.is_empty() {
            return;
        }
        if let Ok(mut known) = self.0.lock() {
            if known.len() + keys.len() > Self::AT_MOST {
                known.clear();
            }
            known.extend(keys);
        }
    }
}

/// Counts a device for a code that exists and carries no response yet, once, up to
/// `DEVICES_COUNTED_AT_MOST` (a write of its own in the batch's transaction: no flush of its
/// own). Kept even when the draft that came with it is stale: two browsers racing on one code
/// are what the check is for. On PostgreSQL the code's row is share-locked first, skipping it
/// when another transaction holds it for a change (another server storing the code's response,
/// a paper import claiming it, a void): that code is about to take no more answers, so the
/// device is not counted, rather than left behind once the count moved to the response, and the
/// writer never waits on a staff import (hashes a race leaves anyway go in the hourly sweep,
/// `FieldStore::forget_stale_devices`).
/// Returns whether it counted the device now.
async fn count_device(
    conn: &mut AnyConnection,
    postgres: bool,
    code_hash: &str,
    device: &str,
) -> Result<bool, StoreError> {
    // One statement, cheap when the device is known already (nine saves in ten): then no row
    // qualifies, none is locked and nothing is written.
    let lock = if postgres {
        "FOR SHARE OF c SKIP LOCKED"
    } else {
        ""
    };
    let inserted = sqlx::query(&format!(
        "INSERT INTO code_devices (code_hash, device_hash) \
         SELECT c.code_hash, $2 FROM invitation_codes c \
         WHERE c.code_hash = $1 AND c.used_at IS NULL AND c.voided_at IS NULL \
         AND NOT EXISTS (SELECT 1 FROM code_devices d \
           WHERE d.code_hash = $1 AND d.device_hash = $2) \
         AND (SELECT COUNT(*) FROM code_devices d WHERE d.code_hash = $1) < $3 {lock} \
         ON CONFLICT (code_hash, device_hash) DO NOTHING"
    ))
    .bind(code_hash)
    .bind(device)
    .bind(DEVICES_COUNTED_AT_MOST)
    .execute(&mut *conn)
    .await
    .map_err(db_error)?;
    Ok(inserted.rows_affected() == 1)
}

/// Drops a code's device hashes (its response is stored, on the web or from paper, or it can no
/// longer take one); how many there were.
pub(super) async fn forget_devices(
    conn: &mut AnyConnection,
    code_hash: &str,
) -> Result<u64, StoreError> {
    Ok(sqlx::query("DELETE FROM code_devices WHERE code_hash = $1")
        .bind(code_hash)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?
        .rows_affected())
}

/// Keeps a draft, only for a code that exists and carries no response yet (a late autosave must
/// not resurrect a draft after submission), and only when newer than the stored draft: one
/// conditional upsert, so two saves racing cannot both win and an older one never lands.
async fn save_draft(
    conn: &mut AnyConnection,
    code_hash: &str,
    draft: &Draft,
    now: &str,
) -> Result<StoreResult<DraftSaved>, StoreError> {
    let revision = i64::try_from(draft.revision).unwrap_or(i64::MAX);
    let result = sqlx::query(
        "INSERT INTO survey_drafts (code_hash, answers, step, started_at, updated_at, revision) \
         SELECT code_hash, $2, $3, $4, $5, $6 FROM invitation_codes \
         WHERE code_hash = $1 AND used_at IS NULL AND voided_at IS NULL \
         ON CONFLICT (code_hash) DO UPDATE SET answers = excluded.answers, \
         step = excluded.step, updated_at = excluded.updated_at, revision = excluded.revision \
         WHERE survey_drafts.revision < excluded.revision",
    )
    .bind(code_hash)
    .bind(answers_json(&draft.answers)?)
    .bind(i64::from(draft.step))
    .bind(&draft.started_at)
    .bind(now)
    .bind(revision)
    .execute(&mut *conn)
    .await
    .map_err(db_error)?;
    if result.rows_affected() > 0 {
        return Ok(Ok(DraftSaved::Saved));
    }
    // Nothing written: an unknown or used code, or a draft at least as new is stored.
    #[derive(sqlx::FromRow)]
    struct Current {
        used_at: Option<String>,
        revision: Option<i64>,
    }
    let current = sqlx::query_as::<_, Current>(
        "SELECT c.used_at, d.revision FROM invitation_codes c \
         LEFT JOIN survey_drafts d ON d.code_hash = c.code_hash WHERE c.code_hash = $1",
    )
    .bind(code_hash)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_error)?;
    Ok(match current {
        Some(Current {
            used_at: None,
            revision: Some(stored),
        }) => Ok(DraftSaved::Stale {
            current_revision: u64::try_from(stored).unwrap_or(0),
        }),
        _ => Err(StoreError::NotFound),
    })
}

/// Seconds from the first page to the submission, when the start is known.
fn duration_secs(started_at: Option<&str>, submitted_at: &str) -> Option<i64> {
    use time::format_description::well_known::Rfc3339;
    let start = time::OffsetDateTime::parse(started_at?, &Rfc3339).ok()?;
    let end = time::OffsetDateTime::parse(submitted_at, &Rfc3339).ok()?;
    let seconds = (end - start).whole_seconds();
    (seconds >= 0).then_some(seconds)
}

/// The civil date in Vietnam (UTC+7, no daylight saving) of an RFC 3339 time.
pub(super) fn vietnam_date(at: &str) -> Option<String> {
    use time::format_description::well_known::Rfc3339;
    let offset = time::UtcOffset::from_hms(7, 0, 0).ok()?;
    let date = time::OffsetDateTime::parse(at, &Rfc3339)
        .ok()?
        .to_offset(offset)
        .date();
    Some(format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    ))
}

async fn store_one(
    conn: &mut AnyConnection,
    response: &NewResponse,
    submitted_at: &str,
) -> Result<StoreResult<StoreOutcome>, StoreError> {
    // The first statement writes, so SQLite takes its write lock here and PostgreSQL locks the
    // code's row: a concurrent transaction (or an earlier submission of this batch) that
    // claimed the code leaves `used_at` set, and this one falls through to the checks below.
    let claimed = sqlx::query(
        // A voided code, or one of a wave closed by hand, takes no response (`NotFound`).
        "UPDATE invitation_codes SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL \
         AND voided_at IS NULL \
         AND wave_code IN (SELECT code FROM waves WHERE closed_at IS NULL)",
    )
    .bind(submitted_at)
    .bind(&response.code_hash)
    .execute(&mut *conn)
    .await
    .map_err(db_error)?
    .rows_affected();
    if claimed == 1 {
        // The devices that saved drafts, and the submitting one if it is new (within the
        // bound), in one statement: the count moves to the response and the code's hashes go
        // (kept no longer than the check needs).
        let earlier: Vec<String> = sqlx::query_scalar(
            "DELETE FROM code_devices WHERE code_hash = $1 RETURNING device_hash",
        )
        .bind(&response.code_hash)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_error)?;
        let submitting = response
            .device
            .as_ref()
            .is_some_and(|device| !earlier.contains(device));
        let counted = i64::try_from(earlier.len())
            .unwrap_or(i64::MAX)
            .saturating_add(i64::from(submitting))
            .min(DEVICES_COUNTED_AT_MOST);
        // None seen (a browser refusing cookies, a client of the API without them): unknown.
        let devices = (counted > 0).then_some(counted);
        sqlx::query(
            "INSERT INTO responses (receipt, submission_id, code_hash, wave_code, geography, \
             province_code, stratum, psu, sample_kind, questionnaire_code, \
             questionnaire_version, answers, content_hash, language, mode, started_at, \
             submitted_at, channel, duration_secs, submitted_on, export_id, answered_items, \
             no_answer_items, straight_line, devices) \
             SELECT $1, $2, code_hash, wave_code, geography, province_code, stratum, psu, \
             sample_kind, $3, $4, $5, $6, $7, $8, $9, $10, $12, $13, $14, $15, $16, $17, $18, \
             $19 FROM invitation_codes WHERE code_hash = $11",
        )
        .bind(&response.receipt)
        .bind(&response.submission_id)
        .bind(&response.questionnaire.code)
        .bind(i64::from(response.questionnaire.version))
        .bind(answers_json(&response.answers)?)
        .bind(&response.content_hash)
        .bind(&response.language)
        .bind(response.channel.mode().key())
        .bind(response.started_at.as_deref())
        .bind(submitted_at)
        .bind(&response.code_hash)
        .bind(response.channel.key())
        .bind(duration_secs(response.started_at.as_deref(), submitted_at))
        .bind(vietnam_date(submitted_at))
        .bind(super::sql::random_id()?)
        .bind(response.measures.answered_items)
        .bind(response.measures.no_answer_items)
        .bind(response.measures.straight_line)
        .bind(devices)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
        super::quality::mark_twins(conn, &response.receipt).await?;
        return Ok(Ok(StoreOutcome::Stored(Receipt {
            number: response.receipt.clone(),
            submitted_at: submitted_at.to_owned(),
        })));
    }
    #[derive(sqlx::FromRow)]
    struct Existing {
        submission_id: String,
        content_hash: String,
        receipt: String,
        submitted_at: String,
    }
    let existing = sqlx::query_as::<_, Existing>(
        "SELECT submission_id, content_hash, receipt, submitted_at FROM responses \
         WHERE code_hash = $1",
    )
    .bind(&response.code_hash)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_error)?;
    Ok(match existing {
        Some(stored)
            if stored.submission_id == response.submission_id
                && stored.content_hash == response.content_hash =>
        {
            Ok(StoreOutcome::Repeated(Receipt {
                number: stored.receipt,
                submitted_at: stored.submitted_at,
            }))
        }
        Some(_) => Ok(StoreOutcome::CodeUsed),
        None => {
            // Unknown code, or a code marked used without a response (not made by us).
            let known: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM invitation_codes WHERE code_hash = $1")
                    .bind(&response.code_hash)
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(db_error)?;
            if known > 0 {
                Ok(StoreOutcome::CodeUsed)
            } else {
                Err(StoreError::NotFound)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used)]
    use sipas_app::domain::{Geography, QuestionnaireRef, SampleKind, SamplePoint};
    use sipas_app::ports::Store;
    use sipas_app::survey::response::Channel;

    use super::*;

    fn response(code_hash: &str, receipt: &str, submission_id: &str) -> NewResponse {
        NewResponse {
            receipt: receipt.into(),
            submission_id: submission_id.into(),
            code_hash: code_hash.into(),
            questionnaire: QuestionnaireRef {
                code: "sipas-2023".into(),
                version: 1,
            },
            answers: [("used_service".to_owned(), 1)].into_iter().collect(),
            content_hash: "c".repeat(64),
            language: "vi".into(),
            channel: Channel::Online,
            started_at: None,
            measures: Default::default(),
            device: None,
        }
    }

    /// One batch holding a submission that breaks a unique key: the batch's transaction fails,
    /// and the fallback stores the others one by one; the breaking one fails alone and leaves
    /// its code unused.
    #[tokio::test]
    async fn a_failing_submission_fails_alone_in_its_batch() {
        let dir = tempfile::tempdir().expect("dir");
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = crate::store::open(&url, &Default::default())
            .await
            .expect("open");
        crate::services::demo::seed(&store).await.expect("seed");
        let hashes: Vec<String> = (0..3).map(|i| format!("{i:064}")).collect();
        let sample = SamplePoint {
            wave_code: "sipas-2026-demo".into(),
            geography: Geography::G2025,
            province_code: "79".into(),
            stratum: "79-urban".into(),
            psu: "p1".into(),
        };
        store
            .add_invitations(&sample, SampleKind::Probability, "t", &hashes)
            .await
            .expect("codes");
        let first = response(&hashes[0], "AAAA-AAAA-AAAA", "submission-0000000001");
        // Reuses the first one's submission id on another code: a unique-key breach.
        let clash = response(&hashes[1], "BBBB-BBBB-BBBB", "submission-0000000001");
        let mut third = response(&hashes[2], "CCCC-CCCC-CCCC", "submission-0000000003");
        third.device = Some("b".repeat(64));
        // A draft save in the same batch, for the third code, before its submission, from
        // another browser: the response counts two devices, however the batch was written.
        let draft = Write::Draft {
            code_hash: hashes[2].clone(),
            draft: Draft {
                answers: [("used_service".to_owned(), 1)].into_iter().collect(),
                step: 1,
                started_at: "2026-11-28T08:00:00Z".into(),
                revision: 3,
            },
            device: Some("a".repeat(64)),
        };
        // A late save of the first code, after its submission in this batch: not counted.
        let late = Write::Draft {
            code_hash: hashes[0].clone(),
            draft: Draft {
                answers: Default::default(),
                step: 1,
                started_at: "2026-11-28T08:00:00Z".into(),
                revision: 9,
            },
            device: Some("c".repeat(64)),
        };
        // The draft comes before the clash: its device is counted in the batch that rolls
        // back, and must be counted again when it is retried alone.
        let writes = [
            Write::Submission(first),
            draft,
            Write::Submission(clash),
            Write::Submission(third),
            late,
        ];
        let counted = CountedDevices::default();
        let outcomes =
            store_batch(store.pool(), &writes.iter().collect::<Vec<_>>(), &counted).await;
        let stored = |outcome: &Outcome, number: &str| matches!(outcome, Ok(Written::Submission(StoreOutcome::Stored(r))) if r.number == number);
        assert!(stored(&outcomes[0], "AAAA-AAAA-AAAA"), "{:?}", outcomes[0]);
        assert!(matches!(outcomes[1], Ok(Written::Draft(DraftSaved::Saved))));
        assert!(
            matches!(&outcomes[2], Err(StoreError::Conflict(_))),
            "{:?}",
            outcomes[2]
        );
        assert!(stored(&outcomes[3], "CCCC-CCCC-CCCC"), "{:?}", outcomes[3]);
        assert!(
            matches!(outcomes[4], Err(StoreError::NotFound)),
            "{:?}",
            outcomes[4]
        );
        let devices: Vec<(String, Option<i64>)> =
            sqlx::query_as("SELECT code_hash, devices FROM responses ORDER BY code_hash")
                .fetch_all(store.pool())
                .await
                .expect("devices");
        assert_eq!(
            devices,
            vec![(hashes[0].clone(), None), (hashes[2].clone(), Some(2))]
        );
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM code_devices")
            .fetch_one(store.pool())
            .await
            .expect("left");
        assert_eq!(left, 0, "moved to the responses, the late one never kept");
        let kept = store.draft(&hashes[2]).await.expect("draft");
        assert_eq!(kept.map(|d| d.revision), Some(3));
        assert!(!store.invitation(&hashes[1]).await.expect("code").used);
        assert_eq!(
            store
                .responses("sipas-2026-demo")
                .await
                .expect("rows")
                .len(),
            2
        );
    }
}
