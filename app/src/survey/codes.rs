//! Invitation codes: 80 random bits written as 16 Crockford base-32 symbols plus a check symbol,
//! in groups of four for reading off paper: `7KQM-9T2X-4RPA-8VNE-J`. Crockford's alphabet has no
//! I, L, O or U, and decoding forgives case, spaces, dashes and the look-alikes (O→0, I/L→1), so a
//! code typed from paper still works; the mod-37 check symbol catches a wrong or swapped symbol
//! before the server is asked.
//!
//! Only a hash of a code is stored (see the server's adapters); the code itself exists on paper
//! and in the QR link `/s/CODE`.

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Check symbols: the 32 above and five more (values 32..36).
const CHECK_ALPHABET: &[u8; 37] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ*~$=U";

/// Symbols of payload: 16 × 5 bits = 80 bits.
pub const PAYLOAD_SYMBOLS: usize = 16;
/// Bytes of randomness a code carries.
pub const RANDOM_BYTES: usize = 10;

/// A syntactically valid invitation code in canonical form (no separators, upper case).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InvitationCode(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("an invitation code has {expected} characters, this one has {found}")]
    Length { expected: usize, found: usize },
    #[error("{0:?} cannot appear in an invitation code")]
    Symbol(char),
    #[error("the code has a typing mistake (its last character does not match)")]
    Checksum,
}

/// Upper case, with the look-alikes read as the digits they resemble (O→0, I/L→1). Neither
/// alphabet contains O, I or L, so this never turns one valid symbol into another.
fn normalize(c: char) -> char {
    match c.to_ascii_uppercase() {
        'O' => '0',
        'I' | 'L' => '1',
        other => other,
    }
}

fn symbol_value(c: char) -> Option<u8> {
    let c = normalize(c);
    ALPHABET
        .iter()
        .position(|&a| a as char == c)
        .map(|v| v as u8)
}

fn check_symbol(values: &[u8]) -> u8 {
    // The payload as a big number, mod 37, accumulated symbol by symbol.
    let remainder = values
        .iter()
        .fold(0u32, |acc, &v| (acc * 32 + u32::from(v)) % 37);
    CHECK_ALPHABET[remainder as usize]
}

impl InvitationCode {
    /// Builds a code from 10 random bytes (the caller supplies a cryptographic source).
    pub fn from_random(bytes: [u8; RANDOM_BYTES]) -> Self {
        let mut bits: u128 = 0;
        for byte in bytes {
            bits = (bits << 8) | u128::from(byte);
        }
        let values: Vec<u8> = (0..PAYLOAD_SYMBOLS)
            .rev()
            .map(|i| ((bits >> (5 * i)) & 0x1f) as u8)
            .collect();
        let mut text: String = values
            .iter()
            .map(|&v| ALPHABET[v as usize] as char)
            .collect();
        text.push(check_symbol(&values) as char);
        Self(text)
    }

    /// Parses what a person typed or a link carried.
    pub fn parse(input: &str) -> Result<Self, CodeError> {
        let symbols: Vec<char> = input
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect();
        if symbols.len() != PAYLOAD_SYMBOLS + 1 {
            return Err(CodeError::Length {
                expected: PAYLOAD_SYMBOLS + 1,
                found: symbols.len(),
            });
        }
        let mut values = Vec::with_capacity(PAYLOAD_SYMBOLS);
        for &c in &symbols[..PAYLOAD_SYMBOLS] {
            values.push(symbol_value(c).ok_or(CodeError::Symbol(c))?);
        }
        let check = normalize(symbols[PAYLOAD_SYMBOLS]);
        if check_symbol(&values) as char != check {
            return Err(CodeError::Checksum);
        }
        let mut text: String = values
            .iter()
            .map(|&v| ALPHABET[v as usize] as char)
            .collect();
        text.push(check);
        Ok(Self(text))
    }

    /// Whether the check symbol is one of the 32 code symbols, not one of Crockford's five
    /// extra check symbols (`*`, `~`, `$`, `=`, `U`). New codes are drawn until it is (about one
    /// draw in seven is drawn again): a respondent hesitates over a code ending in `*` (is it
    /// part of the code?), and `*`, `~`, `$`, `=` read badly in a link. Codes printed before
    /// remain valid: reading accepts every check symbol.
    pub fn has_plain_check(&self) -> bool {
        self.0
            .bytes()
            .last()
            .is_some_and(|last| ALPHABET.contains(&last))
    }

    /// Canonical form, as used in links and hashed for storage.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Grouped for printing: `7KQM-9T2X-4RPA-8VNE-J`.
    pub fn display(&self) -> String {
        let chars: Vec<char> = self.0.chars().collect();
        chars
            .chunks(4)
            .map(|chunk| chunk.iter().collect::<String>())
            .collect::<Vec<_>>()
            .join("-")
    }
}

/// The stored form of a code: hex SHA-256 of its canonical text. A plain hash is enough here
/// (unlike passwords): each code carries 80 random bits, so there is nothing to guess from it.
#[cfg(feature = "ssr")]
pub fn hash(code: &InvitationCode) -> String {
    sha256_hex(code.as_str().as_bytes())
}

/// Lower-case hexadecimal SHA-256 (code hashes, content hashes of responses, asset tags).
#[cfg(feature = "ssr")]
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex(&Sha256::digest(bytes))
}

/// Lower-case hexadecimal.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A receipt number: 60 random bits as 12 Crockford symbols in groups of four.
pub fn receipt_number(bytes: [u8; 8]) -> String {
    let bits = u64::from_be_bytes(bytes);
    let symbols: String = (0..12)
        .map(|i| ALPHABET[((bits >> (55 - 5 * i)) & 31) as usize] as char)
        .collect();
    format!("{}-{}-{}", &symbols[0..4], &symbols[4..8], &symbols[8..12])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_forgives_typing() {
        let code = InvitationCode::from_random([
            0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x0f, 0xa5,
        ]);
        assert_eq!(code.as_str().len(), 17);
        let printed = code.display();
        assert_eq!(printed.len(), 21);
        assert_eq!(InvitationCode::parse(&printed), Ok(code.clone()));
        let sloppy = printed
            .to_lowercase()
            .replace('-', " ")
            .replace('0', "o")
            .replace('1', "l");
        assert_eq!(InvitationCode::parse(&sloppy), Ok(code));
    }

    #[test]
    fn detects_mistakes() {
        let code = InvitationCode::from_random([7; RANDOM_BYTES]);
        let text = code.as_str();
        // Change one payload symbol.
        let mut wrong: Vec<char> = text.chars().collect();
        wrong[3] = if wrong[3] == 'A' { 'B' } else { 'A' };
        assert_eq!(
            InvitationCode::parse(&wrong.iter().collect::<String>()),
            Err(CodeError::Checksum)
        );
        assert!(matches!(
            InvitationCode::parse("ABC"),
            Err(CodeError::Length { .. })
        ));
        assert_eq!(
            InvitationCode::parse("UUUUUUUUUUUUUUUU0"),
            Err(CodeError::Symbol('U'))
        );
    }

    #[test]
    fn codes_with_an_extra_check_symbol_stay_valid() {
        // Some 10-byte draws give a check symbol beyond the 32 (value 32..36).
        let extra = (0u8..=255)
            .map(|b| InvitationCode::from_random([b, 7, 1, 2, 3, 4, 5, 6, 7, 8]))
            .find(|c| !c.has_plain_check())
            .expect("a code with an extra check symbol");
        let last = extra.as_str().chars().last().unwrap();
        assert!("*~$=U".contains(last), "{extra:?}");
        assert_eq!(InvitationCode::parse(&extra.display()).as_ref(), Ok(&extra));
        let plain = (0u8..=255)
            .map(|b| InvitationCode::from_random([b, 7, 1, 2, 3, 4, 5, 6, 7, 8]))
            .find(InvitationCode::has_plain_check)
            .expect("a plain code");
        assert!(
            plain
                .as_str()
                .chars()
                .last()
                .unwrap()
                .is_ascii_alphanumeric()
        );
    }

    #[test]
    fn look_alikes_are_forgiven_in_the_check_symbol_too() {
        // Find codes whose check symbol is 0 or 1, and type it as O, o, I, i, L or l.
        for seed in 0..=255u8 {
            let code = InvitationCode::from_random([seed; RANDOM_BYTES]);
            let (payload, check) = code.as_str().split_at(PAYLOAD_SYMBOLS);
            let typed: &[&str] = match check {
                "0" => &["O", "o"],
                "1" => &["I", "i", "L", "l"],
                _ => continue,
            };
            for alike in typed {
                assert_eq!(
                    InvitationCode::parse(&format!("{payload}{alike}")),
                    Ok(code.clone()),
                    "check symbol typed as {alike}"
                );
            }
        }
        // At least one of each kind exists among 256 codes (mod 37: ~7 each).
        let checks: Vec<char> = (0..=255u8)
            .filter_map(|s| {
                InvitationCode::from_random([s; RANDOM_BYTES])
                    .as_str()
                    .chars()
                    .last()
            })
            .collect();
        assert!(checks.contains(&'0') && checks.contains(&'1'));
    }

    #[test]
    fn different_randomness_gives_different_codes() {
        let a = InvitationCode::from_random([0; RANDOM_BYTES]);
        let mut bytes = [0; RANDOM_BYTES];
        bytes[9] = 1;
        assert_ne!(a, InvitationCode::from_random(bytes));
    }
}
