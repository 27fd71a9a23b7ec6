//! Storing submissions durably and fast: group commit.
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

use sipas_app::ports::{StoreError, StoreResult};
use sipas_app::survey::response::{NewResponse, Receipt, StoreOutcome};
use sqlx::{AnyConnection, AnyPool};
use tokio::sync::{mpsc, oneshot};

use super::sql::{answers_json, db_error, now_rfc3339};

/// Submissions stored in one transaction at most. Large enough to amortise the flush, small
/// enough that a batch commits in milliseconds.
const MAX_BATCH: usize = 256;

/// Submissions waiting for the writer at most; the server's in-flight bound is below this, so
/// in practice it never fills (and if it did, senders would wait, not fail).
const QUEUE: usize = 1024;

/// What one submission came to; `Err(NotFound)` is an unknown code.
type Outcome = StoreResult<StoreOutcome>;

struct Pending {
    response: NewResponse,
    reply: oneshot::Sender<Outcome>,
}

/// The handle submissions are sent through; the writer task ends when it is dropped.
#[derive(Clone)]
pub(super) struct GroupCommit {
    queue: mpsc::Sender<Pending>,
}

impl GroupCommit {
    /// Starts the writer task (on the current tokio runtime).
    pub(super) fn start(pool: AnyPool) -> Self {
        let (queue, receiver) = mpsc::channel(QUEUE);
        tokio::spawn(writer(pool, receiver));
        Self { queue }
    }

    /// Stores one submission; resolves after the transaction holding it has committed.
    pub(super) async fn store(&self, response: &NewResponse) -> Outcome {
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            response: response.clone(),
            reply,
        };
        let stopped = || StoreError::Backend("the submission writer has stopped".to_owned());
        self.queue.send(pending).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn writer(pool: AnyPool, mut receiver: mpsc::Receiver<Pending>) {
    let mut batch: Vec<Pending> = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let responses: Vec<&NewResponse> = batch.iter().map(|p| &p.response).collect();
        let outcomes = store_batch(&pool, &responses).await;
        for (pending, outcome) in batch.drain(..).zip(outcomes) {
            // The requester may have gone (timeout, closed connection): the response is
            // stored all the same, and its retry will get the same receipt.
            let _ = pending.reply.send(outcome);
        }
    }
}

/// Stores the submissions in one transaction; if that fails, each in its own.
pub(super) async fn store_batch(pool: &AnyPool, responses: &[&NewResponse]) -> Vec<Outcome> {
    match store_together(pool, responses).await {
        Ok(outcomes) => outcomes,
        Err(err) if responses.len() == 1 => vec![Err(err)],
        Err(err) => {
            tracing::warn!(error = %err, size = responses.len(), "batch failed; storing one by one");
            let mut outcomes = Vec::with_capacity(responses.len());
            for response in responses {
                outcomes.push(match store_together(pool, &[response]).await {
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
    responses: &[&NewResponse],
) -> Result<Vec<Outcome>, StoreError> {
    let submitted_at = now_rfc3339()?;
    let mut tx = pool.begin().await.map_err(db_error)?;
    let mut outcomes = Vec::with_capacity(responses.len());
    for response in responses {
        outcomes.push(store_one(&mut tx, response, &submitted_at).await?);
    }
    tx.commit().await.map_err(db_error)?;
    Ok(outcomes)
}

async fn store_one(
    conn: &mut AnyConnection,
    response: &NewResponse,
    submitted_at: &str,
) -> Result<Outcome, StoreError> {
    // The first statement writes, so SQLite takes its write lock here and PostgreSQL locks the
    // code's row: a concurrent transaction (or an earlier submission of this batch) that
    // claimed the code leaves `used_at` set, and this one falls through to the checks below.
    let claimed = sqlx::query(
        "UPDATE invitation_codes SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL",
    )
    .bind(submitted_at)
    .bind(&response.code_hash)
    .execute(&mut *conn)
    .await
    .map_err(db_error)?
    .rows_affected();
    if claimed == 1 {
        sqlx::query(
            "INSERT INTO responses (receipt, submission_id, code_hash, wave_code, geography, \
             province_code, stratum, psu, sample_kind, questionnaire_code, \
             questionnaire_version, answers, content_hash, language, mode, started_at, \
             submitted_at) \
             SELECT $1, $2, code_hash, wave_code, geography, province_code, stratum, psu, \
             sample_kind, $3, $4, $5, $6, $7, $8, $9, $10 \
             FROM invitation_codes WHERE code_hash = $11",
        )
        .bind(&response.receipt)
        .bind(&response.submission_id)
        .bind(&response.questionnaire.code)
        .bind(i64::from(response.questionnaire.version))
        .bind(answers_json(&response.answers)?)
        .bind(&response.content_hash)
        .bind(&response.language)
        .bind(response.mode.key())
        .bind(response.started_at.as_deref())
        .bind(submitted_at)
        .bind(&response.code_hash)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
        return Ok(Ok(StoreOutcome::Stored(Receipt {
            number: response.receipt.clone(),
            submitted_at: submitted_at.to_owned(),
        })));
    }
    let existing = sqlx::query_as::<_, (String, String, String, String)>(
        "SELECT submission_id, content_hash, receipt, submitted_at FROM responses \
         WHERE code_hash = $1",
    )
    .bind(&response.code_hash)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_error)?;
    Ok(match existing {
        Some((submission_id, content_hash, number, submitted_at))
            if submission_id == response.submission_id && content_hash == response.content_hash =>
        {
            Ok(StoreOutcome::Repeated(Receipt {
                number,
                submitted_at,
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
