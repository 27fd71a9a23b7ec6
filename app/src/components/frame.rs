use leptos::prelude::*;
use leptos_router::hooks::use_location;

use crate::i18n::{Locale, use_messages};

/// Skip link, site name and the language switch.
#[component]
pub fn SiteHeader() -> impl IntoView {
    let t = use_messages();
    let current = use_context::<Locale>().unwrap_or_default();
    let path = use_location().pathname;

    let switch = Locale::ALL
        .into_iter()
        .map(|locale| {
            // `rel="external"`: a full request to the server, which sets the cookie; the
            // client-side router must not try to handle it.
            let href = move || format!("/lang/{}?next={}", locale.code(), path.get());
            let is_current = locale == current;
            view! {
                <li>
                    <a
                        href=href
                        rel="external nofollow"
                        hreflang=locale.code()
                        lang=locale.code()
                        aria-current=is_current.then_some("true")
                    >
                        {locale.endonym()}
                    </a>
                </li>
            }
        })
        .collect_view();

    view! {
        <a class="skip-link" href="#main">{t.skip_to_content}</a>
        <header class="site-header">
            <a class="brand" href="/khao-sat">{t.site_name}</a>
            <nav aria-label=t.language>
                <ul class="lang-switch">{switch}</ul>
            </nav>
        </header>
    }
}

#[component]
pub fn SiteFooter() -> impl IntoView {
    let t = use_messages();
    view! {
        <footer class="site-footer">
            <p>{t.footer}</p>
        </footer>
    }
}

/// What a page shows when its data could not be loaded (the cause is in the server log).
#[component]
pub fn LoadFailed() -> impl IntoView {
    crate::pages::set_http_status(503);
    let t = use_messages();
    view! { <p role="alert" class="error">{t.load_failed}</p> }
}
