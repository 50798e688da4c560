//! bench/plugins/echo-process's handler as a native Rust plugin (bench/native.bench.ts).

use std::collections::BTreeMap;
use veza_plugin::{Plugin, Response, Value};

fn main() {
    Plugin::new()
        .route("POST /echo", |_, req| {
            let headers =
                BTreeMap::from([("content-type".to_owned(), Value::from("application/json"))]);
            Ok(Response {
                status_code: 200,
                headers,
                body: req.body,
            })
        })
        .route("POST /fail", |_, _| Ok(Response::json(500, ())))
        .serve();
}
