use leptos::prelude::*;

use crate::domain::{Province, UnitKind, fold_vietnamese};
use crate::i18n::use_messages;

/// The provinces that match `filter` (accent- and case-insensitive), with a live count.
#[component]
pub fn ProvinceTable(provinces: Vec<Province>, filter: RwSignal<String>) -> impl IntoView {
    let t = use_messages();
    let total = provinces.len();
    let folded: Vec<(String, Province)> = provinces
        .into_iter()
        .map(|p| (fold_vietnamese(&p.name_vi), p))
        .collect();
    let visible = Memo::new(move |_| {
        let needle = fold_vietnamese(filter.get().trim());
        folded
            .iter()
            .filter(|(name, p)| needle.is_empty() || name.contains(&needle) || p.code == needle)
            .map(|(_, p)| p.clone())
            .collect::<Vec<_>>()
    });

    view! {
        <p class="muted" aria-live="polite" data-testid="province-count">
            {t.showing} " " {move || visible.with(Vec::len)} " " {t.of} " " {total} " " {t.units}
        </p>
        <Show
            when=move || visible.with(|v| !v.is_empty())
            fallback=move || view! { <p>{t.no_match}</p> }
        >
            <table class="provinces">
                <thead>
                    <tr>
                        <th scope="col">{t.code}</th>
                        <th scope="col">{t.name}</th>
                        <th scope="col">{t.kind}</th>
                    </tr>
                </thead>
                <tbody>
                    <For each=move || visible.get() key=Province::key let:province>
                        <tr>
                            <td>{province.code.clone()}</td>
                            <td>{province.name_vi.clone()}</td>
                            <td>
                                {match province.kind {
                                    UnitKind::City => t.kind_city,
                                    UnitKind::Province => t.kind_province,
                                }}
                            </td>
                        </tr>
                    </For>
                </tbody>
            </table>
        </Show>
    }
}
