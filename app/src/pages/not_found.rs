use leptos::prelude::*;

use crate::i18n::use_messages;

/// The fallback route; answers with HTTP 404 when rendered on the server.
#[component]
pub fn NotFound() -> impl IntoView {
    super::set_http_status(404);
    let t = use_messages();
    view! {
        <section class="card">
            <h1>{t.not_found_heading}</h1>
            <p>{t.not_found_body}</p>
            <p>
                <a href="/" rel="external">{t.back_home}</a>
            </p>
        </section>
    }
}
