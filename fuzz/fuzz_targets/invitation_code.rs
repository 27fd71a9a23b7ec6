//! `InvitationCode::parse` on any text: a code or an error, and a parsed code reads back as itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipas_app::survey::codes::InvitationCode;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(code) = InvitationCode::parse(&text) {
        assert_eq!(InvitationCode::parse(code.as_str()), Ok(code.clone()));
        assert_eq!(InvitationCode::parse(&code.display()), Ok(code));
    }
});
