//! The device check of the quality review ("a code answered from many devices"): every browser
//! that opens a survey page keeps a random id in an HttpOnly cookie (set by the server's edge,
//! `server::web::device`). When a draft or the submission of a code arrives, the store keeps the
//! hash of that id *with the code's hash*, never the id itself: the same browser gives unrelated
//! hashes for two codes, so nothing links one respondent's codes, and nothing identifies the
//! browser outside this one count.

use crate::survey::codes::sha256_hex;

/// The cookie's name.
pub const DEVICE_COOKIE: &str = "sipas_device";

/// A device id as the server hands them out: 128 random bits, 32 lower-case hex digits.
pub fn is_device_id(value: &str) -> bool {
    value.len() == 32
        && value
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The device id in a `Cookie` header value, if it carries a well-formed one.
pub fn from_cookie_header(header: &str) -> Option<&str> {
    header.split(';').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        let value = value.trim();
        (name.trim() == DEVICE_COOKIE && is_device_id(value)).then_some(value)
    })
}

/// The device id in a request's headers (every `Cookie` header a client sent), if any.
pub fn from_headers(headers: &http::HeaderMap) -> Option<&str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(from_cookie_header)
}

/// The current request's device id, if the browser sent one (server functions).
pub fn from_request() -> Option<String> {
    let parts = leptos::prelude::use_context::<http::request::Parts>()?;
    from_headers(&parts.headers).map(str::to_owned)
}

/// What the store keeps of a device for one code.
pub fn device_hash(code_hash: &str, device: &str) -> String {
    sha256_hex(format!("sipas-device\u{1f}{code_hash}\u{1f}{device}").as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_ids_are_read() {
        let id = "0123456789abcdef0123456789abcdef";
        assert_eq!(
            from_cookie_header(&format!("lang=en; {DEVICE_COOKIE}={id}")),
            Some(id)
        );
        assert_eq!(from_cookie_header(&format!("{DEVICE_COOKIE}=abc")), None);
        assert_eq!(
            from_cookie_header(&format!("{DEVICE_COOKIE}={}", id.to_uppercase())),
            None
        );
        assert_eq!(from_cookie_header(&format!("x{DEVICE_COOKIE}={id}")), None);
    }

    #[test]
    fn one_browser_hashes_differently_for_two_codes() {
        let id = "0123456789abcdef0123456789abcdef";
        let (a, b) = (device_hash("aa", id), device_hash("bb", id));
        assert_ne!(a, b);
        assert_eq!(a, device_hash("aa", id));
        assert_eq!(a.len(), 64);
    }
}
