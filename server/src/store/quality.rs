//! The quality review in SQL: the flags of `sipas_stats::quality::flags` as a condition the
//! database evaluates (so the counts that weight a computation and its pages of answers leave
//! out the same responses), twins found on arrival, and the reviewers' decisions.

use sipas_app::ports::{StoreError, StoreResult};
use sipas_app::staff::port::AuditOf;
use sipas_app::staff::quality::{
    Decision, LeftOut, NewDecision, PastDecision, QueueRow, ReviewedResponse,
};
use sipas_stats::quality::{Flag, Measures, QualityThresholds};
use sqlx::AnyConnection;

use super::audit::record;
use super::sql::{SqlStore, begin_write, db_error, now_rfc3339, parse_answers};

/// The SQL condition under which `r` (a response) raises `flag` under `t`: the rule of
/// `sipas_stats::quality::flags`, in double precision on both engines as in Rust (a threshold is
/// written as the shortest text that reads back as the same double, then cast), so the two agree
/// to the last bit. NULL measures (responses stored before the checks) raise none; a flag that
/// is off is `1 = 0`.
fn flag_condition(flag: Flag, t: &QualityThresholds) -> String {
    let double = |value: f64| format!("CAST('{value}' AS DOUBLE PRECISION)");
    match flag {
        Flag::Speeding => format!(
            "(r.duration_secs IS NOT NULL AND COALESCE(r.answered_items, 0) > 0 \
             AND r.duration_secs < {} * r.answered_items)",
            double(t.min_seconds_per_item)
        ),
        Flag::StraightLining if t.straight_line_items > 0 => {
            format!("COALESCE(r.straight_line, 0) >= {}", t.straight_line_items)
        }
        Flag::ManyNoAnswers => format!(
            "COALESCE(r.no_answer_items, 0) > {} * (COALESCE(r.answered_items, 0) + \
             COALESCE(r.no_answer_items, 0))",
            double(t.max_no_answer_share)
        ),
        Flag::Duplicate if t.duplicates => "r.duplicate = 1".into(),
        Flag::ManyDevices if t.max_devices > 0 => {
            format!("(r.devices IS NOT NULL AND r.devices > {})", t.max_devices)
        }
        Flag::StraightLining | Flag::Duplicate | Flag::ManyDevices => "1 = 0".into(),
    }
}

/// `r` raises some flag under `t`.
pub(super) fn flagged(t: &QualityThresholds) -> String {
    let any: Vec<String> = Flag::ALL.iter().map(|f| flag_condition(*f, t)).collect();
    format!("({})", any.join(" OR "))
}

/// `r` raises `flag` and no other under `t`.
fn flagged_only(flag: Flag, t: &QualityThresholds) -> String {
    let others: Vec<String> = Flag::ALL
        .iter()
        .filter(|f| **f != flag)
        .map(|f| flag_condition(*f, t))
        .collect();
    format!(
        "({} AND NOT ({}))",
        flag_condition(flag, t),
        others.join(" OR ")
    )
}

/// `r` counts in the indices: every response a reviewer has not excluded. A flagged response
/// nobody has decided on counts too (leaving it out would drop, for instance, the most
/// satisfied respondents until someone looked), but a draft that has any cannot be submitted
/// for approval (`Warning::AwaitingReview`), so a published index rests on decided responses.
pub(super) const COUNTS: &str = "(COALESCE(r.review, '') <> 'excluded')";

/// Marks the new response `receipt` and its twins (the same answers in its wave and commune),
/// in the transaction that stores it.
pub(super) async fn mark_twins(conn: &mut AnyConnection, receipt: &str) -> StoreResult<()> {
    let twins: Option<(String, String, String, i64)> = sqlx::query_as(
        "SELECT n.wave_code, n.psu, n.content_hash, COUNT(*) FROM responses n \
         JOIN responses t ON t.wave_code = n.wave_code AND t.psu = n.psu \
           AND t.content_hash = n.content_hash \
           AND t.sample_kind = 'probability' AND t.answered_items IS NOT NULL \
         WHERE n.receipt = $1 AND n.sample_kind = 'probability' \
         GROUP BY n.wave_code, n.psu, n.content_hash",
    )
    .bind(receipt)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_error)?;
    if let Some((wave, psu, content_hash, count)) = twins
        && count > 1
    {
        sqlx::query(
            "UPDATE responses SET duplicate = 1 WHERE wave_code = $1 AND psu = $2 \
             AND content_hash = $3 AND duplicate = 0 AND sample_kind = 'probability' \
             AND answered_items IS NOT NULL",
        )
        .bind(wave)
        .bind(psu)
        .bind(content_hash)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    }
    Ok(())
}

const QUEUE_COLUMNS: &str = "SELECT r.export_id, r.province_code, r.psu, r.channel, \
     COALESCE(r.submitted_on, '') AS submitted_on, r.duration_secs, r.answered_items, \
     r.no_answer_items, r.straight_line, r.duplicate, r.devices, r.review, r.review_reason FROM responses r";

#[derive(sqlx::FromRow)]
struct Row {
    export_id: String,
    province_code: String,
    psu: String,
    channel: String,
    submitted_on: String,
    duration_secs: Option<i64>,
    answered_items: Option<i64>,
    no_answer_items: Option<i64>,
    straight_line: Option<i64>,
    duplicate: i64,
    devices: Option<i64>,
    review: Option<String>,
    review_reason: Option<String>,
}

impl Row {
    fn into_queue_row(self) -> StoreResult<QueueRow> {
        let review = match self.review.as_deref() {
            None => None,
            Some(key) => Some(
                Decision::parse(key)
                    .ok_or_else(|| StoreError::Backend(format!("unknown decision {key:?}")))?,
            ),
        };
        Ok(QueueRow {
            export_id: self.export_id,
            province_code: self.province_code,
            psu: self.psu,
            channel: self.channel,
            submitted_on: self.submitted_on,
            duration_secs: self.duration_secs,
            measures: Measures {
                answered_items: self.answered_items.unwrap_or(0),
                no_answer_items: self.no_answer_items.unwrap_or(0),
                straight_line: self.straight_line.unwrap_or(0),
            },
            duplicate: self.duplicate == 1,
            devices: self.devices,
            review,
            review_reason: self.review_reason,
        })
    }
}

impl SqlStore {
    pub(super) async fn mark_all_twins(&self, wave_code: &str) -> StoreResult<()> {
        // Twins of the wave's measured probability responses not yet marked: read first, so a
        // look at the queue takes SQLite's write lock only when there is something to mark.
        const UNMARKED: &str = "FROM responses WHERE wave_code = $1 AND duplicate = 0 \
             AND sample_kind = 'probability' AND answered_items IS NOT NULL \
             AND EXISTS (SELECT 1 FROM responses t WHERE t.wave_code = responses.wave_code \
               AND t.psu = responses.psu AND t.content_hash = responses.content_hash \
               AND t.receipt <> responses.receipt AND t.sample_kind = 'probability' \
               AND t.answered_items IS NOT NULL)";
        let unmarked: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) {UNMARKED}"))
            .bind(wave_code)
            .fetch_one(self.pool())
            .await
            .map_err(db_error)?;
        if unmarked == 0 {
            return Ok(());
        }
        let mut tx = begin_write(self.pool()).await.map_err(db_error)?;
        sqlx::query(&format!(
            "UPDATE responses SET duplicate = 1 WHERE receipt IN (SELECT receipt {UNMARKED})"
        ))
        .bind(wave_code)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)
    }

    pub(super) async fn queue(
        &self,
        wave_code: &str,
        t: &QualityThresholds,
        province: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<QueueRow>> {
        let sql = format!(
            "{QUEUE_COLUMNS} WHERE r.wave_code = $1 AND ($2 = '' OR r.province_code = $2) \
             AND r.sample_kind = 'probability' AND (r.review IS NOT NULL OR {}) \
             ORDER BY CASE WHEN r.review IS NULL THEN 0 ELSE 1 END, r.province_code, r.psu, \
             r.export_id LIMIT $3",
            flagged(t)
        );
        sqlx::query_as::<_, Row>(&sql)
            .bind(wave_code)
            .bind(super::field::province_param(province))
            .bind(i64::from(limit.clamp(1, 10_000)))
            .fetch_all(self.pool())
            .await
            .map_err(db_error)?
            .into_iter()
            .map(Row::into_queue_row)
            .collect()
    }

    pub(super) async fn reviewed(
        &self,
        wave_code: &str,
        export_id: &str,
    ) -> StoreResult<ReviewedResponse> {
        let row = sqlx::query_as::<_, Row>(&format!(
            "{QUEUE_COLUMNS} WHERE r.wave_code = $1 AND r.export_id = $2"
        ))
        .bind(wave_code)
        .bind(export_id)
        .fetch_optional(self.pool())
        .await
        .map_err(db_error)?
        .ok_or(StoreError::NotFound)?;
        let answers: String =
            sqlx::query_scalar("SELECT answers FROM responses WHERE export_id = $1")
                .bind(export_id)
                .fetch_one(self.pool())
                .await
                .map_err(db_error)?;
        let history = sqlx::query_as::<_, (String, String, String, String, String)>(
            "SELECT v.decision, v.reason, v.note, s.username, v.decided_at \
             FROM response_reviews v JOIN responses r ON r.receipt = v.receipt \
             JOIN staff_users s ON s.id = v.decided_by \
             WHERE r.export_id = $1 ORDER BY v.id",
        )
        .bind(export_id)
        .fetch_all(self.pool())
        .await
        .map_err(db_error)?
        .into_iter()
        .map(|(decision, reason, note, by, at)| {
            Ok(PastDecision {
                decision: Decision::parse(&decision)
                    .ok_or_else(|| StoreError::Backend(format!("unknown decision {decision:?}")))?,
                reason,
                note,
                by,
                at,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
        Ok(ReviewedResponse {
            row: row.into_queue_row()?,
            answers: parse_answers(&answers)?,
            history,
        })
    }

    pub(super) async fn record_decision(
        &self,
        wave_code: &str,
        export_id: &str,
        decision: &NewDecision,
        audit: &AuditOf<'_, QueueRow>,
    ) -> StoreResult<()> {
        let now = now_rfc3339()?;
        let mut tx = begin_write(self.pool()).await.map_err(db_error)?;
        // The response's row first: on PostgreSQL its lock orders two reviewers' decisions, so
        // the latest in the history is the one the response carries.
        let updated = sqlx::query(
            "UPDATE responses SET review = $1, review_reason = $2 \
             WHERE wave_code = $3 AND export_id = $4",
        )
        .bind(decision.decision.key())
        .bind(&decision.reason)
        .bind(wave_code)
        .bind(export_id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        if updated != 1 {
            return Err(StoreError::NotFound);
        }
        sqlx::query(
            "INSERT INTO response_reviews (receipt, decision, reason, note, decided_by, \
             decided_at) SELECT receipt, $1, $2, $3, $4, $5 FROM responses WHERE export_id = $6",
        )
        .bind(decision.decision.key())
        .bind(&decision.reason)
        .bind(&decision.note)
        .bind(decision.by)
        .bind(&now)
        .bind(export_id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        let row = sqlx::query_as::<_, Row>(&format!("{QUEUE_COLUMNS} WHERE r.export_id = $1"))
            .bind(export_id)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_error)?
            .into_queue_row()?;
        record(&mut tx, &audit(&row)).await?;
        tx.commit().await.map_err(db_error)
    }

    /// The latest decision on any response of the wave (0: none): a draft remembers it, so
    /// a decision taken after the draft was computed is seen at submission.
    pub(super) async fn last_decision(&self, wave_code: &str) -> StoreResult<i64> {
        let last: Option<i64> = sqlx::query_scalar(
            "SELECT MAX(v.id) FROM response_reviews v JOIN responses r ON r.receipt = v.receipt \
             WHERE r.wave_code = $1",
        )
        .bind(wave_code)
        .fetch_one(self.pool())
        .await
        .map_err(db_error)?;
        Ok(last.unwrap_or(0))
    }

    /// Per province: the excluded responses by the reviewer's reason, and the flagged ones
    /// nobody has decided on (reason `awaiting_review`), of the probability sample.
    pub(super) async fn review_summary(
        &self,
        wave_code: &str,
        t: &QualityThresholds,
    ) -> StoreResult<Vec<LeftOut>> {
        let sql = format!(
            "SELECT r.province_code, CASE WHEN r.review = 'excluded' \
               THEN COALESCE(r.review_reason, 'other') ELSE 'awaiting_review' END AS reason, \
             COUNT(*) AS n FROM responses r \
             WHERE r.wave_code = $1 AND r.sample_kind = 'probability' \
               AND (r.review = 'excluded' OR (r.review IS NULL AND {})) \
             GROUP BY r.province_code, reason ORDER BY r.province_code, reason",
            flagged(t)
        );
        Ok(sqlx::query_as::<_, (String, String, i64)>(&sql)
            .bind(wave_code)
            .fetch_all(self.pool())
            .await
            .map_err(db_error)?
            .into_iter()
            .map(|(province, reason, count)| LeftOut {
                province,
                reason,
                count,
            })
            .collect())
    }

    /// Approves or excludes at once every undecided probability response of the wave (one
    /// province's) that raises `flag` and no other under `t`; returns how many.
    pub(super) async fn decide_all(
        &self,
        wave_code: &str,
        province: Option<&str>,
        flag: Flag,
        t: &QualityThresholds,
        decision: &NewDecision,
        audit: &AuditOf<'_, i64>,
    ) -> StoreResult<i64> {
        let now = now_rfc3339()?;
        let which = format!(
            "FROM responses r WHERE r.wave_code = $1 AND ($2 = '' OR r.province_code = $2) \
             AND r.sample_kind = 'probability' AND r.review IS NULL AND {}",
            flagged_only(flag, t)
        );
        let mut tx = begin_write(self.pool()).await.map_err(db_error)?;
        let receipts: Vec<String> = sqlx::query_scalar(&format!("SELECT r.receipt {which}"))
            .bind(wave_code)
            .bind(super::field::province_param(province))
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?;
        let mut count: i64 = 0;
        for receipt in &receipts {
            // Still undecided: on PostgreSQL a reviewer's own decision may have committed since
            // the SELECT, and it is not overwritten.
            let updated = sqlx::query(
                "UPDATE responses SET review = $1, review_reason = $2 \
                 WHERE receipt = $3 AND review IS NULL",
            )
            .bind(decision.decision.key())
            .bind(&decision.reason)
            .bind(receipt)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .rows_affected();
            if updated == 0 {
                continue;
            }
            count += 1;
            sqlx::query(
                "INSERT INTO response_reviews (receipt, decision, reason, note, decided_by, \
                 decided_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(receipt)
            .bind(decision.decision.key())
            .bind(&decision.reason)
            .bind(&decision.note)
            .bind(decision.by)
            .bind(&now)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        if count > 0 {
            record(&mut tx, &audit(&count)).await?;
        }
        tx.commit().await.map_err(db_error)?;
        Ok(count)
    }
}
