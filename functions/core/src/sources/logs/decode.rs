//! Decoding a CloudWatch Logs payload: base64 (when it is text) of gzip or
//! zlib, bounded by [`MAX_DECODED_BYTES`], or JSON that was decoded already.

use std::borrow::Cow;
use std::io::Read;

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use crate::input::RowError;

/// A payload that decompresses to more than this is quarantined unread.
///
/// CloudWatch Logs sends at most 1 MiB of log events per payload (10,000 events,
/// 256 KiB each at most), so this is 16x headroom; it bounds the handler's memory
/// (a payload is held decoded once, plus its rows).
pub const MAX_DECODED_BYTES: usize = 16 * 1024 * 1024;

/// Standard alphabet; padding optional (`aws_lambda_events` insists on it, real
/// producers and hand-made test payloads do not always send it).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes one payload into the CloudWatch Logs JSON: base64 (when it is text)
/// of gzip or zlib, or already-decoded JSON (backfill of decoded payloads).
pub fn decode_payload(body: &[u8]) -> Result<Cow<'_, [u8]>, RowError> {
    let body = body.trim_ascii();
    if body.first() == Some(&b'{') {
        return Ok(Cow::Borrowed(body));
    }
    if body.len() > MAX_DECODED_BYTES {
        return Err(RowError::new(format!(
            "payload is {} bytes, over the {MAX_DECODED_BYTES}-byte limit",
            body.len()
        )));
    }
    // CloudWatch Logs payloads arrive as base64 text; backfill may hand over raw bytes.
    let compressed: Cow<'_, [u8]> = match compression(body) {
        Some(_) => Cow::Borrowed(body),
        None => Cow::Owned(BASE64.decode(body).map_err(|e| {
            RowError::new(format!(
                "payload is not base64, gzip, zlib or JSON: base64 says {e}"
            ))
        })?),
    };
    match compression(&compressed) {
        Some(kind) => inflate(&compressed, kind).map(Cow::Owned),
        None if compressed.first() == Some(&b'{') => Ok(Cow::Owned(compressed.into_owned())),
        None => Err(RowError::new(format!(
            "decoded payload is neither gzip nor zlib (starts with {:02x?}); CloudWatch Logs gzips every payload",
            &compressed[..compressed.len().min(4)]
        ))),
    }
}

#[derive(Clone, Copy)]
enum Compression {
    Gzip,
    Zlib,
}

fn compression(b: &[u8]) -> Option<Compression> {
    match b {
        [0x1f, 0x8b, ..] => Some(Compression::Gzip),
        // zlib: CM = 8 (deflate), and the header checksum holds.
        [cmf, flg, ..] if cmf & 0x0f == 8 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0 => {
            Some(Compression::Zlib)
        }
        _ => None,
    }
}

/// Inflates gzip or zlib, refusing to produce more than [`MAX_DECODED_BYTES`].
fn inflate(compressed: &[u8], kind: Compression) -> Result<Vec<u8>, RowError> {
    // gzip's trailer holds the decoded size (mod 2^32): allocate once.
    let hint = match kind {
        Compression::Gzip if compressed.len() >= 18 => {
            let n = compressed.len();
            u32::from_le_bytes([
                compressed[n - 4],
                compressed[n - 3],
                compressed[n - 2],
                compressed[n - 1],
            ]) as usize
        }
        _ => compressed.len() * 8,
    };
    let mut out = Vec::with_capacity(hint.min(MAX_DECODED_BYTES + 1));
    let limit = MAX_DECODED_BYTES as u64 + 1;
    let (name, read) = match kind {
        Compression::Gzip => (
            "gzip",
            flate2::read::MultiGzDecoder::new(compressed)
                .take(limit)
                .read_to_end(&mut out),
        ),
        Compression::Zlib => (
            "zlib",
            flate2::read::ZlibDecoder::new(compressed)
                .take(limit)
                .read_to_end(&mut out),
        ),
    };
    read.map_err(|e| RowError::new(format!("{name} payload is corrupt or truncated: {e}")))?;
    if out.len() > MAX_DECODED_BYTES {
        return Err(RowError::new(format!(
            "{name} payload inflates past the {MAX_DECODED_BYTES}-byte limit ({} bytes compressed); quarantined unread",
            compressed.len()
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zlib_headers_are_recognized() {
        assert!(matches!(
            compression(&[0x78, 0xda]),
            Some(Compression::Zlib)
        ));
        assert!(matches!(
            compression(&[0x78, 0x9c]),
            Some(Compression::Zlib)
        ));
        assert!(matches!(
            compression(&[0x1f, 0x8b]),
            Some(Compression::Gzip)
        ));
        assert!(compression(b"H4sI").is_none());
        assert!(compression(b"{}").is_none());
    }
}
