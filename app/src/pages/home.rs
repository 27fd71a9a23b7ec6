//! `/`: what SIPAS is, and the provinces of the geography in force.

use leptos::either::Either;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::current_provinces;
use crate::components::{LoadFailed, ProvinceTable};
use crate::i18n::use_messages;

#[component]
pub fn HomePage() -> impl IntoView {
    let t = use_messages();
    // The filter works twice: as a plain GET form (no JavaScript) and live while typing once
    // the page has hydrated.
    let initial_filter = use_query_map()
        .read_untracked()
        .get("q")
        .unwrap_or_default();
    let filter = RwSignal::new(initial_filter);
    let provinces = Resource::new(|| (), |_| current_provinces());

    view! {
        <section class="hero">
            <h1>{t.home_heading}</h1>
            <p>{t.home_intro}</p>
            <p>
                <a class="button-link" href="/s">{t.survey_enter_heading}</a>
                " "
                <a href="/" rel="external">{t.results_link}</a>
            </p>
        </section>
        <section class="card" aria-labelledby="provinces-heading">
            <h2 id="provinces-heading">{t.provinces_heading}</h2>
            <p class="muted">{t.provinces_note}</p>
            <form method="get" action="/khao-sat" role="search" class="filter">
                <label for="province-filter">{t.filter_label}</label>
                <div class="filter-row">
                    <input
                        id="province-filter"
                        name="q"
                        type="search"
                        autocomplete="off"
                        placeholder=t.filter_hint
                        prop:value=move || filter.get()
                        on:input=move |ev| filter.set(event_target_value(&ev))
                    />
                    <button type="submit">{t.filter_button}</button>
                </div>
            </form>
            <Suspense fallback=move || view! { <p>{t.loading}</p> }>
                {move || Suspend::new(async move {
                    match provinces.await {
                        Ok(list) => Either::Left(view! { <ProvinceTable provinces=list filter /> }),
                        Err(_) => Either::Right(view! { <LoadFailed /> }),
                    }
                })}
            </Suspense>
        </section>
    }
}
