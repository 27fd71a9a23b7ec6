//! The isomorphic user interface of the SIPAS platform.
//!
//! Compiled twice: with `ssr` into the server (rendering HTML, running server functions) and with
//! `hydrate` into the browser's wasm bundle. Server functions here stay thin: they parse input,
//! check the caller, call the storage port (`ports::Store`, server only) and map errors.

pub mod api;
pub mod components;
pub mod domain;
pub mod error;
pub mod i18n;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod ports;
#[cfg(feature = "ssr")]
pub mod results;
#[cfg(feature = "ssr")]
pub mod staff;
pub mod survey;
#[cfg(feature = "ssr")]
pub mod url;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::{
    ParamSegment, SsrMode, StaticSegment,
    components::{Route, Router, Routes},
};

use crate::i18n::{Locale, provide_locale};

/// The HTML document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let locale = Locale::from_request();
    view! {
        <!DOCTYPE html>
        <html lang=locale.code()>
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The root component: locale, routes and the page frame.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let locale = provide_locale();
    let t = locale.messages();
    // Effects run only in the browser, after hydration: a marker for tests and for styles that
    // should apply only to the enhanced page.
    Effect::new(move |_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
        // The service worker keeps the survey usable offline; submissions left in the outbox
        // by an earlier visit are sent now ("on the next visit").
        survey::client::register_service_worker();
        leptos::task::spawn_local(async {
            survey::client::flush_outbox().await;
        });
    });

    view! {
        <Stylesheet id="leptos" href="/pkg/sipas.css" />
        <Title text=t.site_title />
        <Router>
            <components::SiteHeader />
            <main id="main">
                // Async: the whole page is rendered before it is sent, so it works without JavaScript.
                <Routes fallback=|| view! { <pages::NotFound /> }>
                    <Route path=StaticSegment("khao-sat") view=pages::HomePage ssr=SsrMode::Async />
                    <Route path=StaticSegment("s") view=pages::SurveyEntryPage />
                    <Route
                        path=(StaticSegment("s"), ParamSegment("code"))
                        view=pages::SurveyPage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=(StaticSegment("s"), StaticSegment("open"), ParamSegment("wave"))
                        view=pages::OpenSurveyPage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=(StaticSegment("receipt"), ParamSegment("number"))
                        view=pages::ReceiptPage
                        ssr=SsrMode::Async
                    />
                </Routes>
            </main>
            <components::SiteFooter />
        </Router>
    }
}
