//! The names a run gives its files: the shards' stem, group slugs and numbering, the
//! manifest, the rejects and the staging directory.

use batchkit_io::{Input, Source};

use crate::output::Layout;
use crate::SplitBy;

/// Name of the manifest inside the output directory.
pub const MANIFEST: &str = "manifest.json";
/// Name of the rejected-lines file inside the output directory.
pub const REJECTED: &str = "rejected.jsonl";
/// Prefix of the staging directories a run writes into before renaming.
pub const STAGING_PREFIX: &str = batchkit_io::staging::PREFIX;

/// The stem shard names start with: the input's file name without `.zst`, `.jsonl`,
/// `.json`, `.ndjson` (`stdin` for standard input).
pub fn default_stem(input: &Input) -> String {
    let name = match &input.source {
        Source::Stdin => return "stdin".into(),
        Source::Path(p) => p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    let mut s = name.as_str();
    for ext in [".zst", ".zstd", ".jsonl", ".ndjson", ".json", ".txt"] {
        if let Some(t) = s.strip_suffix(ext) {
            s = t;
        }
    }
    let slug = slug(s);
    if slug.is_empty() {
        "shard".into()
    } else {
        slug
    }
}

/// A file-name-safe form of a model or url: ASCII letters, digits, `.`, `_` and `-`, at most
/// 64 characters (`/v1/chat/completions` → `v1-chat-completions`).
pub fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
        if out.len() >= 64 {
            break;
        }
    }
    let t = out.trim_end_matches(['-', '.']);
    t.trim_start_matches('.').to_string()
}

/// The slug of a group before numbering: empty without `--split-by`, so shard names stay
/// `stem-00001`; a key with nothing file-name-safe in it, or no key, gets a placeholder.
pub(crate) fn group_slug(key: Option<&str>, split_by: SplitBy) -> String {
    match (key, split_by) {
        (_, SplitBy::None) => String::new(),
        (Some(k), _) if !slug(k).is_empty() => slug(k),
        (_, SplitBy::Model) => "no-model".into(),
        (_, _) => "no-url".into(),
    }
}

/// The file name of shard `n` of a group.
pub(crate) fn shard_file(stem: &str, group_slug: &str, n: u64, ext: &str) -> String {
    if group_slug.is_empty() {
        format!("{stem}-{n:05}.{ext}")
    } else {
        format!("{stem}-{group_slug}-{n:05}.{ext}")
    }
}

/// The extension of every shard: what the file holds, then `.zst` when compressed.
pub(crate) fn extension(layout: Layout, compressed: bool) -> String {
    let mut ext = match layout {
        Layout::Jsonl => "jsonl".to_string(),
        Layout::Body => "json".to_string(),
    };
    if compressed {
        ext.push_str(".zst");
    }
    ext
}
