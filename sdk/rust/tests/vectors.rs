//! The plugin protocol's shared conformance vectors (test/protocol-vectors/frames.json), read by this
//! crate's frame reader: the same file the host and the Go SDK test against.

use std::path::Path;
use veza_plugin::{Value, encode_frame, read_frame};

fn vectors() -> serde_json::Value {
    let file =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test/protocol-vectors/frames.json");
    serde_json::from_str(&std::fs::read_to_string(file).expect("the shared vectors")).unwrap()
}

fn bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

/// The vectors' JSON form as a MessagePack value: `{"$bin": hex}` is bytes.
fn from_json(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::from(*b),
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Value::from(i),
            (_, Some(u)) => Value::from(u),
            _ => Value::from(n.as_f64().unwrap()),
        },
        serde_json::Value::String(s) => Value::from(s.as_str()),
        serde_json::Value::Array(items) => Value::Array(items.iter().map(from_json).collect()),
        serde_json::Value::Object(o) => match o.get("$bin") {
            Some(serde_json::Value::String(hex)) if o.len() == 1 => Value::Binary(bytes(hex)),
            _ => Value::Map(
                o.iter()
                    .map(|(k, v)| (Value::from(k.as_str()), from_json(v)))
                    .collect(),
            ),
        },
    }
}

/// Equal as values: maps in any order, integers whatever their width, floats by value.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.iter().any(|(k2, v2)| k == k2 && same(v, v2)))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Value::F32(x), Value::F64(y)) | (Value::F64(y), Value::F32(x)) => f64::from(*x) == *y,
        (Value::Integer(x), Value::Integer(y)) => {
            x.as_i64() == y.as_i64() && x.as_u64() == y.as_u64()
        }
        _ => a == b,
    }
}

#[test]
fn decodes_every_good_frame() {
    let v = vectors();
    let good = v["frames"]
        .as_array()
        .unwrap()
        .iter()
        .chain(v["also"].as_array().unwrap());
    for case in good {
        let name = case["name"].as_str().unwrap();
        let want: Vec<Value> = match case.get("values") {
            Some(values) => values.as_array().unwrap().iter().map(from_json).collect(),
            None => vec![from_json(&case["value"])],
        };
        let stream = bytes(case["hex"].as_str().unwrap());
        let mut reader = stream.as_slice();
        for w in &want {
            let got = read_frame(&mut reader, 1 << 20)
                .unwrap_or_else(|e| panic!("{name}: {e}"))
                .unwrap();
            assert!(same(&got, w), "{name}: got {got:?}, want {w:?}");
        }
        assert!(reader.is_empty(), "{name}: bytes left");
    }
}

#[test]
fn round_trips_every_message() {
    for case in vectors()["frames"].as_array().unwrap() {
        let value = from_json(&case["value"]);
        let frame = encode_frame(&value).unwrap();
        let got = read_frame(&mut frame.as_slice(), 1 << 20).unwrap().unwrap();
        assert!(same(&got, &value), "{}", case["name"]);
    }
}

#[test]
fn refuses_every_bad_stream_for_its_reason() {
    for case in vectors()["bad"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let limit = case
            .get("maxFrameBytes")
            .and_then(|m| m.as_u64())
            .unwrap_or(1 << 20) as u32;
        let stream = bytes(case["hex"].as_str().unwrap());
        let error = read_frame(&mut stream.as_slice(), limit).expect_err(name);
        assert_eq!(
            error.kind,
            case["error"].as_str().unwrap(),
            "{name}: {error}"
        );
    }
}
