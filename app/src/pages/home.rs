//! `/khao-sat`: the citizens' entry. What the survey is, how long it takes, how the answers are
//! protected, and how to start: with the code of an invitation (checked while typing once the
//! page has hydrated, sent as a plain form without JavaScript), or what to do without one.

use leptos::prelude::*;

use crate::i18n::use_messages;
use crate::pages::survey::CodeForm;

#[component]
pub fn HomePage() -> impl IntoView {
    let t = use_messages();
    view! {
        <section class="hero">
            <h1>{t.entry_heading}</h1>
            <p>{t.entry_what}</p>
            <ul class="facts">
                <li>{t.entry_time}</li>
                <li>{t.entry_privacy}</li>
                <li>{t.entry_use}</li>
            </ul>
        </section>
        <section class="card" aria-labelledby="with-code">
            <h2 id="with-code">{t.entry_with_code}</h2>
            <CodeForm />
        </section>
        <section class="card" aria-labelledby="without-code">
            <h2 id="without-code">{t.entry_without_code}</h2>
            <p>{t.entry_without_code_body}</p>
            <p><a href="/" rel="external">{t.results_link}</a></p>
        </section>
    }
}
