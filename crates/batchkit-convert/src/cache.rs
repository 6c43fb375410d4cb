//! `--cache auto`: Anthropic `cache_control` breakpoints where the file's requests share a
//! prefix, found by batchkit-tokens' prompt-cache plan (the same prefix hashes `tokens`
//! prices the cache with). While lines are converted, the plan's candidate block ends of each
//! converted line are counted by hash; then each line gets, at most 4 breakpoints in all,
//! one at the end of the longest prefix another request shares, then at shorter ones shared
//! by more requests (a shorter prefix pays only where more requests read it). Breakpoints
//! the line already has stay and count toward the 4 (platform.claude.com/docs/en/
//! build-with-claude/prompt-caching: "up to 4 cache breakpoints").

use std::collections::HashMap;

use batchkit_tokens::{count_request_planned, Prefixes};
use serde_json::{json, Value};

/// Anthropic's limit of breakpoints in a request.
const MAX_BREAKPOINTS: usize = 4;

/// Whether a boundary of the plan is of `kind` (`Candidate`: a block end where a breakpoint
/// could go; `Breakpoint`: one the line has). batchkit-tokens does not name the kind's type
/// outside itself, so it is told by name.
fn kind_is(b: &batchkit_tokens::Prefixes, i: usize, kind: &str) -> bool {
    format!("{:?}", b.boundaries[i].kind) == kind
}

/// The candidate block ends of a converted line (`line` without its newline), by hash, and
/// the number of breakpoints it has.
pub(crate) fn prefixes(line: &[u8], model: Option<&str>) -> Option<Prefixes> {
    count_request_planned(line, model, true).1
}

/// How many requests carry each candidate prefix, bounded: when full, new prefixes are not
/// counted (fewer breakpoints, never a wrong one).
#[derive(Debug)]
pub(crate) struct Counts {
    map: HashMap<u64, u32>,
    cap: usize,
}

impl Counts {
    pub(crate) fn new(bytes: u64) -> Self {
        // About 32 bytes an entry.
        let cap = usize::try_from(bytes / 32).unwrap_or(usize::MAX).max(1024);
        Counts {
            map: HashMap::new(),
            cap,
        }
    }

    pub(crate) fn add(&mut self, hashes: &[u64]) {
        for h in hashes {
            let room = self.map.len() < self.cap;
            match self.map.get_mut(h) {
                Some(n) => *n = n.saturating_add(1),
                None if room => {
                    self.map.insert(*h, 1);
                }
                None => {}
            }
        }
    }

    fn get(&self, h: u64) -> u32 {
        self.map.get(&h).copied().unwrap_or(0)
    }
}

/// The hashes of `p`'s candidate block ends.
pub(crate) fn candidates(p: &Prefixes) -> Vec<u64> {
    (0..p.boundaries.len())
        .filter(|&i| kind_is(p, i, "Candidate"))
        .map(|i| p.boundaries[i].hash)
        .collect()
}

/// `line` (a converted Anthropic or Bedrock Claude line) with breakpoints placed; `None` when
/// none pays.
pub(crate) fn place(line: &[u8], model: Option<&str>, counts: &Counts) -> Option<Vec<u8>> {
    let p = prefixes(line, model)?;
    let existing = (0..p.boundaries.len())
        .filter(|&i| kind_is(&p, i, "Breakpoint"))
        .count();
    let mut shared: Vec<(u32, u32, &str)> = (0..p.boundaries.len())
        .filter(|&i| kind_is(&p, i, "Candidate"))
        .map(|i| &p.boundaries[i])
        .filter_map(|b| {
            let n = counts.get(b.hash);
            (n >= 2).then(|| (b.tokens, n, b.pointer.as_deref().unwrap_or("")))
        })
        .filter(|(_, _, at)| !at.is_empty())
        .collect();
    shared.sort_by_key(|s| std::cmp::Reverse(s.0));
    let mut picked = Vec::new();
    let mut readers = 0;
    for (_, n, at) in shared {
        if existing + picked.len() >= MAX_BREAKPOINTS {
            break;
        }
        if n > readers {
            picked.push(at);
            readers = n;
        }
    }
    if picked.is_empty() {
        return None;
    }
    let mut v: Value = serde_json::from_slice(line).ok()?;
    for at in picked {
        let Some(block) = v.pointer_mut(at) else {
            continue;
        };
        match block {
            Value::String(s) => {
                let text = std::mem::take(s);
                *block =
                    json!([{"type": "text", "text": text, "cache_control": {"type": "ephemeral"}}]);
            }
            Value::Object(o) => {
                o.insert("cache_control".into(), json!({"type": "ephemeral"}));
            }
            _ => {}
        }
    }
    simd_json::serde::to_vec(&v).ok()
}
