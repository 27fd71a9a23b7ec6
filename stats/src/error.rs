use thiserror::Error;

/// Everything that can go wrong in the statistics engine. Messages name the place (row, column,
/// stratum, node) so a statistician can fix the input.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum StatsError {
    #[error("row {row}, column {column}: {message}")]
    Input {
        row: u64,
        column: String,
        message: String,
    },
    #[error("{0}")]
    Csv(String),
    #[error("methodology: {0}")]
    Methodology(String),
    #[error(
        "stratum {stratum:?} has only one PSU (lonely_psu = \"fail\"); choose another lonely-PSU policy"
    )]
    LonelyPsu { stratum: String },
    #[error("weighting: {0}")]
    Weighting(String),
    #[error("{0}")]
    Invalid(String),
}
