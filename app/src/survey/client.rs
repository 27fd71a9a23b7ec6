//! The browser's side of the survey: the draft kept on the phone (localStorage), the outbox of
//! submissions waiting for a connection (IndexedDB, so a closed tab loses nothing), the service
//! worker that keeps the form available offline, and small navigation helpers.
//!
//! Everything here is a no-op on the server, where it is never called in practice.

use serde::{Deserialize, Serialize};

use crate::survey::questionnaire::Answers;
use crate::survey::response::SubmitRequest;

/// The answers as kept on the phone between visits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalDraft {
    pub answers: Answers,
    pub step: u32,
    pub submission_id: String,
    pub started_at: String,
    /// False until the server has the same answers.
    pub synced: bool,
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
        Reflect::set(&record, &"body".into(), &body.into())?;
        let db = database().await?;
        let tx = db.transaction_with_str_and_mode(STORE, IdbTransactionMode::Readwrite)?;
        done(&tx.object_store(STORE)?.put(&record)?).await?;
        Ok(())
    }

    pub async fn outbox_all() -> Result<Vec<SubmitRequest>, JsValue> {
        let db = database().await?;
        let tx = db.transaction_with_str(STORE)?;
        let all: Array = done(&tx.object_store(STORE)?.get_all()?)
            .await?
            .dyn_into()?;
        Ok(all
            .iter()
            .filter_map(|record| Reflect::get(&record, &"body".into()).ok()?.as_string())
            .filter_map(|body| serde_json::from_str(&body).ok())
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
    pub async fn outbox_all() -> Result<Vec<SubmitRequest>, String> {
        Ok(Vec::new())
    }
    pub async fn outbox_remove(_submission_id: &str) -> Result<(), String> {
        Ok(())
    }
}

pub use browser::*;

/// Sends every queued submission; returns those the server answered (the rest stay queued).
pub async fn flush_outbox() -> Vec<(SubmitRequest, crate::survey::response::SubmitReply)> {
    use crate::error::AppError;
    let mut answered = Vec::new();
    let Ok(queued) = outbox_all().await else {
        return answered;
    };
    for request in queued {
        match crate::survey::api::submit_survey(request.clone()).await {
            Ok(reply) => {
                let _ = outbox_remove(&request.submission_id).await;
                clear_local(&request.code);
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
    answered
}
