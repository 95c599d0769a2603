//! Binary-safe values on the command line: `--value-encoding utf8|hex|base64`.
//!
//! Hand-written hex and base64 (RFC 4648, standard alphabet, padded) instead
//! of two dependencies: each is a few lines and the tests pin them.

use std::io::Read;

use clap::ValueEnum;

/// How values are given on the command line and printed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum ValueEncoding {
    /// The bytes as given; printed raw (human) or as a JSON string (lossy if not UTF-8).
    #[default]
    Utf8,
    /// Two hex digits per byte (`68656c6c6f`).
    Hex,
    /// Standard base64 with padding (`aGVsbG8=`).
    Base64,
}

impl ValueEncoding {
    /// Decodes a value typed by the user (surrounding whitespace ignored for hex and base64).
    pub fn decode(self, text: &[u8]) -> Result<Vec<u8>, String> {
        match self {
            ValueEncoding::Utf8 => Ok(text.to_vec()),
            ValueEncoding::Hex => hex_decode(text.trim_ascii()),
            ValueEncoding::Base64 => base64_decode(text.trim_ascii()),
        }
    }

    /// Encodes a value for printing.
    pub fn encode(self, bytes: &[u8]) -> String {
        match self {
            ValueEncoding::Utf8 => String::from_utf8_lossy(bytes).into_owned(),
            ValueEncoding::Hex => bytes.iter().map(|b| format!("{b:02x}")).collect(),
            ValueEncoding::Base64 => base64_encode(bytes),
        }
    }

    /// The name shown in JSON output.
    pub fn name(self) -> &'static str {
        match self {
            ValueEncoding::Utf8 => "utf8",
            ValueEncoding::Hex => "hex",
            ValueEncoding::Base64 => "base64",
        }
    }
}

/// A value argument: `-` reads all of stdin, anything else is the value itself.
pub fn value_arg(arg: &str, encoding: ValueEncoding) -> Result<Vec<u8>, String> {
    if arg == "-" {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf).map_err(|e| format!("cannot read the value from stdin: {e}"))?;
        return encoding.decode(&buf).map_err(|e| format!("value from stdin: {e}"));
    }
    encoding.decode(arg.as_bytes())
}

fn hex_decode(text: &[u8]) -> Result<Vec<u8>, String> {
    if text.len() % 2 != 0 {
        return Err(format!("invalid hex: odd number of digits ({})", text.len()));
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err(format!("invalid hex digit {:?}", c as char)),
    };
    text.chunks(2).map(|p| Ok(digit(p[0])? << 4 | digit(p[1])?)).collect()
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_decode(text: &[u8]) -> Result<Vec<u8>, String> {
    if text.len() % 4 != 0 {
        return Err(format!("invalid base64: length {} is not a multiple of 4", text.len()));
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let quads = text.len() / 4;
    for (q, quad) in text.chunks(4).enumerate() {
        let pad = quad.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && q + 1 != quads) {
            return Err("invalid base64: misplaced '='".into());
        }
        let mut n = 0u32;
        for (i, &c) in quad[..4 - pad].iter().enumerate() {
            let v =
                B64.iter().position(|&b| b == c).ok_or_else(|| format!("invalid base64 character {:?}", c as char))?;
            n |= (v as u32) << (18 - 6 * i);
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_every_byte() {
        let all: Vec<u8> = (0..=255).collect();
        let text = ValueEncoding::Hex.encode(&all);
        assert_eq!(&text[..8], "00010203");
        assert_eq!(ValueEncoding::Hex.decode(text.as_bytes()).unwrap(), all);
        assert_eq!(ValueEncoding::Hex.decode(b"FF00\n").unwrap(), vec![0xff, 0]);
        assert!(ValueEncoding::Hex.decode(b"abc").is_err());
        assert!(ValueEncoding::Hex.decode(b"zz").is_err());
    }

    #[test]
    fn base64_matches_rfc_4648_test_vectors() {
        let vectors = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in vectors {
            assert_eq!(ValueEncoding::Base64.encode(plain.as_bytes()), encoded);
            assert_eq!(ValueEncoding::Base64.decode(encoded.as_bytes()).unwrap(), plain.as_bytes());
        }
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(ValueEncoding::Base64.decode(ValueEncoding::Base64.encode(&all).as_bytes()).unwrap(), all);
        assert!(ValueEncoding::Base64.decode(b"Zg=").is_err());
        assert!(ValueEncoding::Base64.decode(b"Zg==Zg==").is_err());
        assert!(ValueEncoding::Base64.decode(b"Z!==").is_err());
    }

    #[test]
    fn utf8_passes_bytes_through() {
        assert_eq!(ValueEncoding::Utf8.decode(b" x ").unwrap(), b" x ");
    }
}
