//! Text put into links the server renders.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Escaped: everything but letters, digits and `- _ . /`.
const URL_PART: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'/');

/// `value` made safe as a path segment or a query value (UTF-8, percent-encoded).
pub fn url_part(value: &str) -> String {
    utf8_percent_encode(value, URL_PART).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_stay_and_the_rest_is_escaped() {
        assert_eq!(url_part("sipas-2025_v1/a.csv"), "sipas-2025_v1/a.csv");
        assert_eq!(url_part("a b&c=d?"), "a%20b%26c%3Dd%3F");
        assert_eq!(url_part("Hà Nội"), "H%C3%A0%20N%E1%BB%99i");
    }
}
