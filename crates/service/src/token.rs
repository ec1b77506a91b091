//! API tokens: 256 random bits from the operating system, shown to their owner once.
//!
//! The log (and every snapshot) stores only the SHA-256 of a token, so a copy of the
//! database does not let anyone act as a user. Tokens are random, not passwords, so a fast
//! hash is enough: there is nothing to brute-force.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use std::fmt;

/// Characters of a token: 64 lowercase hex digits (256 bits).
pub const TOKEN_CHARS: usize = 64;

/// A token as handed to its owner (never stored).
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// A fresh token from the OS's random source.
    pub fn generate() -> Result<Token, String> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| format!("the operating system gave no random bytes: {e}"))?;
        Ok(Token(hex(&bytes)))
    }

    /// Checks the shape of a token given by a person (env var, header).
    pub fn parse(text: &str) -> Result<Token, String> {
        let text = text.trim();
        if text.len() != TOKEN_CHARS || !text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Err(format!("a token is {TOKEN_CHARS} lowercase hexadecimal characters"));
        }
        Ok(Token(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash(Sha256::digest(self.0.as_bytes()).into())
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(…)") // never in logs
    }
}

/// SHA-256 of a token: what the log keeps. Serialized as 64 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenHash(pub [u8; 32]);

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({}…)", &hex(&self.0)[..8])
    }
}

impl Serialize for TokenHash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex(&self.0))
    }
}

impl<'de> Deserialize<'de> for TokenHash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let bytes = unhex(&text).ok_or_else(|| serde::de::Error::custom("a token hash is 64 hex digits"))?;
        Ok(TokenHash(bytes))
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

fn unhex(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in text.as_bytes().chunks(2).enumerate() {
        let digit = |c: u8| (c as char).to_digit(16);
        out[i] = (digit(pair[0])? * 16 + digit(pair[1])?) as u8;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_hex_and_hashes_round_trip() {
        let a = Token::generate().unwrap();
        let b = Token::generate().unwrap();
        assert_ne!(a, b);
        assert_eq!(Token::parse(a.as_str()).unwrap(), a);
        let json = serde_json::to_string(&a.hash()).unwrap();
        assert_eq!(serde_json::from_str::<TokenHash>(&json).unwrap(), a.hash());
        assert!(Token::parse("short").is_err());
        assert!(Token::parse(&"G".repeat(64)).is_err());
        // The SHA-256 of 64 zeros, as `sha256sum` computes it.
        let known = Token::parse(&"0".repeat(64)).unwrap().hash();
        assert_eq!(hex(&known.0), "60e05bd1b195af2f94112fa7197a5c88289058840ce7c6df9693756bc6250f55");
    }
}
