//! The one model of a request line, read the same way by every batchkit command, and the one
//! vocabulary of what is wrong with it ([`Diagnostic`]).
//!
//! A request line is parsed once, by one JSON engine (simd-json's tape, into per-thread
//! buffers reused from line to line: no allocation per line once warm), and read through one
//! view, [`RequestLine`], whose field locations (id, payload, model, url, method, messages,
//! output caps) come from `batchkit-providers`' `styles.toml`. `validate`, `dupes`,
//! `tokens`, `shard` and `join` all walk this path, so a line means one thing to all of them,
//! and a provider that follows an existing shape is a data change. A line's id follows one
//! rule, [`RequestLine::id`] (the shape's id field, else its `also_id` fields). A line of a
//! batch's results is read through [`ResultLine`]: `join` takes result ids from it, and
//! `validate` recognises a results file given as requests with it.
//!
//! The reading rules of `batchkit-json` hold: the first of duplicate keys is read (a tape
//! lookup finds the first), every RFC 8259 number is accepted (a number beyond `f64` is
//! clamped by a second pass over a sanitised copy), nesting deeper than
//! [`batchkit_json::MAX_DEPTH`] is refused; a refusal is described in the words of
//! [`batchkit_json::syntax`].
//!
//! ```
//! use batchkit_line::{read, RequestLine, prelude::*};
//! let line = br#"{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"gpt-4o","max_tokens":5,"messages":[]}}"#;
//! let (id, model, max) = read(line, |root| {
//!     let req = RequestLine::detect(root).unwrap();
//!     (req.id_str().map(str::to_string), req.model().map(str::to_string), req.max_output_tokens())
//! })
//! .unwrap();
//! assert_eq!((id.as_deref(), model.as_deref(), max), (Some("a"), Some("gpt-4o"), Some(5)));
//! let err = read(b"{\"a\":1,}", |_| ()).unwrap_err();
//! assert_eq!(err.kind.code(), "invalid_json");
//! ```

mod diag;
mod engine;
mod request;
mod result;
mod sink;

pub use diag::{BlankRun, Code, Diagnostic, Severity};
pub use engine::{
    duplicate_keys, entries, has_duplicate_keys, read, read_located, read_raw, to_serde, type_name,
    Entries, Located,
};
pub use request::{Id, RequestLine};
pub use result::{ResultLayout, ResultLine};
pub use sink::Sink;

/// The parsed JSON types every command reads (simd-json's tape).
pub use simd_json::tape::{Array, Object, Value};

/// The traits that give [`Value`] its accessors (`as_str`, `as_u64`, `is_null`, ...).
pub mod prelude {
    pub use simd_json::prelude::*;
}
