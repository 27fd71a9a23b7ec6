//! The browser's side of the survey: the draft kept on the phone (localStorage), the outbox of
//! submissions waiting for a connection (IndexedDB, so a closed tab loses nothing), the service
//! worker that keeps the form available offline, and small navigation helpers.
//!
//! Everything here is a no-op on the server, where it is never called in practice.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use serde::{Deserialize, Serialize};

use crate::survey::questionnaire::Answers;
use crate::survey::response::{DraftSaved, SubmitReply, SubmitRequest};

/// The answers as kept on the phone between visits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalDraft {
    pub answers: Answers,
    pub step: u32,
    pub submission_id: String,
    pub started_at: String,
    /// Counts the changes: it continues from the server draft's revision and grows by one with
    /// every change on this phone (an answer, a new screen).
    #[serde(default)]
    pub revision: u64,
    /// The newest revision the server confirmed storing; below `revision` while the phone has
    /// changes the server does not have.
    #[serde(default)]
    pub synced_revision: u64,
    /// Drafts written before revisions existed said `synced: false` while the server lacked
    /// their answers: such a draft is newer than any server draft. Read, never written.
    #[serde(default, rename = "synced", skip_serializing)]
    pub legacy_synced: Option<bool>,
}

impl LocalDraft {
    /// The phone has changes the server has not confirmed.
    pub fn unsynced(&self) -> bool {
        self.synced_revision < self.revision
    }

    /// Records the server's answer to saving revision `sent`. Only what was sent counts as
    /// synced: a change made while the save was in flight has a higher revision and stays
    /// unsynced. A `Stale` answer (the server keeps a newer draft from elsewhere) confirms
    /// nothing.
    pub fn confirm(&mut self, sent: u64, reply: DraftSaved) {
        if reply == DraftSaved::Saved {
            self.synced_revision = self.synced_revision.max(sent);
        }
    }
}

/// Whose answers a hydrated page shows: the phone's draft when its revision is newer than the
/// server's (the page may be a stale copy the service worker kept, or the server never got the
/// last changes), else the server's (equal revisions are the same answers).
pub fn phone_draft_is_newer(local: Option<&LocalDraft>, server_revision: u64) -> bool {
    local
        .is_some_and(|local| local.revision > server_revision || local.legacy_synced == Some(false))
}

/// The layout of the outbox records this build writes. Records without a `format` field were
/// written before it existed, in the layout of format 1.
pub const OUTBOX_FORMAT: u32 = 1;

/// An outbox record that this build cannot send: shown to the respondent with what could be
/// recovered, never skipped in silence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableRecord {
    /// The record's key in the outbox (its submission id), to remove it once dealt with.
    pub key: Option<String>,
    pub code: Option<String>,
    pub format: Option<u32>,
    /// The answers that could be read from it (item code → value).
    pub answers: Answers,
}

/// One record of the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Queued {
    Ready(SubmitRequest),
    Unreadable(UnreadableRecord),
}

/// Decodes an outbox record from its fields (`format` is a JavaScript number).
pub fn decode_record(
    format: Option<f64>,
    key: Option<String>,
    code: Option<String>,
    body: Option<&str>,
) -> Queued {
    // Formats are small integers; anything else is not a format this build knows.
    let format = format.and_then(|f| {
        (f.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&f)).then_some(f as u32)
    });
    let known = format.is_none_or(|f| f == OUTBOX_FORMAT);
    if known && let Some(request) = body.and_then(|b| serde_json::from_str::<SubmitRequest>(b).ok())
    {
        return Queued::Ready(request);
    }
    // Recover what can be read: the answers that are item → whole number, and the code.
    let value = body.and_then(|b| serde_json::from_str::<serde_json::Value>(b).ok());
    let answers = value
        .as_ref()
        .and_then(|v| v.get("answers"))
        .and_then(serde_json::Value::as_object)
        .map(|map| {
            map.iter()
                .filter_map(|(item, value)| Some((item.clone(), value.as_i64()?)))
                .collect()
        })
        .unwrap_or_default();
    let code = code.or_else(|| {
        value
            .as_ref()
            .and_then(|v| v.get("code"))
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    });
    Queued::Unreadable(UnreadableRecord {
        key,
        code,
        format,
        answers,
    })
}

#[cfg(feature = "hydrate")]
mod browser {
    use super::*;
    use js_sys::{Array, Object, Promise, Reflect};
    use wasm_bindgen::{JsCast, JsValue, closure::Closure};
    use wasm_bindgen_futures::JsFuture;
    use web_sys::{IdbDatabase, IdbObjectStoreParameters, IdbRequest, IdbTransactionMode};

    fn draft_key(code: &str) -> String {
        format!("sipas-draft:{code}")
    }

    fn storage() -> Option<web_sys::Storage> {
        web_sys::window()?.local_storage().ok().flatten()
    }

    pub fn load_local(code: &str) -> Option<LocalDraft> {
        let text = storage()?.get_item(&draft_key(code)).ok().flatten()?;
        serde_json::from_str(&text).ok()
    }

    pub fn save_local(code: &str, draft: &LocalDraft) {
        if let (Some(storage), Ok(text)) = (storage(), serde_json::to_string(draft)) {
            let _ = storage.set_item(&draft_key(code), &text);
        }
    }

    pub fn clear_local(code: &str) {
        if let Some(storage) = storage() {
            let _ = storage.remove_item(&draft_key(code));
        }
    }

    /// Keeps the current section in the address, so a reload opens it again.
    pub fn show_step_in_address(step: usize) {
        if let Some(history) = web_sys::window().and_then(|w| w.history().ok()) {
            let _ =
                history.replace_state_with_url(&JsValue::NULL, "", Some(&format!("?step={step}")));
        }
    }

    pub fn go_to(url: &str) {
        if let Some(window) = web_sys::window() {
            let _ = window.location().assign(url);
        }
    }

    pub fn scroll_to_top() {
        if let Some(window) = web_sys::window() {
            window.scroll_to_with_x_and_y(0.0, 0.0);
        }
    }

    /// Moves keyboard and screen-reader focus to an element (e.g. a new section's heading).
    pub fn focus(id: &str) {
        if let Some(element) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.get_element_by_id(id))
            .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
        {
            let _ = element.focus();
        }
    }

    pub fn is_online() -> bool {
        web_sys::window().is_none_or(|w| w.navigator().on_line())
    }

    pub fn register_service_worker() {
        if let Some(window) = web_sys::window() {
            let navigator = window.navigator();
            if Reflect::has(&navigator, &JsValue::from_str("serviceWorker")).unwrap_or(false) {
                let _ = navigator.service_worker().register("/sw.js");
            }
        }
    }

    fn post_message(worker: &JsValue, message: &JsValue) {
        if let Ok(post) = Reflect::get(worker, &"postMessage".into())
            .and_then(|f| f.dyn_into::<js_sys::Function>())
        {
            let _ = post.call1(worker, message);
        }
    }

    /// Asks the service worker to drop its copies of this code's pages (after the response
    /// was accepted: a shared phone must not show them to the next person).
    pub fn forget_cached_pages(code: &str) {
        let Some(window) = web_sys::window() else {
            return;
        };
        let navigator = window.navigator();
        if !Reflect::has(&navigator, &JsValue::from_str("serviceWorker")).unwrap_or(false) {
            return;
        }
        let message = Object::new();
        let _ = Reflect::set(&message, &"type".into(), &"forget-code".into());
        let _ = Reflect::set(&message, &"code".into(), &code.into());
        let message = JsValue::from(message);
        let container = navigator.service_worker();
        // The worker controlling this page gets it at once, before the page moves on.
        if let Ok(controller) = Reflect::get(&container, &"controller".into())
            && controller.is_object()
        {
            post_message(&controller, &message);
            return;
        }
        if let Ok(ready) = container.ready() {
            wasm_bindgen_futures::spawn_local(async move {
                if let Ok(registration) = JsFuture::from(ready).await
                    && let Ok(active) = Reflect::get(&registration, &"active".into())
                    && active.is_object()
                {
                    post_message(&active, &message);
                }
            });
        }
    }

    /// Waits for an IndexedDB request.
    async fn done(request: &IdbRequest) -> Result<JsValue, JsValue> {
        let promise = Promise::new(&mut |resolve, reject| {
            request.set_onsuccess(Some(&resolve));
            request.set_onerror(Some(&reject));
        });
        JsFuture::from(promise).await?;
        request.result()
    }

    const STORE: &str = "outbox";

    async fn database() -> Result<IdbDatabase, JsValue> {
        let factory = web_sys::window()
            .ok_or_else(|| JsValue::from_str("no window"))?
            .indexed_db()?
            .ok_or_else(|| JsValue::from_str("no IndexedDB"))?;
        let open = factory.open_with_u32("sipas", 1)?;
        let upgrade = Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
            let db = event
                .target()
                .and_then(|t| t.dyn_into::<web_sys::IdbOpenDbRequest>().ok())
                .and_then(|r| r.result().ok())
                .and_then(|r| r.dyn_into::<IdbDatabase>().ok());
            if let Some(db) = db {
                let params = IdbObjectStoreParameters::new();
                params.set_key_path(&JsValue::from_str("submission_id"));
                let _ = db.create_object_store_with_optional_parameters(STORE, &params);
            }
        });
        open.set_onupgradeneeded(Some(upgrade.as_ref().unchecked_ref()));
        let db = done(&open).await?;
        drop(upgrade);
        db.dyn_into::<IdbDatabase>()
    }

    pub async fn outbox_put(request: &SubmitRequest) -> Result<(), JsValue> {
        let body = serde_json::to_string(request).map_err(|e| JsValue::from_str(&e.to_string()))?;
        let record = Object::new();
        Reflect::set(
            &record,
            &"submission_id".into(),
            &request.submission_id.as_str().into(),
        )?;
        Reflect::set(&record, &"code".into(), &request.code.as_str().into())?;
        Reflect::set(&record, &"format".into(), &OUTBOX_FORMAT.into())?;
        Reflect::set(&record, &"body".into(), &body.into())?;
        let db = database().await?;
        let tx = db.transaction_with_str_and_mode(STORE, IdbTransactionMode::Readwrite)?;
        done(&tx.object_store(STORE)?.put(&record)?).await?;
        Ok(())
    }

    /// Every record of the outbox, decoded; those this build cannot send are returned as
    /// `Unreadable` (with what could be recovered), never dropped.
    pub async fn outbox_all() -> Result<Vec<Queued>, JsValue> {
        let db = database().await?;
        let tx = db.transaction_with_str(STORE)?;
        let store = tx.object_store(STORE)?;
        let all: Array = done(&store.get_all()?).await?.dyn_into()?;
        Ok(all
            .iter()
            .map(|record| {
                let field = |name: &str| Reflect::get(&record, &name.into()).ok();
                let body = field("body").and_then(|v| v.as_string());
                decode_record(
                    field("format").and_then(|v| v.as_f64()),
                    field("submission_id").and_then(|v| v.as_string()),
                    field("code").and_then(|v| v.as_string()),
                    body.as_deref(),
                )
            })
            .collect())
    }

    pub async fn outbox_remove(submission_id: &str) -> Result<(), JsValue> {
        let db = database().await?;
        let tx = db.transaction_with_str_and_mode(STORE, IdbTransactionMode::Readwrite)?;
        done(&tx.object_store(STORE)?.delete(&submission_id.into())?).await?;
        Ok(())
    }
}

#[cfg(not(feature = "hydrate"))]
mod browser {
    use super::*;

    pub fn load_local(_code: &str) -> Option<LocalDraft> {
        None
    }
    pub fn save_local(_code: &str, _draft: &LocalDraft) {}
    pub fn clear_local(_code: &str) {}
    pub fn show_step_in_address(_step: usize) {}
    pub fn go_to(_url: &str) {}
    pub fn scroll_to_top() {}
    pub fn focus(_id: &str) {}
    pub fn is_online() -> bool {
        true
    }
    pub fn register_service_worker() {}
    pub async fn outbox_put(_request: &SubmitRequest) -> Result<(), String> {
        Ok(())
    }
    pub fn forget_cached_pages(_code: &str) {}
    pub async fn outbox_all() -> Result<Vec<Queued>, String> {
        Ok(Vec::new())
    }
    pub async fn outbox_remove(_submission_id: &str) -> Result<(), String> {
        Ok(())
    }
}

pub use browser::*;

/// A reaction to the server's reply to a queued submission.
type ReplyListener = Rc<dyn Fn(&SubmitRequest, &SubmitReply)>;

thread_local! {
    static FLUSHING: Cell<bool> = const { Cell::new(false) };
    /// A flush was asked for while one ran: the running one reads the outbox once more.
    static FLUSH_AGAIN: Cell<bool> = const { Cell::new(false) };
    static LISTENERS: RefCell<Vec<(u64, ReplyListener)>> = const { RefCell::new(Vec::new()) };
    static NEXT_LISTENER: Cell<u64> = const { Cell::new(0) };
}

/// Calls `listener` with every reply an outbox flush gets, whichever flush sent it; returns an
/// id for `remove_reply_listener`.
pub fn on_outbox_reply(listener: impl Fn(&SubmitRequest, &SubmitReply) + 'static) -> u64 {
    let id = NEXT_LISTENER.with(|next| {
        let id = next.get();
        next.set(id.wrapping_add(1));
        id
    });
    LISTENERS.with(|all| all.borrow_mut().push((id, Rc::new(listener))));
    id
}

pub fn remove_reply_listener(id: u64) {
    LISTENERS.with(|all| all.borrow_mut().retain(|(mine, _)| *mine != id));
}

fn tell_listeners(request: &SubmitRequest, reply: &SubmitReply) {
    // Cloned first: a listener may add or remove listeners.
    let listeners: Vec<ReplyListener> =
        LISTENERS.with(|all| all.borrow().iter().map(|(_, l)| l.clone()).collect());
    for listener in listeners {
        listener(request, reply);
    }
}

/// Marks a flush as running until dropped (also when the flush's future is dropped halfway).
struct FlushGuard;

impl FlushGuard {
    fn take() -> Option<Self> {
        let guard = FLUSHING.with(|flag| (!flag.replace(true)).then_some(FlushGuard));
        if guard.is_none() {
            FLUSH_AGAIN.with(|again| again.set(true));
        }
        guard
    }
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        FLUSHING.with(|flag| flag.set(false));
    }
}

/// Sends every queued submission; returns those the server answered (the rest stay queued), and
/// tells the `on_outbox_reply` listeners. Records this build cannot read stay in the outbox (the
/// survey page shows them).
///
/// A page can start several flushes at once (on load, on `online`, the "send now" button). A
/// second flush while one runs is a no-op that returns nothing; the running one reads the outbox
/// once more when it is done (for a record queued meanwhile), and the page hears its replies
/// through its listener. Sending a record twice would be harmless anyway (the server answers a
/// retry with the same submission id and content with the same receipt, and refuses other
/// content on a used code); the guard only saves the duplicate requests and reactions.
pub async fn flush_outbox() -> Vec<(SubmitRequest, SubmitReply)> {
    use crate::error::AppError;
    let mut answered = Vec::new();
    let Some(_running) = FlushGuard::take() else {
        return answered;
    };
    loop {
        FLUSH_AGAIN.with(|again| again.set(false));
        let Ok(queued) = outbox_all().await else {
            return answered;
        };
        for record in queued {
            let Queued::Ready(request) = record else {
                continue;
            };
            let sent = SubmitRequest {
                queued: true,
                ..request.clone()
            };
            match crate::survey::api::submit_survey(sent).await {
                Ok(reply) => {
                    let _ = outbox_remove(&request.submission_id).await;
                    if matches!(reply, SubmitReply::Accepted(_) | SubmitReply::CodeUsed) {
                        // The code is done with: nothing of it stays on the phone.
                        clear_local(&request.code);
                        forget_cached_pages(&request.code);
                    }
                    tell_listeners(&request, &reply);
                    answered.push((request, reply));
                }
                // Still offline (or the server is down): keep it for later.
                Err(AppError::Transport(_) | AppError::Unavailable) => {}
                // Refused for good (e.g. the code no longer exists): nothing a retry can fix.
                Err(_) => {
                    let _ = outbox_remove(&request.submission_id).await;
                }
            }
        }
        if !FLUSH_AGAIN.with(Cell::get) {
            return answered;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(revision: u64, synced_revision: u64) -> LocalDraft {
        LocalDraft {
            answers: Answers::new(),
            step: 0,
            submission_id: "0123456789abcdef".into(),
            started_at: "2026-11-27T08:00:00Z".into(),
            revision,
            synced_revision,
            legacy_synced: None,
        }
    }

    #[test]
    fn the_newer_draft_wins() {
        // A stale page (server revision 2) under newer answers on the phone: the phone's win.
        assert!(phone_draft_is_newer(Some(&local(5, 2)), 2));
        // Even when those answers were synced: the page itself may be the stale copy.
        assert!(phone_draft_is_newer(Some(&local(5, 5)), 2));
        // The server has the same or a newer draft (e.g. from another device): the server's.
        assert!(!phone_draft_is_newer(Some(&local(5, 5)), 5));
        assert!(!phone_draft_is_newer(Some(&local(5, 3)), 8));
        assert!(!phone_draft_is_newer(None, 0));
    }

    #[test]
    fn only_what_was_sent_is_synced() {
        // Revision 3 was sent; the respondent answered twice more while it was in flight.
        let mut draft = local(5, 1);
        draft.confirm(3, DraftSaved::Saved);
        assert_eq!(draft.synced_revision, 3);
        assert!(draft.unsynced());
        // A late reply to an older save does not move it back.
        draft.confirm(2, DraftSaved::Saved);
        assert_eq!(draft.synced_revision, 3);
        // A refused save confirms nothing.
        draft.confirm(
            5,
            DraftSaved::Stale {
                current_revision: 9,
            },
        );
        assert!(draft.unsynced());
        draft.confirm(5, DraftSaved::Saved);
        assert!(!draft.unsynced());
    }

    #[test]
    fn drafts_written_before_revisions_still_load() {
        let old = r#"{"answers":{"q1":2},"step":1,"submission_id":"0123456789abcdef","started_at":"2026-11-27T08:00:00Z","synced":false}"#;
        let draft: LocalDraft = serde_json::from_str(old).expect("old draft");
        assert_eq!((draft.revision, draft.synced_revision), (0, 0));
        // Its answers never reached the server: they win over any server draft.
        assert!(phone_draft_is_newer(Some(&draft), 7));
        let synced = old.replace("\"synced\":false", "\"synced\":true");
        let synced: LocalDraft = serde_json::from_str(&synced).expect("old synced draft");
        assert!(!phone_draft_is_newer(Some(&synced), 0));
        // The legacy flag is read, never written back.
        let written = serde_json::to_string(&draft).expect("json");
        assert!(!written.contains("\"synced\""), "{written}");
    }

    fn request() -> SubmitRequest {
        SubmitRequest {
            code: "ABCD".into(),
            submission_id: "0123456789abcdef".into(),
            answers: [("q1".to_owned(), 3)].into_iter().collect(),
            language: "vi".into(),
            started_at: None,
            queued: false,
        }
    }

    #[test]
    fn outbox_records_of_known_formats_are_sent() {
        let body = serde_json::to_string(&request()).expect("json");
        for format in [None, Some(1.0)] {
            assert_eq!(
                decode_record(format, Some("k".into()), Some("ABCD".into()), Some(&body)),
                Queued::Ready(request())
            );
        }
    }

    #[test]
    fn unreadable_outbox_records_keep_what_can_be_recovered() {
        // A format from another build: not sent, but its answers and code are recovered.
        let body = serde_json::to_string(&request()).expect("json");
        let Queued::Unreadable(record) =
            decode_record(Some(7.0), Some("k".into()), None, Some(&body))
        else {
            panic!("a record of an unknown format was decoded");
        };
        assert_eq!(record.code.as_deref(), Some("ABCD"));
        assert_eq!(record.format, Some(7));
        assert_eq!(record.answers, request().answers);
        assert_eq!(record.key.as_deref(), Some("k"));
        // A body that no longer matches the request: the answers that still read are kept.
        let changed = r#"{"code":"ABCD","answers":{"q1":4,"q2":"x"},"language":"vi"}"#;
        let Queued::Unreadable(record) = decode_record(Some(1.0), None, None, Some(changed)) else {
            panic!("an incomplete record was decoded");
        };
        assert_eq!(record.answers, [("q1".to_owned(), 4)].into_iter().collect());
        // Nothing readable at all is still reported.
        assert!(matches!(
            decode_record(None, None, Some("ABCD".into()), Some("not json")),
            Queued::Unreadable(UnreadableRecord { ref code, .. }) if code.as_deref() == Some("ABCD")
        ));
        assert!(matches!(
            decode_record(None, None, None, None),
            Queued::Unreadable(_)
        ));
    }
}
