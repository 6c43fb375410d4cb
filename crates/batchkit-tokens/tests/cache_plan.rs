//! The cache plan's prefix analysis against a brute-force reference: every request's token
//! sequence held in memory and compared with every earlier request's.

use batchkit_tokens::{count_request_planned, PriceTable, Totals};
use serde_json::json;

const WORDS: &[&str] = &[
    "alpha", "beta", "gamma", "delta", "river", "stone", "cloud", "green", "house", "table",
    "light", "north", "south", "paper", "glass", "water", "field", "music", "night", "bread",
];

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn text(&mut self, words: usize) -> String {
        (0..words)
            .map(|_| WORDS[(self.next() % WORDS.len() as u64) as usize])
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn o200k(s: &str) -> Vec<u32> {
    tiktoken_rs::o200k_base_singleton()
        .encode_ordinary(s)
        .into_iter()
        .collect()
}

/// Runs lines through the plan as `tokens` does, in order.
fn plan(lines: &[String]) -> (Totals, batchkit_tokens::Summary) {
    let mut t = Totals::default();
    for (i, l) in lines.iter().enumerate() {
        let (r, p) = count_request_planned(l.as_bytes(), None, true);
        t.add(&r);
        if let (Ok(r), Some(p)) = (&r, &p) {
            t.add_prefixes(r, p, "f.jsonl", i as u64 + 1);
        }
    }
    let s = t.summary(&PriceTable::embedded());
    (t, s)
}

/// An OpenAI chat request rendered as the cookbook counts it: (item, tokens) in prompt order,
/// where an item is a token id or a structure marker; the 3 reply-priming tokens last.
fn openai_sequence(messages: &[(&str, String)]) -> Vec<(u64, u64)> {
    let mut v = Vec::new();
    for (role, content) in messages {
        v.push((u64::MAX - 1, 3)); // per message
        v.push((u64::MAX - 2, 0)); // key "role"
        v.extend(o200k(role).into_iter().map(|t| (u64::from(t), 1)));
        v.push((u64::MAX - 3, 0)); // key "content"
        v.extend(o200k(content).into_iter().map(|t| (u64::from(t), 1)));
    }
    v.push((u64::MAX - 4, 3));
    v
}

fn common_tokens(a: &[(u64, u64)], b: &[(u64, u64)]) -> u64 {
    a.iter()
        .zip(b)
        .take_while(|(x, y)| x == y)
        .map(|(x, _)| x.1)
        .sum()
}

#[test]
fn openai_prefixes_match_brute_force() {
    let mut rng = Rng(0x1234_5678);
    // Shared system prompts of several lengths around the 1,024-token minimum.
    let systems: Vec<String> = [700usize, 900, 1010, 1020, 1100, 1300, 2000]
        .iter()
        .map(|&n| rng.text(n))
        .collect();
    let mut lines = Vec::new();
    let mut seqs = Vec::new();
    for i in 0..300 {
        let pick = (rng.next() % (systems.len() as u64 + 1)) as usize;
        let system = systems.get(pick).cloned().unwrap_or_else(|| rng.text(1500));
        // A unique number first, so requests part at a one-token piece.
        let words = 10 + (rng.next() % 300) as usize;
        let user = format!("{i:03} {}", rng.text(words));
        let msgs = [("system", system.clone()), ("user", user.clone())];
        lines.push(
            json!({"custom_id": format!("r{i}"), "method": "POST", "url": "/v1/chat/completions",
                "body": {"model": "gpt-4o-mini", "messages": [
                    {"role": "system", "content": system}, {"role": "user", "content": user}]}})
            .to_string(),
        );
        seqs.push(openai_sequence(&msgs));
    }
    // Reference: each request reads the longest prefix (from 1,024 tokens in 128-token steps)
    // it shares with any earlier request.
    let mut want = 0;
    let mut readers = 0;
    for i in 0..seqs.len() {
        let best = (0..i)
            .map(|j| common_tokens(&seqs[i], &seqs[j]))
            .max()
            .unwrap_or(0);
        if best >= 1024 {
            want += 1024 + (best - 1024) / 128 * 128;
            readers += 1;
        }
    }
    let (_, s) = plan(&lines);
    let total: u64 = seqs
        .iter()
        .map(|s| s.iter().map(|x| x.1).sum::<u64>())
        .sum();
    assert_eq!(
        s.input_tokens, total,
        "the reference renders what is counted"
    );
    let c = s.models[0].cache.as_ref().unwrap();
    assert!(readers > 100, "{readers}");
    assert_eq!(c.cacheable_input_tokens, want);
    assert!(c.exact);
    assert_eq!(c.rule, Some("openai_prefix"));
    // Prefixes under the minimum are noticed.
    assert!(c.requests_under_minimum > 0);
}

/// Anthropic: a `cache_control` breakpoint on the system block; reads when an earlier request
/// wrote the same prefix and it reaches the model's minimum.
#[test]
fn anthropic_breakpoints_match_brute_force() {
    for (model, min) in [
        ("claude-opus-5", 512u64),
        ("claude-sonnet-4-5", 1024),
        ("claude-opus-4-7", 2048),
        ("claude-haiku-4-5", 4096),
    ] {
        let new_tokenizer = model == "claude-opus-5" || model == "claude-opus-4-7";
        let scale = |t: u64| {
            if new_tokenizer {
                (t * 13).div_ceil(10)
            } else {
                t
            }
        };
        let mut rng = Rng(0xfeed ^ min);
        let sizes = [
            min * 8 / 10,
            min * 95 / 100,
            min,
            min * 105 / 100,
            min * 3 / 2,
        ];
        let systems: Vec<String> = sizes.iter().map(|&n| rng.text(n as usize)).collect();
        let mut lines = Vec::new();
        let mut want = 0;
        let mut want_potential = 0;
        let mut written: Vec<String> = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        for i in 0..120 {
            let system = systems[(rng.next() % systems.len() as u64) as usize].clone();
            let marked = !rng.next().is_multiple_of(4);
            let user = format!("{i:03} {}", rng.text(20));
            let mut block = json!({"type": "text", "text": system});
            if marked {
                block["cache_control"] = json!({"type": "ephemeral"});
            }
            lines.push(
                json!({"custom_id": format!("a{i}"), "params": {"model": model, "max_tokens": 100,
                    "system": [block], "messages": [{"role": "user", "content": user}]}})
                .to_string(),
            );
            // The prefix up to the end of the system block: 4 per request + its text.
            let end = 4 + scale(o200k(&system).len() as u64);
            if marked && end >= min && written.contains(&system) {
                want += end;
            }
            if end >= min && seen.contains(&system) {
                want_potential += end;
            }
            if marked {
                written.push(system.clone());
            }
            seen.push(system);
        }
        let (_, s) = plan(&lines);
        let c = s.models[0].cache.as_ref().unwrap();
        assert_eq!(c.minimum_tokens, Some(min as u32), "{model}");
        assert_eq!(c.cacheable_input_tokens, want, "{model}");
        assert!(want > 0, "{model}");
        assert_eq!(
            c.potential_cacheable_input_tokens,
            Some(want_potential),
            "{model}"
        );
    }
}

/// Without breakpoints, an Anthropic file gets the potential saving and where the breakpoint
/// goes.
#[test]
fn anthropic_without_breakpoints_gets_a_hint() {
    let mut rng = Rng(77);
    let system = rng.text(1500);
    let lines: Vec<String> = (0..10)
        .map(|i| {
            json!({"custom_id": format!("a{i}"), "params": {"model": "claude-sonnet-4-5",
                "max_tokens": 100, "system": system,
                "messages": [{"role": "user", "content": format!("{i:03} question")}]}})
            .to_string()
        })
        .collect();
    let (_, s) = plan(&lines);
    let c = s.models[0].cache.as_ref().unwrap();
    assert_eq!(c.cacheable_input_tokens, 0);
    let hint = c.breakpoint.as_ref().expect("a hint");
    assert_eq!(hint.pointer, "/params/system");
    assert_eq!(hint.line, 2);
    assert_eq!(hint.requests, 10);
    assert_eq!(c.potential_cacheable_input_tokens, Some(9 * hint.tokens));
    assert!(c.potential_batch_cache_low.unwrap() < c.batch_cache_low.unwrap());
    assert!(matches!(
        &c.suggestion,
        Some(batchkit_tokens::Advice::Breakpoint { hint: h, .. }) if h.pointer == "/params/system"
    ));
}

/// Shared content after a part that differs is not a prefix: the advice says to move it.
#[test]
fn shared_block_not_first_is_noticed() {
    let mut rng = Rng(99);
    let shared = rng.text(1500);
    let lines: Vec<String> = (0..20)
        .map(|i| {
            json!({"custom_id": format!("r{i}"), "url": "/v1/chat/completions", "body": {
                "model": "gpt-5-mini", "messages": [
                    {"role": "system", "content": format!("{i:03} user id")},
                    {"role": "user", "content": shared}]}})
            .to_string()
        })
        .collect();
    let (_, s) = plan(&lines);
    let c = s.models[0].cache.as_ref().unwrap();
    assert_eq!(c.cacheable_input_tokens, 0);
    assert_eq!(c.requests_with_shared_content_not_first, 19);
    assert_eq!(
        c.suggestion,
        Some(batchkit_tokens::Advice::SharedContentNotFirst {
            requests: 19,
            tokens: c.shared_content_not_first_tokens
        })
    );
}

/// The plan changes no count, and a small table still answers (approximate, labelled).
#[test]
fn a_small_table_is_labelled_approximate() {
    let mut rng = Rng(5);
    let lines: Vec<String> = (0..400)
        .map(|i| {
            json!({"custom_id": format!("r{i}"), "url": "/v1/chat/completions", "body": {
                "model": "gpt-5-mini", "messages": [{"role": "user", "content": rng.text(3000)}]}})
            .to_string()
        })
        .collect();
    let mut t = Totals::default();
    t.set_prefix_table_slots(256);
    for (i, l) in lines.iter().enumerate() {
        let (r, p) = count_request_planned(l.as_bytes(), None, true);
        assert_eq!(
            r.as_ref().unwrap().input_tokens,
            batchkit_tokens::count_request(l.as_bytes(), None)
                .unwrap()
                .input_tokens
        );
        t.add(&r);
        t.add_prefixes(r.as_ref().unwrap(), p.as_ref().unwrap(), "f", i as u64 + 1);
    }
    let s = t.summary(&PriceTable::embedded());
    let c = s.models[0].cache.as_ref().unwrap();
    assert!(!c.exact);
    assert_eq!(c.cacheable_input_tokens, 0);
}
