//! The methodology TOML (`sipas compute --methodology`): `Ok` or a `StatsError`, and a
//! methodology that validates also compiles.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipas_stats::methodology::Methodology;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(methodology) = Methodology::from_toml(text) {
        assert!(
            methodology.compile().is_ok(),
            "validated but does not compile"
        );
    }
});
