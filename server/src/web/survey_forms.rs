//! The survey without JavaScript: every screen is a plain form, posted here and answered with a
//! redirect (post/redirect/get), so reloading never posts twice and the page the respondent
//! lands on is an ordinary Leptos page (`/s/{code}?step=N&check=1` shows the problems beside
//! their questions). The hydrated page uses the server functions instead; both go through
//! `sipas_app::survey::service`.

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use sipas_app::domain::{SampleKind, SamplePoint};
use sipas_app::error::AppError;

use sipas_app::ports::StoreError;
use sipas_app::survey::codes::InvitationCode;
use sipas_app::survey::flow;
use sipas_app::survey::response::{Channel, DraftSaved, SubmitReply, SubmitRequest};
use sipas_app::survey::service::{self, Entry};

use crate::web::AppState;

/// A path segment made only of characters a code can contain (nothing to inject).
fn page_for(raw_code: &str) -> String {
    let cleaned: String = raw_code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-*~$=".contains(*c))
        .take(40)
        .collect();
    match InvitationCode::parse(&cleaned) {
        Ok(code) => format!("/s/{}", code.as_str()),
        Err(_) if cleaned.is_empty() => "/s".to_owned(),
        Err(_) => format!("/s/{cleaned}"),
    }
}

/// Form posts must come from our own pages: a browser names the page's origin, and it must be
/// ours (the configured public origin behind a proxy, else this host). The code in the address
/// is the only credential, but a forged post should not even get to try one.
pub fn same_origin(headers: &HeaderMap, public_origin: Option<&str>) -> bool {
    crate::staff::auth::same_origin(headers, public_origin)
}

fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "The service is temporarily unavailable. Please go back and try again. \
         / Hệ thống tạm thời gián đoạn, vui lòng quay lại và thử lại.",
    )
        .into_response()
}

fn forbidden() -> Response {
    (StatusCode::FORBIDDEN, "cross-site form posts are refused").into_response()
}

#[derive(Deserialize)]
pub struct CodeQuery {
    #[serde(default)]
    code: String,
}

/// `GET /s/go?code=…`: the code typed on `/s`, tidied into its page address. Kept for old
/// bookmarks and pages; the form posts instead, so codes stay out of history and proxy logs.
pub async fn go(Query(query): Query<CodeQuery>) -> Redirect {
    Redirect::to(&page_for(&query.code))
}

/// `POST /s/go` (`code=…`): the code typed on `/s`, tidied into its page address.
pub async fn go_posted(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<CodeQuery>,
) -> Response {
    if !same_origin(&headers, state.public_origin.as_deref()) {
        return forbidden();
    }
    Redirect::to(&page_for(&form.code)).into_response()
}

/// `POST /s/{code}`: one section's answers, and where to go next (`nav`: back, next, submit).
pub async fn post_section(
    State(state): State<AppState>,
    Path(raw_code): Path<String>,
    headers: HeaderMap,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    if !same_origin(&headers, state.public_origin.as_deref()) {
        return forbidden();
    }
    let page = page_for(&raw_code);
    let store = state.store.as_ref();
    let opened = match service::open(store, &raw_code).await {
        Ok(Entry::Found(opened)) => opened,
        Ok(Entry::Unknown | Entry::Closed) => return Redirect::to(&page).into_response(),
        Err(_) => return unavailable(),
    };
    let field = |name: &str| {
        fields
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    let nav = field("nav").unwrap_or("next");
    let q = &opened.questionnaire;
    // The browser's device id, if it keeps the cookie the edge set (`web::device`).
    let device = sipas_app::survey::device::from_headers(&headers);
    let earlier = match store.draft(&opened.code_hash).await {
        Ok(draft) => draft,
        Err(err) => {
            tracing::error!(error = %err, "reading a draft failed");
            return unavailable();
        }
    };
    let mut answers = earlier
        .as_ref()
        .map(|d| d.answers.clone())
        .unwrap_or_default();
    let step = flow::settle_step(q, &answers, field("step").and_then(|s| s.parse().ok()));
    // Values that are not choices can only come from a tampered form; they are dropped and the
    // question is asked again.
    let _ = flow::apply_section(
        q,
        step,
        &mut answers,
        fields.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    );
    let started_at = field("started_at");
    let used = opened.invitation.used;
    // Where the respondent goes: a screen (with its problems shown or not), or submission.
    let destination = match (nav, flow::next_section(q, &answers, step)) {
        _ if used && nav != "submit" => return Redirect::to(&page).into_response(),
        ("back", _) => Some((
            flow::previous_section(q, &answers, step).unwrap_or(step),
            false,
        )),
        ("next", Some(next)) if flow::section_errors(q, step, &answers).is_empty() => {
            Some((next, false))
        }
        ("next", Some(_)) => Some((step, true)),
        _ => None,
    };
    if !used {
        // The draft remembers the screen the respondent is sent to, for resuming.
        let resume_at = destination.map_or(step, |(to, _)| to);
        let resume_at = u32::try_from(resume_at).unwrap_or(0);
        let start = service::start_time(earlier.as_ref(), started_at);
        // No revision comes with a form post: the merged draft is the stored one + 1. If a newer
        // save landed in between (another tab or device), it wins, and the respondent is shown
        // this screen again with those answers rather than moving on as if this post was kept.
        let revision = service::next_revision(earlier.as_ref());
        let saved = service::keep_draft(
            store,
            &opened,
            answers.clone(),
            resume_at,
            start,
            revision,
            device,
        );
        match saved.await {
            Ok(DraftSaved::Saved) => {}
            Ok(DraftSaved::Stale { .. }) if destination.is_some() => {
                return Redirect::to(&format!("{page}?step={step}")).into_response();
            }
            Ok(DraftSaved::Stale { .. }) => {}
            // Used in the meantime (a double tap): the submission below sorts it out.
            Err(AppError::NotFound) => {}
            Err(_) => return unavailable(),
        }
    }
    let at = |step: usize, check: bool| {
        let check = if check { "&check=1" } else { "" };
        Redirect::to(&format!("{page}?step={step}{check}")).into_response()
    };
    if let Some((to, check)) = destination {
        return at(to, check);
    }
    let request = SubmitRequest {
        code: opened.code.as_str().to_owned(),
        submission_id: field("submission_id").unwrap_or_default().to_owned(),
        answers,
        language: super::locale(&headers).code().to_owned(),
        started_at: started_at.map(str::to_owned),
        queued: false,
    };
    match service::submit_opened(store, &opened, &request, Channel::Form, device).await {
        Ok(SubmitReply::Accepted(receipt)) => {
            Redirect::to(&format!("/receipt/{}", receipt.number)).into_response()
        }
        Ok(SubmitReply::CodeUsed) => Redirect::to(&page).into_response(),
        Ok(SubmitReply::Incomplete { step, .. }) => at(step as usize, true),
        Err(AppError::Invalid(message)) => (StatusCode::BAD_REQUEST, message).into_response(),
        Err(_) => unavailable(),
    }
}

#[derive(Deserialize)]
pub struct OpenForm {
    #[serde(default)]
    province: String,
}

/// `POST /s/open/{wave}`: the open link. The respondent states the province; a code of the
/// non-probability kind is made for them, and its page is where they answer (and resume).
pub async fn post_open(
    State(state): State<AppState>,
    Path(wave_code): Path<String>,
    headers: HeaderMap,
    Form(form): Form<OpenForm>,
) -> Response {
    if !same_origin(&headers, state.public_origin.as_deref()) {
        return forbidden();
    }
    let store = state.store.as_ref();
    let back = format!(
        "/s/open/{}",
        wave_code
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect::<String>()
    );
    let wave = match store.wave(&wave_code).await {
        Ok(wave) if wave.open_link && wave.questionnaire.is_some() && !wave.closed => wave,
        Ok(_) | Err(StoreError::NotFound) => return Redirect::to(&back).into_response(),
        Err(_) => return unavailable(),
    };
    match store.province(wave.geography, form.province.trim()).await {
        Ok(_) => {}
        Err(StoreError::NotFound) => {
            return Redirect::to(&format!("{back}?missing=province")).into_response();
        }
        Err(_) => return unavailable(),
    }
    if open_link_cap_reached(&state, &wave.code).await {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "600")],
            "This survey link has had many visitors in the last hour. Please try again later. \
             / Đường dẫn khảo sát đã có nhiều lượt truy cập trong giờ qua, vui lòng thử lại sau.",
        )
            .into_response();
    }
    let Ok(mut codes) = crate::services::invitations::generate(1) else {
        return unavailable();
    };
    let Some(code) = codes.pop() else {
        return unavailable();
    };
    let sample = SamplePoint {
        wave_code: wave.code,
        geography: wave.geography,
        province_code: form.province.trim().to_owned(),
        // An open-link respondent has no place in the design: no stratum, no PSU.
        stratum: "open".to_owned(),
        psu: "open".to_owned(),
    };
    let hash = crate::services::invitations::hash(&code);
    // One open-link batch per wave and province, so monitoring lists them apart.
    let batch = format!("open-{}-{}", sample.wave_code, sample.province_code);
    match store
        .add_invitations(&sample, SampleKind::Open, &batch, &[hash])
        .await
    {
        Ok(()) => Redirect::to(&format!("/s/{}", code.as_str())).into_response(),
        Err(_) => unavailable(),
    }
}

/// A wave hands out `open_link_codes_per_hour` open-link codes per hour at most, whoever asks:
/// rate limits per client do not stop many clients, and each code is a row in the database.
async fn open_link_cap_reached(state: &AppState, wave_code: &str) -> bool {
    let cap = state.limits.open_link_codes_per_hour;
    if cap == 0 {
        return false;
    }
    let hour_ago = time::OffsetDateTime::now_utc() - time::Duration::hours(1);
    let Ok(since) = hour_ago.format(&time::format_description::well_known::Rfc3339) else {
        return true;
    };
    match state
        .store
        .codes_issued_since(wave_code, SampleKind::Open, &since)
        .await
    {
        Ok(issued) => issued >= u64::from(cap),
        Err(err) => {
            tracing::error!(error = %err, "counting open-link codes failed");
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_clean_paths() {
        assert_eq!(page_for(""), "/s");
        assert_eq!(page_for("../../etc"), "/s/etc");
        assert_eq!(page_for("abc<script>"), "/s/abcscript");
    }

    #[test]
    fn origin_must_match_host() {
        let mut headers = HeaderMap::new();
        assert!(same_origin(&headers, None));
        headers.insert(header::HOST, "127.0.0.1:3000".parse().expect("header"));
        headers.insert(
            header::ORIGIN,
            "http://127.0.0.1:3000".parse().expect("header"),
        );
        assert!(same_origin(&headers, None));
        headers.insert(
            header::ORIGIN,
            "https://evil.example".parse().expect("header"),
        );
        assert!(!same_origin(&headers, None));
    }
}
