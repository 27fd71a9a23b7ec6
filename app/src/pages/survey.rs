//! The citizen survey: `/s` (type a code), `/s/{code}` (the questionnaire, one section per
//! screen) and `/receipt/{number}`.
//!
//! Every screen is a plain HTML form that the server handles (`POST /s/{code}`, see the server's
//! `survey_forms`), so the whole survey works with JavaScript off. Once hydrated, the same form is
//! handled in the browser: sections change without a round trip, rules show and hide items as
//! the respondent answers, problems are shown at once, the draft is kept on the phone and on the
//! server, and a submission made offline waits in the outbox until the connection returns.

use leptos::either::{Either, EitherOf3, EitherOf5};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::components::LoadFailed;
use crate::error::AppError;
use crate::i18n::{Locale, Messages, use_messages};
use crate::survey::api::{
    SurveyData, SurveyLoad, find_receipt, load_survey, open_wave, save_draft, submit_survey,
};
use crate::survey::client::{self, LocalDraft, Queued, UnreadableRecord};
use crate::survey::flow;
use crate::survey::questionnaire::{Answers, FieldError, Questionnaire};
use crate::survey::response::{SubmitReply, SubmitRequest};

/// `/s`: where a respondent types the code from paper.
#[component]
pub fn SurveyEntryPage() -> impl IntoView {
    let t = use_messages();
    view! {
        <Title text=t.survey_enter_heading />
        <section class="card">
            <h1>{t.survey_enter_heading}</h1>
            <CodeForm />
            <p class="muted">{t.survey_privacy}</p>
        </section>
    }
}

/// The code of an invitation: a plain form (`POST /s/go`), and once hydrated a check while
/// typing that says whether the code is complete and free of typing mistakes (its check
/// symbol), before anything is sent.
#[component]
pub fn CodeForm() -> impl IntoView {
    let t = use_messages();
    let typed = RwSignal::new(String::new());
    let check = move || {
        let text = typed.get();
        let symbols = text
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .count();
        if symbols == 0 {
            ""
        } else {
            match crate::survey::codes::InvitationCode::parse(&text) {
                Ok(_) => t.code_ok,
                Err(crate::survey::codes::CodeError::Length { expected, found })
                    if found < expected =>
                {
                    t.code_short
                }
                Err(_) => t.code_mistake,
            }
        }
    };
    view! {
        <form method="post" action="/s/go" class="code-form">
            <p>{t.survey_enter_intro}</p>
            <label for="code">{t.survey_code_label}</label>
            <input
                id="code"
                name="code"
                type="text"
                inputmode="text"
                autocapitalize="characters"
                autocomplete="off"
                spellcheck="false"
                required
                aria-describedby="code-hint code-check"
                on:input=move |ev| typed.set(event_target_value(&ev))
            />
            <p id="code-hint" class="hint">{t.survey_code_hint}</p>
            <p id="code-check" class="hint" aria-live="polite" data-testid="code-check">{check}</p>
            <button type="submit">{t.survey_start}</button>
        </form>
    }
}

fn notice(heading: &'static str, body: &'static str) -> impl IntoView {
    view! {
        <Title text=heading />
        <section class="card notice">
            <h1>{heading}</h1>
            <p>{body}</p>
        </section>
    }
}

/// `/s/{code}`.
#[component]
pub fn SurveyPage() -> impl IntoView {
    let t = use_messages();
    let code = use_params_map()
        .read_untracked()
        .get("code")
        .unwrap_or_default();
    let query = use_query_map().read_untracked().clone();
    let wanted_step = query.get("step").and_then(|s| s.parse::<u32>().ok());
    let check = query.get("check").is_some();
    let load = Resource::new(
        move || (code.clone(), wanted_step, check),
        |(code, step, check)| load_survey(code, step, check),
    );

    view! {
        <Suspense fallback=move || view! { <p>{t.loading}</p> }>
            {move || Suspend::new(async move {
                match load.await {
                    Ok(SurveyLoad::Ready(data)) => {
                        EitherOf5::A(view! { <SurveyForm data=*data /> })
                    }
                    Ok(SurveyLoad::Used) => {
                        EitherOf5::B(notice(t.survey_used_heading, t.survey_used_body))
                    }
                    Ok(SurveyLoad::Closed) => {
                        EitherOf5::C(notice(t.survey_closed_heading, t.survey_closed_body))
                    }
                    Ok(SurveyLoad::Unknown) => EitherOf5::D({
                        super::set_http_status(404);
                        view! {
                            <Title text=t.survey_unknown_heading />
                            <section class="card notice">
                                <h1>{t.survey_unknown_heading}</h1>
                                <p>{t.survey_unknown_body}</p>
                                <CodeForm />
                            </section>
                        }
                    }),
                    Err(_) => EitherOf5::E(view! { <LoadFailed /> }),
                }
            })}
        </Suspense>
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Status {
    Editing,
    Sending,
    /// Kept in the outbox on this phone until the connection returns.
    Queued,
    Used,
    Failed(String),
}

fn problem_of(errors: &[FieldError], item: &str) -> Option<crate::survey::questionnaire::Problem> {
    errors.iter().find(|e| e.item == item).map(|e| e.problem)
}

#[component]
fn SurveyForm(data: SurveyData) -> impl IntoView {
    let t = use_messages();
    let locale = use_context::<Locale>().unwrap_or_default();
    let SurveyData {
        code,
        questionnaire,
        answers: saved,
        step: first_step,
        errors: first_errors,
        started_at,
        revision: server_revision,
        submission_id,
        province_name,
        wave_title,
        open_sample,
    } = data;
    let first_step = first_step as usize;
    let title = questionnaire.title(locale).to_owned();
    let q = StoredValue::new(questionnaire);
    let answers = RwSignal::new(saved);
    let step = RwSignal::new(first_step);
    let errors = RwSignal::new(first_errors);
    let status = RwSignal::new(Status::Editing);
    // False on the server and during hydration, so both render the same page; true after.
    let hydrated = RwSignal::new(false);
    let code = StoredValue::new(code);
    let submission_id = StoredValue::new(submission_id);
    let started_at = StoredValue::new(started_at);

    // The draft's revision on this page, and the newest one the server confirmed storing.
    let revision = StoredValue::new(server_revision);
    let synced_revision = StoredValue::new(server_revision);
    // The answers last written to the phone: a change of `answers` that differs is a new revision.
    let kept = StoredValue::new(Answers::new());
    // Outbox records this build cannot send, shown with what could be recovered.
    let unreadable = RwSignal::new(Vec::<UnreadableRecord>::new());

    let local_draft = move || LocalDraft {
        legacy_synced: None,
        answers: answers.get_untracked(),
        step: u32::try_from(step.get_untracked()).unwrap_or(0),
        submission_id: submission_id.get_value(),
        started_at: started_at.get_value(),
        revision: revision.get_value(),
        synced_revision: synced_revision.get_value(),
    };
    let keep_on_phone = move || {
        let draft = local_draft();
        kept.set_value(draft.answers.clone());
        client::save_local(&code.get_value(), &draft);
    };
    let next_revision = move || revision.update_value(|r| *r = r.saturating_add(1));
    let keep_on_server = move || {
        let (c, a, s, st, sent) = (
            code.get_value(),
            answers.get_untracked(),
            u32::try_from(step.get_untracked()).unwrap_or(0),
            started_at.get_value(),
            revision.get_value(),
        );
        keep_on_phone();
        spawn_local(async move {
            // Only revision `sent` is confirmed: a change made meanwhile stays unsynced. A draft
            // cleared meanwhile (the response was accepted) is not brought back.
            if let Ok(reply) = save_draft(c.clone(), a, s, Some(st), sent).await
                && client::load_local(&c).is_some()
            {
                let mut draft = local_draft();
                draft.confirm(sent, reply);
                synced_revision.set_value(draft.synced_revision);
                client::save_local(&c, &draft);
            }
        });
    };

    let send = move |request: SubmitRequest| {
        status.set(Status::Sending);
        spawn_local(async move {
            match submit_survey(request.clone()).await {
                Ok(reply) => apply_reply(reply, &request.code, step, errors, status),
                // Offline, the network dropped the request, or the server cannot store it now:
                // keep it on the phone and send it later.
                Err(AppError::Transport(_) | AppError::Unavailable) => {
                    match client::outbox_put(&request).await {
                        Ok(()) => status.set(Status::Queued),
                        Err(_) => status.set(Status::Failed(t.load_failed.to_owned())),
                    }
                }
                Err(err) => status.set(Status::Failed(err.to_string())),
            }
        });
    };

    // Replies reach the page through its listener (see the Effect below), whichever flush got them.
    let flush = move || {
        spawn_local(async move {
            client::flush_outbox().await;
        });
    };

    // In the browser only: take over from the server-rendered form. The first render used the
    // server's draft (so hydration matches the HTML); the phone's draft replaces it here, after
    // hydration, when it is newer.
    Effect::new(move |_| {
        hydrated.set(true);
        let c = code.get_value();
        match client::load_local(&c) {
            // Answers given on this phone that are newer than this page: the server never got
            // them (offline, closed tab), or the page is a stale copy the service worker kept.
            Some(local) if client::phone_draft_is_newer(Some(&local), server_revision) => {
                submission_id.set_value(local.submission_id);
                started_at.set_value(local.started_at);
                // Adopted, so newer than the server's draft even if it predates revisions.
                revision.set_value(local.revision.max(server_revision.saturating_add(1)));
                synced_revision.set_value(local.synced_revision);
                kept.set_value(local.answers.clone());
                answers.set(local.answers);
                let wanted = Some(local.step as usize);
                step.set(q.with_value(|q| flow::settle_step(q, &answers.get_untracked(), wanted)));
                keep_on_server();
            }
            // The server's draft is as new or newer: it wins (the revision is the server's).
            Some(local) => {
                submission_id.set_value(local.submission_id);
                keep_on_phone();
            }
            None => keep_on_phone(),
        }
        client::show_step_in_address(step.get_untracked());
        let listener = client::on_outbox_reply(move |request, reply| {
            if request.code == code.get_value() {
                apply_reply(reply.clone(), &request.code, step, errors, status);
            }
        });
        on_cleanup(move || client::remove_reply_listener(listener));
        spawn_local(async move {
            let Ok(queued) = client::outbox_all().await else {
                return;
            };
            let mine = code.get_value();
            let mut waiting = false;
            let mut lost = Vec::new();
            for record in queued {
                match record {
                    Queued::Ready(request) => waiting |= request.code == mine,
                    // Never skipped in silence: shown here, for this code or an unknown one.
                    Queued::Unreadable(record)
                        if record.code.as_deref().is_none_or(|c| c == mine) =>
                    {
                        lost.push(record);
                    }
                    Queued::Unreadable(_) => {}
                }
            }
            unreadable.set(lost);
            if waiting {
                status.set(Status::Queued);
                flush();
            }
        });
    });
    // Answers are kept on the phone as they are given (the server gets them section by section);
    // each change is a new revision.
    Effect::watch(
        move || answers.track(),
        move |_, _, _| {
            if kept.with_value(|k| answers.with_untracked(|a| a != k)) {
                next_revision();
                keep_on_phone();
            }
        },
        false,
    );
    let _online = window_event_listener(leptos::ev::online, move |_| {
        if status.get_untracked() == Status::Queued {
            flush();
        }
    });

    let move_to = move |next: usize| {
        errors.set(Vec::new());
        step.set(next);
        client::show_step_in_address(next);
        // A new screen is a change of the draft too (where to resume).
        next_revision();
        keep_on_server();
        client::scroll_to_top();
        client::focus("section-heading");
    };

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if matches!(status.get_untracked(), Status::Sending | Status::Queued) {
            return;
        }
        let nav = ev
            .submitter()
            .and_then(|button| button.get_attribute("value"))
            .unwrap_or_else(|| "next".to_owned());
        let current = step.get_untracked();
        let now = answers.get_untracked();
        if nav == "back" {
            if let Some(previous) = q.with_value(|q| flow::previous_section(q, &now, current)) {
                move_to(previous);
            }
            return;
        }
        let problems = q.with_value(|q| flow::section_errors(q, current, &now));
        if let Some(first) = problems.first() {
            let id = format!("item-{}", first.item);
            errors.set(problems);
            client::focus(&id);
            return;
        }
        match q.with_value(|q| flow::next_section(q, &now, current)) {
            Some(next) => move_to(next),
            None => send(SubmitRequest {
                code: code.get_value(),
                submission_id: submission_id.get_value(),
                answers: now,
                language: locale.code().to_owned(),
                started_at: Some(started_at.get_value()),
                queued: false,
            }),
        }
    };

    // Computed once per change of answers or step, read by the label and the bar.
    let progress =
        Memo::new(move |_| answers.with(|a| q.with_value(|q| flow::progress(q, a, step.get()))));
    let is_last =
        move || answers.with(|a| q.with_value(|q| flow::next_section(q, a, step.get()).is_none()));
    let has_previous = move || {
        answers.with(|a| q.with_value(|q| flow::previous_section(q, a, step.get()).is_some()))
    };
    let action = format!("/s/{}", code.get_value());

    view! {
        <Title text=title.clone() />
        <article class="survey">
            <header class="survey-head">
                <p class="muted">{wave_title} " · " {province_name}</p>
                <h1>{title}</h1>
                {open_sample.then(|| view! { <p class="notice-inline">{t.survey_open_sample}</p> })}
                <div class="progress">
                    <p id="progress-label">
                        {t.survey_part} " " {move || progress.get().0} " / " {move || progress.get().1}
                    </p>
                    <progress
                        aria-labelledby="progress-label"
                        max=move || progress.get().1
                        value=move || progress.get().0
                    ></progress>
                </div>
            </header>
            <form method="post" action=action novalidate on:submit=on_submit class="survey-form">
                <input type="hidden" name="submission_id" value=move || submission_id.get_value() />
                <input type="hidden" name="started_at" value=move || started_at.get_value() />
                <input type="hidden" name="step" value=move || step.get().to_string() />
                {move || {
                    (!errors.with(Vec::is_empty))
                        .then(|| view! { <p class="error-summary" role="alert">{t.survey_fix}</p> })
                }}
                {move || {
                    section_view(q, step.get(), locale, t, answers, errors, hydrated)
                }}
                <div class="survey-nav">
                    // "Next" comes first in the markup so Enter moves forward; CSS puts "Back" left.
                    {move || {
                        if is_last() {
                            Either::Left(view! {
                                <button
                                    type="submit"
                                    name="nav"
                                    value="submit"
                                    disabled=move || status.get() == Status::Sending
                                >
                                    {t.survey_submit}
                                </button>
                            })
                        } else {
                            Either::Right(view! {
                                <button type="submit" name="nav" value="next">
                                    {t.survey_next}
                                </button>
                            })
                        }
                    }}
                    {move || {
                        has_previous()
                            .then(|| {
                                view! {
                                    <button type="submit" name="nav" value="back" class="secondary">
                                        {t.survey_back}
                                    </button>
                                }
                            })
                    }}
                </div>
            </form>
            <div class="survey-status" role="status" aria-live="polite">
                {move || status_view(status.get(), t, flush)}
            </div>
            {move || {
                unreadable_view(unreadable, code.get_value(), q, locale, t, answers)
            }}
            <p class="muted small">{t.survey_autosave} " " {t.survey_privacy}</p>
        </article>
    }
}

fn apply_reply(
    reply: SubmitReply,
    code: &str,
    step: RwSignal<usize>,
    errors: RwSignal<Vec<FieldError>>,
    status: RwSignal<Status>,
) {
    match reply {
        SubmitReply::Accepted(receipt) => {
            // Nothing of this code stays on the phone: neither the draft nor the pages the
            // service worker kept (a shared phone must not show them to the next person).
            client::clear_local(code);
            client::forget_cached_pages(code);
            client::go_to(&format!("/receipt/{}", receipt.number));
        }
        SubmitReply::CodeUsed => status.set(Status::Used),
        SubmitReply::Incomplete {
            step: first,
            errors: problems,
        } => {
            step.set(first as usize);
            errors.set(problems);
            status.set(Status::Editing);
        }
    }
}

/// Outbox records this build cannot send (written by another version of the page): what could be
/// recovered, and a way to put those answers back into the form (or remove the record).
fn unreadable_view(
    unreadable: RwSignal<Vec<UnreadableRecord>>,
    mine: String,
    q: StoredValue<Questionnaire>,
    locale: Locale,
    t: &'static Messages,
    answers: RwSignal<Answers>,
) -> Option<impl IntoView + use<>> {
    let records = unreadable.get();
    if records.is_empty() {
        return None;
    }
    let shown = records
        .into_iter()
        .map(|record| {
            let lines = q.with_value(|q| {
                record
                    .answers
                    .iter()
                    .map(|(item, value)| {
                        let question = q.item(item);
                        let answer = question
                            .and_then(|i| q.choices(i).find(|c| c.value == *value))
                            .map_or_else(|| value.to_string(), |c| c.label(locale).to_owned());
                        let question =
                            question.map_or_else(|| item.clone(), |i| i.text(locale).to_owned());
                        view! { <li>{question} ": " {answer}</li> }
                    })
                    .collect_view()
            });
            let nothing = record.answers.is_empty().then(|| {
                view! {
                    <p>
                        {t.outbox_unreadable_nothing}
                    </p>
                }
            });
            let restore =
                record.code.as_deref() == Some(mine.as_str()) && !record.answers.is_empty();
            let label = if restore {
                t.outbox_unreadable_restore
            } else {
                t.outbox_unreadable_remove
            };
            let on_click = move |_| {
                if restore {
                    answers.update(|a| {
                        q.with_value(|q| {
                            for (item, value) in &record.answers {
                                if q.item(item).is_some() {
                                    a.insert(item.clone(), *value);
                                }
                            }
                            q.prune(a);
                        });
                    });
                }
                let key = record.key.clone();
                unreadable.update(|all| all.retain(|r| r != &record));
                if let Some(key) = key {
                    spawn_local(async move {
                        let _ = client::outbox_remove(&key).await;
                    });
                }
            };
            view! {
                <div class="notice-inline outbox-unreadable" role="alert" data-state="unreadable">
                    <p>
                        {t.outbox_unreadable_intro}
                    </p>
                    <ul>{lines}</ul>
                    {nothing}
                    <button type="button" class="secondary" on:click=on_click>{label}</button>
                </div>
            }
        })
        .collect_view();
    Some(shown)
}

fn status_view(
    status: Status,
    t: &'static Messages,
    flush: impl Fn() + Copy + Send + 'static,
) -> impl IntoView {
    match status {
        Status::Editing => EitherOf5::A(()),
        Status::Sending => EitherOf5::B(view! { <p>{t.survey_sending}</p> }),
        Status::Queued => EitherOf5::C(view! {
            <div class="queued" data-state="queued">
                <p>{t.survey_queued}</p>
                <button type="button" class="secondary" on:click=move |_| flush()>
                    {t.survey_send_now}
                </button>
            </div>
        }),
        Status::Used => EitherOf5::D(view! {
            <div class="notice">
                <h2>{t.survey_used_heading}</h2>
                <p>{t.survey_used_body}</p>
            </div>
        }),
        Status::Failed(message) => {
            EitherOf5::E(view! { <p class="error">{t.survey_failed} " " {message}</p> })
        }
    }
}

/// One section: its heading, intro and items. Items whose rule does not hold are hidden once the
/// page is live; on the server they are either left off the screen or, when their rule depends
/// on an answer on this same screen, shown with a note saying when to answer them.
fn section_view(
    q: StoredValue<Questionnaire>,
    index: usize,
    locale: Locale,
    t: &'static Messages,
    answers: RwSignal<Answers>,
    errors: RwSignal<Vec<FieldError>>,
    hydrated: RwSignal<bool>,
) -> Option<impl IntoView + use<>> {
    q.with_value(|questionnaire| {
        let section = questionnaire.sections.get(index)?;
        let snapshot = answers.get_untracked();
        let intro = match (&section.intro_vi, &section.intro_en) {
            (Some(vi), Some(en)) => Some(locale.pick(vi, en).to_owned()),
            (Some(vi), None) => Some(vi.clone()),
            _ => None,
        };
        let items = section
            .items
            .iter()
            .enumerate()
            .map(|(position, item)| {
                let on_screen = flow::item_on_screen(questionnaire, index, position, &snapshot);
                let hint = flow::same_section_condition(questionnaire, index, position).and_then(
                    |condition| {
                        let rule = item.show_if.as_ref()?;
                        let labels: Vec<&str> = questionnaire
                            .choices(condition)
                            .filter(|c| rule.any_of.contains(&c.value))
                            .map(|c| c.label(locale))
                            .collect();
                        Some(format!("{} {}", t.survey_only_if, labels.join(", ")))
                    },
                );
                let rule = item.show_if.clone();
                let visible = move || {
                    if hydrated.get() {
                        rule.as_ref().is_none_or(|r| {
                            answers.with(|a| a.get(&r.item).is_some_and(|v| r.any_of.contains(v)))
                        })
                    } else {
                        on_screen
                    }
                };
                let code = item.code.clone();
                let error_id = format!("err-{code}");
                let problem = {
                    let code = code.clone();
                    move || errors.with(|e| problem_of(e, &code))
                };
                let choices = questionnaire
                    .choices(item)
                    .map(|choice| {
                        let value = choice.value;
                        let id = format!("{code}-{value}");
                        let checked_now = snapshot.get(&code) == Some(&value);
                        let (mine, changed) = (code.clone(), code.clone());
                        let label_for = id.clone();
                        view! {
                            <label class="choice" for=label_for>
                                <input
                                    type="radio"
                                    id=id
                                    name=code.clone()
                                    value=value.to_string()
                                    checked=checked_now
                                    prop:checked=move || answers.with(|a| a.get(&mine) == Some(&value))
                                    on:change=move |_| {
                                        answers.update(|a| {
                                            a.insert(changed.clone(), value);
                                            q.with_value(|q| q.prune(a));
                                        });
                                        errors.update(|e| e.retain(|x| x.item != changed));
                                    }
                                />
                                <span>{choice.label(locale).to_owned()}</span>
                            </label>
                        }
                    })
                    .collect_view();
                let described = {
                    let (problem, error_id) = (problem.clone(), error_id.clone());
                    move || problem().map(|_| error_id.clone())
                };
                let invalid = {
                    let problem = problem.clone();
                    move || problem().map(|_| "true")
                };
                view! {
                    <fieldset
                        class="item"
                        id=format!("item-{code}")
                        tabindex="-1"
                        hidden=move || !visible()
                        aria-describedby=described
                        aria-invalid=invalid
                    >
                        <legend>
                            {item.text(locale).to_owned()}
                            {(!item.required)
                                .then(|| view! { <span class="optional">" " {t.survey_optional}</span> })}
                        </legend>
                        {hint.map(|text| view! { <p class="hint only-if">{text}</p> })}
                        {move || {
                            problem()
                                .map(|p| {
                                    view! {
                                        <p class="field-error" id=error_id.clone()>
                                            {p.message(locale)}
                                        </p>
                                    }
                                })
                        }}
                        <div class="choices">{choices}</div>
                    </fieldset>
                }
            })
            .collect_view();
        Some(view! {
            <section class="survey-section" aria-labelledby="section-heading">
                <h2 id="section-heading" tabindex="-1">{section.title(locale).to_owned()}</h2>
                {intro.map(|text| view! { <p class="muted">{text}</p> })}
                {items}
            </section>
        })
    })
}

/// `/receipt/{number}`: the confirmation a respondent sees (and can come back to).
#[component]
pub fn ReceiptPage() -> impl IntoView {
    let t = use_messages();
    let number = use_params_map()
        .read_untracked()
        .get("number")
        .unwrap_or_default();
    let receipt = Resource::new(move || number.clone(), find_receipt);
    view! {
        <Title text=t.receipt_heading />
        <Suspense fallback=move || view! { <p>{t.loading}</p> }>
            {move || Suspend::new(async move {
                match receipt.await {
                    Ok(receipt) => {
                        let shown = readable_time(&receipt.submitted_at);
                        EitherOf3::A(view! {
                            <section class="card receipt">
                                <h1>{t.receipt_heading}</h1>
                                <p>{t.receipt_body}</p>
                                <dl>
                                    <dt>{t.receipt_number}</dt>
                                    <dd class="receipt-number">{receipt.number}</dd>
                                    <dt>{t.receipt_time}</dt>
                                    <dd>
                                        <time datetime=receipt.submitted_at>{shown}</time>
                                    </dd>
                                </dl>
                            </section>
                        })
                    }
                    Err(AppError::NotFound) => {
                        super::set_http_status(404);
                        EitherOf3::B(notice(t.receipt_heading, t.receipt_unknown))
                    }
                    Err(_) => EitherOf3::C(view! { <LoadFailed /> }),
                }
            })}
        </Suspense>
    }
}

/// `2026-11-27T10:05:09.123Z` → `2026-11-27 10:05 UTC`.
fn readable_time(rfc3339: &str) -> String {
    match (rfc3339.get(0..10), rfc3339.get(11..16)) {
        (Some(date), Some(time)) => format!("{date} {time} UTC"),
        _ => rfc3339.to_owned(),
    }
}

/// `/s/open/{wave}`: the open link for pilots. The respondent states the province (a code is
/// then made for them); the questionnaire page says the results are not from a random sample.
#[component]
pub fn OpenSurveyPage() -> impl IntoView {
    let t = use_messages();
    let wave = use_params_map()
        .read_untracked()
        .get("wave")
        .unwrap_or_default();
    let missing = use_query_map().read_untracked().get("missing").is_some();
    let data = Resource::new(move || wave.clone(), open_wave);
    view! {
        <Title text=t.survey_open_heading />
        <Suspense fallback=move || view! { <p>{t.loading}</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(open) => {
                        let action = format!("/s/open/{}", open.code);
                        let options = open
                            .provinces
                            .into_iter()
                            .map(|p| view! { <option value=p.code.clone()>{p.name_vi}</option> })
                            .collect_view();
                        EitherOf3::A(view! {
                            <section class="card">
                                <p class="muted">{open.title}</p>
                                <h1>{t.survey_open_heading}</h1>
                                <p>{t.survey_open_intro}</p>
                                <p class="notice-inline">{t.survey_open_sample}</p>
                                <form method="post" action=action class="code-form">
                                    <label for="province">{t.survey_province}</label>
                                    {missing
                                        .then(|| {
                                            view! {
                                                <p class="field-error" id="province-error">
                                                    {t.survey_choose_province}
                                                </p>
                                            }
                                        })}
                                    <select
                                        id="province"
                                        name="province"
                                        required
                                        aria-describedby=missing.then_some("province-error")
                                    >
                                        <option value="">{t.survey_choose_province}</option>
                                        {options}
                                    </select>
                                    <button type="submit">{t.survey_start}</button>
                                </form>
                                <p class="muted">{t.survey_privacy}</p>
                            </section>
                        })
                    }
                    Err(AppError::NotFound) => {
                        super::set_http_status(404);
                        EitherOf3::B(notice(t.survey_closed_heading, t.survey_closed_body))
                    }
                    Err(_) => EitherOf3::C(view! { <LoadFailed /> }),
                }
            })}
        </Suspense>
    }
}
