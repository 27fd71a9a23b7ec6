//! Group commit keeps each submission's own outcome: many submissions stored at once (so they
//! share transactions) get exactly what they would get one by one, also when one of them breaks
//! a database rule and fails its batch. With and without group commit, on both engines.

use crate::common;

use std::sync::Arc;

use sipas_app::domain::QuestionnaireRef;
use sipas_app::ports::{Store, StoreError};
use sipas_app::survey::codes::{InvitationCode, hash};
use sipas_app::survey::response::{Channel, NewResponse, StoreOutcome};
use sipas_server::store::{self, ConnectOptions};

fn response(code: &str, receipt: String, submission_id: String) -> NewResponse {
    NewResponse {
        receipt,
        submission_id,
        code_hash: hash(&InvitationCode::parse(code).expect("code")),
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

async fn story(url: &str, group_commit: bool) {
    let options = ConnectOptions {
        group_commit,
        ..ConnectOptions::default()
    };
    let opened = Arc::new(store::open(url, &options).await.expect("open"));
    let db: Arc<dyn Store> = opened.clone();
    let mut codes = common::seed_codes(db.as_ref(), opened.as_ref(), 61).await;
    let clash_code = codes.pop().expect("61 codes");
    // 60 distinct good submissions, their 60 retries, one that reuses a submission id on another
    // code (a unique-key breach: it fails its batch), and one with an unknown code.
    let mut submissions: Vec<(usize, NewResponse)> = Vec::new();
    for (i, code) in codes.iter().enumerate() {
        let good = response(
            code,
            format!("R{i:04}-AAAA-BBBB"),
            format!("submission-{i:08}"),
        );
        submissions.push((i, good.clone()));
        let mut retry = good;
        retry.receipt = format!("X{i:04}-AAAA-BBBB"); // a retry draws a fresh number
        submissions.push((i, retry));
    }
    // The submission whose id the clash reuses is stored first, so the clash is the one refused.
    let first = db.store_response(&submissions[2].1).await.expect("first");
    assert!(matches!(first, StoreOutcome::Stored(_)));
    let clash = response(
        &clash_code,
        "CLASH-AAAA-BBBB".into(),
        "submission-00000001".into(),
    );
    let unknown = response(
        InvitationCode::from_random([7; 10]).as_str(),
        "UNKN-AAAA-BBBB".into(),
        "submission-unknown-01".into(),
    );
    let tasks: Vec<_> = submissions
        .into_iter()
        .map(|(i, r)| {
            let db = db.clone();
            tokio::spawn(async move { (Some(i), db.store_response(&r).await) })
        })
        .chain([clash, unknown].into_iter().map(|r| {
            let db = db.clone();
            tokio::spawn(async move { (None, db.store_response(&r).await) })
        }))
        .collect();
    let mut receipts: Vec<Vec<String>> = vec![Vec::new(); codes.len()];
    let mut refused = 0;
    for task in tasks {
        match task.await.expect("task") {
            (Some(i), Ok(StoreOutcome::Stored(r) | StoreOutcome::Repeated(r))) => {
                receipts[i].push(r.number)
            }
            (Some(i), other) => panic!("submission {i}: {other:?}"),
            (None, Err(StoreError::NotFound | StoreError::Conflict(_))) => refused += 1,
            (None, other) => panic!("a broken submission was stored: {other:?}"),
        }
    }
    assert_eq!(refused, 2);
    for (i, numbers) in receipts.iter().enumerate() {
        assert_eq!(
            numbers.len(),
            2,
            "code {i}: the submission and its retry answered"
        );
        assert_eq!(
            numbers[0], numbers[1],
            "code {i}: the retry got the first receipt"
        );
    }
    let stored = db.responses("sipas-2026-demo").await.expect("responses");
    assert_eq!(stored.len(), codes.len(), "one response per code, no more");
    let clash_hash = hash(&InvitationCode::parse(&clash_code).expect("code"));
    let clash_invitation = db.invitation(&clash_hash).await.expect("clash code");
    assert!(
        !clash_invitation.used,
        "the refused submission left its code unused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_group_commit_keeps_each_outcome() {
    for group_commit in [true, false] {
        let db = common::sqlite_db();
        story(&db.url, group_commit).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_group_commit_keeps_each_outcome() {
    for group_commit in [true, false] {
        let Some((url, name)) = common::postgres_db().await else {
            return;
        };
        story(&url, group_commit).await;
        common::drop_postgres_db(&name).await;
    }
}
