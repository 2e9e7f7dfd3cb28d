//! Local password generation with the options and defaults of Secrets
//! Manager's GetRandomPassword: 32 characters of upper- and lower-case
//! letters, digits and punctuation, with at least one of each included type.
//!
//! Randomness comes from the operating system's CSPRNG (`getrandom(2)`).
//! Each character is drawn by rejection sampling: a random byte at or above
//! the largest multiple of the alphabet size below 256 is thrown away, so
//! `byte % size` picks every allowed character with the same probability.
//! When each included type is required, a whole password that lacks a type
//! is thrown away and drawn again. The accepted passwords are therefore
//! uniform over all passwords that satisfy the rule. No position is more
//! likely than another to contain a given type, which placing the required
//! characters first, or replacing a character to fix a missing type, would
//! break.

#![forbid(unsafe_code)]

use zeroize::Zeroizing;

use crate::cli::PasswordOptions;
use crate::secret::Secret;

/// The punctuation set of GetRandomPassword: every printable ASCII character
/// that is neither a letter, a digit nor a space.
pub const PUNCTUATION: &[u8] = b"!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
const LOWERCASE: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
const UPPERCASE: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const DIGITS: &[u8] = b"0123456789";

/// Maximum password length, as GetRandomPassword's `PasswordLength` (1 to 4096).
pub const MAX_LENGTH: u32 = 4096;

/// Whole passwords drawn before giving up. The rarest accepted password
/// among all option combinations is about 1 in 2,200 draws (length 4 with
/// three types cut down to one character each by `--exclude-characters`),
/// so reaching this bound means the random source is broken.
const MAX_ATTEMPTS: u32 = 1_000_000;

/// Error of password options that cannot produce any password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("--length must be between 1 and {MAX_LENGTH}, not {0}")]
    Length(u32),
    #[error("every character is excluded, so no password can be generated")]
    NothingAllowed,
    #[error(
        "--length {length} is shorter than the {types} character types that must each appear \
         (lower-case, upper-case, digits, punctuation, less the excluded ones)"
    )]
    TooShort { length: u32, types: usize },
}

/// Error of generation with valid options: the random source failed.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("the operating system's random number generator failed: {0}")]
    Random(getrandom::Error),
    #[error("no password satisfied the required character types after {MAX_ATTEMPTS} attempts")]
    GaveUp,
}

/// Validated password options: the alphabet and the types that must appear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    length: usize,
    /// Every allowed character, in a fixed order, without duplicates.
    alphabet: Vec<u8>,
    /// For each ASCII byte, the bit of its required type, or 0.
    type_bit: [u8; 128],
    /// The bits of all required types.
    required: u8,
}

impl Policy {
    /// Validates the options of `password` and of `create`/`put --generate`.
    pub fn from_options(options: &PasswordOptions) -> Result<Policy, PolicyError> {
        if options.length == 0 || options.length > MAX_LENGTH {
            return Err(PolicyError::Length(options.length));
        }
        let excluded = |c: &u8| options.exclude_characters.as_bytes().contains(c);

        let types = [
            (LOWERCASE, options.exclude_lowercase),
            (UPPERCASE, options.exclude_uppercase),
            (DIGITS, options.exclude_numbers),
            (PUNCTUATION, options.exclude_punctuation),
        ];
        let mut alphabet = Vec::new();
        let mut type_bit = [0u8; 128];
        let mut required = 0u8;
        for (bit, (characters, is_excluded)) in types.into_iter().enumerate() {
            if is_excluded {
                continue;
            }
            let allowed: Vec<u8> = characters.iter().copied().filter(|c| !excluded(c)).collect();
            // A type whose every character is excluded by --exclude-characters
            // is left out, as if its --exclude-* flag had been given.
            if allowed.is_empty() {
                continue;
            }
            if !options.no_require_each_included_type {
                required |= 1 << bit;
                for &c in &allowed {
                    type_bit[usize::from(c)] = 1 << bit;
                }
            }
            alphabet.extend(allowed);
        }
        // The space is an allowed character, never a required type, as in
        // GetRandomPassword's `IncludeSpace`.
        if options.include_space && !excluded(&b' ') {
            alphabet.push(b' ');
        }

        if alphabet.is_empty() {
            return Err(PolicyError::NothingAllowed);
        }
        let types = required.count_ones() as usize;
        if (options.length as usize) < types {
            return Err(PolicyError::TooShort { length: options.length, types });
        }
        Ok(Policy { length: options.length as usize, alphabet, type_bit, required })
    }

    /// Returns every allowed character, each once.
    pub fn alphabet(&self) -> &[u8] {
        &self.alphabet
    }

    /// Checks that `password` contains at least one character of every required type.
    fn has_required_types(&self, password: &[u8]) -> bool {
        let seen = password.iter().fold(0u8, |seen, &c| seen | self.type_bit[usize::from(c & 0x7f)]);
        seen & self.required == self.required
    }
}

/// Generates one password from the operating system's CSPRNG.
pub fn generate(policy: &Policy) -> Result<Secret, GenerateError> {
    let mut random = RandomBytes::new();
    // Reserved once, so no partial password is left behind in a regrown buffer.
    let mut password = Vec::with_capacity(policy.length);

    for _ in 0..MAX_ATTEMPTS {
        password.clear();
        for _ in 0..policy.length {
            password.push(policy.alphabet[random.below(policy.alphabet.len())?]);
        }
        if policy.has_required_types(&password) {
            return Ok(Secret::new(password));
        }
    }
    // Wipe the last rejected attempt before the buffer is freed.
    drop(Secret::new(password));
    Err(GenerateError::GaveUp)
}

/// A buffer of random bytes, refilled from the OS as it runs out and wiped
/// when dropped, because rejected and accepted bytes alike reveal the password.
struct RandomBytes {
    buffer: Zeroizing<[u8; 256]>,
    next: usize,
}

impl RandomBytes {
    fn new() -> RandomBytes {
        RandomBytes { buffer: Zeroizing::new([0; 256]), next: 256 }
    }

    fn byte(&mut self) -> Result<u8, GenerateError> {
        if self.next == self.buffer.len() {
            getrandom::fill(&mut self.buffer[..]).map_err(GenerateError::Random)?;
            self.next = 0;
        }
        let byte = self.buffer[self.next];
        self.next += 1;
        Ok(byte)
    }

    /// Returns a uniform index in `0..size`, for `size` from 1 to 256.
    fn below(&mut self, size: usize) -> Result<usize, GenerateError> {
        debug_assert!((1..=256).contains(&size));
        // The largest multiple of `size` that is at most 256: bytes below it
        // map onto each index equally often.
        let limit = 256 - 256 % size;
        loop {
            let byte = usize::from(self.byte()?);
            if byte < limit {
                return Ok(byte % size);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> PasswordOptions {
        PasswordOptions {
            length: 32,
            exclude_characters: String::new(),
            exclude_numbers: false,
            exclude_punctuation: false,
            exclude_uppercase: false,
            exclude_lowercase: false,
            include_space: false,
            no_require_each_included_type: false,
        }
    }

    fn generate_text(policy: &Policy) -> String {
        String::from_utf8(generate(policy).unwrap().expose().to_vec()).unwrap()
    }

    #[test]
    fn defaults_match_get_random_password() {
        let policy = Policy::from_options(&defaults()).unwrap();
        assert_eq!(policy.alphabet().len(), 26 + 26 + 10 + 32);
        assert_eq!(PUNCTUATION.len(), 32);
        assert!(PUNCTUATION.iter().all(|c| c.is_ascii_punctuation()));
        let password = generate_text(&policy);
        assert_eq!(password.len(), 32);
        assert!(password.bytes().any(|c| c.is_ascii_lowercase()));
        assert!(password.bytes().any(|c| c.is_ascii_uppercase()));
        assert!(password.bytes().any(|c| c.is_ascii_digit()));
        assert!(password.bytes().any(|c| c.is_ascii_punctuation()));
    }

    #[test]
    fn excluded_characters_never_appear() {
        let options = PasswordOptions { length: 4096, exclude_characters: "\"\\aZ5".into(), ..defaults() };
        let policy = Policy::from_options(&options).unwrap();
        let password = generate_text(&policy);
        assert_eq!(password.len(), 4096);
        for excluded in ['"', '\\', 'a', 'Z', '5'] {
            assert!(!password.contains(excluded), "{excluded:?} appeared");
        }
    }

    #[test]
    fn excluded_types_never_appear() {
        let options = PasswordOptions {
            length: 4096,
            exclude_numbers: true,
            exclude_punctuation: true,
            exclude_uppercase: true,
            include_space: true,
            ..defaults()
        };
        let password = generate_text(&Policy::from_options(&options).unwrap());
        assert!(password.bytes().all(|c| c.is_ascii_lowercase() || c == b' '));
        assert!(password.contains(' '));
    }

    #[test]
    fn impossible_options_rejected() {
        let everything = PasswordOptions {
            exclude_numbers: true,
            exclude_punctuation: true,
            exclude_uppercase: true,
            exclude_lowercase: true,
            ..defaults()
        };
        assert_eq!(Policy::from_options(&everything), Err(PolicyError::NothingAllowed));
        let all_digits_by_character = PasswordOptions { exclude_characters: "0123456789".into(), ..everything };
        assert_eq!(
            Policy::from_options(&PasswordOptions { exclude_numbers: false, ..all_digits_by_character }),
            Err(PolicyError::NothingAllowed)
        );
        assert_eq!(Policy::from_options(&PasswordOptions { length: 0, ..defaults() }), Err(PolicyError::Length(0)));
        assert_eq!(
            Policy::from_options(&PasswordOptions { length: 4097, ..defaults() }),
            Err(PolicyError::Length(4097))
        );
        assert_eq!(
            Policy::from_options(&PasswordOptions { length: 3, ..defaults() }),
            Err(PolicyError::TooShort { length: 3, types: 4 })
        );
    }

    #[test]
    fn short_lengths_accepted_when_possible() {
        assert!(Policy::from_options(&PasswordOptions { length: 4096, ..defaults() }).is_ok());
        let four = Policy::from_options(&PasswordOptions { length: 4, ..defaults() }).unwrap();
        for _ in 0..200 {
            let password = generate_text(&four);
            assert!(four.has_required_types(password.as_bytes()), "{password}");
        }
        let unrequired = PasswordOptions { length: 1, no_require_each_included_type: true, ..defaults() };
        assert_eq!(generate_text(&Policy::from_options(&unrequired).unwrap()).len(), 1);
    }

    #[test]
    fn fully_excluded_type_not_required() {
        let options = PasswordOptions { length: 3, exclude_characters: "0123456789".into(), ..defaults() };
        let password = generate_text(&Policy::from_options(&options).unwrap());
        assert!(!password.bytes().any(|c| c.is_ascii_digit()));
    }

    #[test]
    fn rarest_policy_still_generates() {
        // Three required types of one character each, plus lower-case letters
        // and a space: the option combination with the fewest acceptable
        // passwords for its length.
        let options = PasswordOptions {
            length: 4,
            exclude_characters: "ABCDEFGHIJKLMNOPQRSTUVWXY012345678!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}".into(),
            include_space: true,
            ..defaults()
        };
        let policy = Policy::from_options(&options).unwrap();
        assert_eq!(policy.alphabet(), b"abcdefghijklmnopqrstuvwxyzZ9~ ");
        let password = generate_text(&policy);
        for required in ['Z', '9', '~'] {
            assert!(password.contains(required), "{password}");
        }
    }

    /// The position of each type must not depend on the required-type rule:
    /// with length 4 and every type required, every position contains a digit
    /// equally often. A chi-square test over the 4 positions (3 degrees of
    /// freedom) at p = 0.0001 has the critical value 21.11.
    #[test]
    fn required_types_do_not_bias_positions() {
        let policy = Policy::from_options(&PasswordOptions { length: 4, ..defaults() }).unwrap();
        let mut digits_at = [0u64; 4];
        let samples = 20_000;
        for _ in 0..samples {
            let password = generate(&policy).unwrap();
            for (position, c) in password.expose().iter().enumerate() {
                if c.is_ascii_digit() {
                    digits_at[position] += 1;
                }
            }
        }
        let total: u64 = digits_at.iter().sum();
        // Every password has exactly one digit here: 4 required types in 4 places.
        assert_eq!(total, samples);
        let expected = total as f64 / 4.0;
        let chi_square: f64 = digits_at.iter().map(|&n| (n as f64 - expected).powi(2) / expected).sum();
        assert!(chi_square < 21.11, "digit counts by position {digits_at:?}, chi-square {chi_square}");
    }

    #[test]
    fn below_stays_in_range() {
        let mut random = RandomBytes::new();
        for size in [1, 3, 94, 95, 255, 256] {
            for _ in 0..1000 {
                assert!(random.below(size).unwrap() < size);
            }
        }
    }
}
