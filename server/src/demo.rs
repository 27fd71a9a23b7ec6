//! Demonstration data, so a newcomer sees a working platform at once. Idempotent: running it
//! again leaves what is there.

use sipas_app::domain::{Geography, QuestionnaireRef, Wave};
use sipas_app::ports::{Store, StoreError};

/// The waves `sipas demo` creates.
pub fn demo_waves() -> Vec<Wave> {
    vec![Wave {
        code: "sipas-2026-demo".to_owned(),
        title: "SIPAS 2026 (dữ liệu minh họa / demonstration data)".to_owned(),
        year: 2026,
        geography: Geography::G2025,
        questionnaire: Some(QuestionnaireRef {
            code: "sipas-2023".to_owned(),
            version: 1,
        }),
        // A demonstration is a pilot: the open link is on.
        open_link: true,
        closed: false,
    }]
}

/// Seeds the demonstration data; returns how many waves were new. Also publishes the default
/// questionnaire (idempotent).
pub async fn seed(store: &dyn Store) -> Result<usize, StoreError> {
    let questionnaire = crate::questionnaires::parse(crate::questionnaires::SIPAS_2023)
        .map_err(StoreError::Backend)?;
    store.publish_questionnaire(&questionnaire).await?;
    let mut created = 0;
    for wave in demo_waves() {
        match store.create_wave(&wave).await {
            Ok(()) => created += 1,
            Err(StoreError::Conflict(_)) => {}
            Err(other) => return Err(other),
        }
    }
    Ok(created)
}
