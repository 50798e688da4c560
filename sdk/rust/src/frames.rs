//! Frames of the plugin protocol: a 4-byte big-endian length, then one MessagePack value.

use rmpv::Value;
use std::fmt;
use std::io::{self, Read};

/// The largest frame this side reads: the gateway never sends one over 64 MiB.
pub const MAX_FRAME_BYTES: u32 = 64 << 20;

/// How deep a value may nest (the host's own bound: a body's 256 levels and the envelope).
const MAX_DEPTH: usize = 264;

/// Why a stream of frames was refused; `kind` is `empty`, `too-large`, `malformed` or `unfinished`,
/// as the conformance vectors name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError {
    pub kind: &'static str,
    pub reason: String,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "plugin protocol: {} ({})", self.reason, self.kind)
    }
}

impl std::error::Error for FrameError {}

fn refuse(kind: &'static str, reason: impl Into<String>) -> FrameError {
    FrameError {
        kind,
        reason: reason.into(),
    }
}

/// Reads one frame and decodes its value. `Ok(None)` is the end of the stream before a frame began.
pub fn read_frame(r: &mut impl Read, max_bytes: u32) -> Result<Option<Value>, FrameError> {
    let mut header = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match r.read(&mut header[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => {
                return Err(refuse(
                    "unfinished",
                    "the stream ended inside a frame's length",
                ));
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(refuse("unfinished", format!("the stream failed: {e}"))),
        }
    }
    let length = u32::from_be_bytes(header);
    if length == 0 {
        return Err(refuse("empty", "an empty frame"));
    }
    if length > max_bytes {
        return Err(refuse(
            "too-large",
            format!("a frame of {length} bytes, over the limit of {max_bytes}"),
        ));
    }
    let mut payload = vec![0u8; length as usize];
    r.read_exact(&mut payload)
        .map_err(|_| refuse("unfinished", "the stream ended inside a frame"))?;
    decode_payload(&payload).map(Some)
}

/// One frame's payload as a value: exactly one MessagePack value, string keys, no extension type but
/// the timestamp (-1).
pub fn decode_payload(payload: &[u8]) -> Result<Value, FrameError> {
    // rmpv reads the reserved marker 0xc1 as nil: the protocol refuses it.
    if has_reserved_marker(payload, 0, 0)?.is_none() {
        return Err(refuse(
            "malformed",
            "a frame that does not decode: the reserved marker 0xc1",
        ));
    }
    let mut rest = payload;
    let value = rmpv::decode::read_value_with_max_depth(&mut rest, MAX_DEPTH + 1)
        .map_err(|e| refuse("malformed", format!("a frame that does not decode: {e}")))?;
    if !rest.is_empty() {
        return Err(refuse(
            "malformed",
            format!("a frame with {} bytes after its value", rest.len()),
        ));
    }
    plain(&value)?;
    Ok(value)
}

fn plain(value: &Value) -> Result<(), FrameError> {
    match value {
        Value::Map(entries) => {
            for (k, v) in entries {
                if !k.is_str() {
                    return Err(refuse("malformed", "a map key that is not a string"));
                }
                plain(v)?;
            }
            Ok(())
        }
        Value::Array(items) => items.iter().try_for_each(plain),
        Value::Ext(-1, _) => Ok(()),
        Value::Ext(kind, _) => Err(refuse(
            "malformed",
            format!("MessagePack extension type {kind}"),
        )),
        Value::String(s) if s.as_str().is_none() => {
            Err(refuse("malformed", "a string that is not UTF-8"))
        }
        _ => Ok(()),
    }
}

/// One value as a frame: its length, then its MessagePack bytes.
pub fn encode_frame(value: &Value) -> io::Result<Vec<u8>> {
    let mut frame = vec![0u8; 4];
    rmpv::encode::write_value(&mut frame, value).map_err(io::Error::other)?;
    let length =
        u32::try_from(frame.len() - 4).map_err(|_| io::Error::other("a frame over 4 GiB"))?;
    frame[..4].copy_from_slice(&length.to_be_bytes());
    Ok(frame)
}

/// Walks one value's markers from `at`: `Some(end)`, or `None` at a reserved marker (0xc1). Lengths past
/// the payload are left to the decoder, which refuses them.
fn has_reserved_marker(b: &[u8], at: usize, depth: usize) -> Result<Option<usize>, FrameError> {
    use rmp::Marker;
    if depth > MAX_DEPTH {
        return Err(refuse(
            "malformed",
            "a frame that does not decode: nested too deep",
        ));
    }
    let Some(&byte) = b.get(at) else {
        return Ok(Some(b.len()));
    };
    let be = |n: usize| -> usize {
        b.get(at + 1..at + 1 + n).map_or(usize::MAX / 4, |s| {
            s.iter().fold(0usize, |acc, &x| acc << 8 | x as usize)
        })
    };
    let skip =
        |header: usize, len: usize| Ok(Some(at.saturating_add(1 + header).saturating_add(len)));
    let items = |header: usize, count: usize, per: usize| -> Result<Option<usize>, FrameError> {
        let mut pos = at + 1 + header;
        for _ in 0..count.saturating_mul(per) {
            if pos >= b.len() {
                return Ok(Some(b.len()));
            }
            match has_reserved_marker(b, pos, depth + 1)? {
                Some(end) => pos = end,
                None => return Ok(None),
            }
        }
        Ok(Some(pos))
    };
    match Marker::from_u8(byte) {
        Marker::Reserved => Ok(None),
        Marker::FixPos(_) | Marker::FixNeg(_) | Marker::Null | Marker::True | Marker::False => {
            skip(0, 0)
        }
        Marker::U8 | Marker::I8 => skip(1, 0),
        Marker::U16 | Marker::I16 => skip(2, 0),
        Marker::U32 | Marker::I32 | Marker::F32 => skip(4, 0),
        Marker::U64 | Marker::I64 | Marker::F64 => skip(8, 0),
        Marker::FixStr(n) => skip(0, n as usize),
        Marker::Str8 | Marker::Bin8 => skip(1, be(1)),
        Marker::Str16 | Marker::Bin16 => skip(2, be(2)),
        Marker::Str32 | Marker::Bin32 => skip(4, be(4)),
        Marker::FixExt1 => skip(1, 1),
        Marker::FixExt2 => skip(1, 2),
        Marker::FixExt4 => skip(1, 4),
        Marker::FixExt8 => skip(1, 8),
        Marker::FixExt16 => skip(1, 16),
        Marker::Ext8 => skip(2, be(1)),
        Marker::Ext16 => skip(3, be(2)),
        Marker::Ext32 => skip(5, be(4)),
        Marker::FixArray(n) => items(0, n as usize, 1),
        Marker::Array16 => items(2, be(2), 1),
        Marker::Array32 => items(4, be(4), 1),
        Marker::FixMap(n) => items(0, n as usize, 2),
        Marker::Map16 => items(2, be(2), 2),
        Marker::Map32 => items(4, be(4), 2),
    }
}
