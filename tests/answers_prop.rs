//! Answers, as a property: a generated mix of result lines of every layout `join` reads (random
//! stop values, unknown ones included, random envelope errors, requests without a result,
//! orphans) joins to the status and `stop_reason` a reference gives each line, and the summary
//! counts the same statuses and the same stop reasons per model.
//!
//! The reference is written here by hand from the providers' documented stop values (their
//! SDKs' enums and docs, as cited in crates/batchkit-providers/data/stop_reasons.toml), not read
//! from that table: the two are independent readings of the same facts.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::{json, Value};

use crate::util::{json_lines, run, Dir};

/// What a stop value says: finished (tool calls included), cut, refused, or other (neither;
/// counted as succeeded, as unknown values are).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    F,
    C,
    R,
    O,
}
use Class::{C, F, O, R};

/// Chat completions, every OpenAI-style host (OpenAI, Azure, Mistral, Groq, Together, vLLM,
/// xAI): `choices[0].finish_reason`.
const CHAT: &[(&str, Class)] = &[
    ("stop", F),
    ("eos", F),
    ("tool_calls", F),
    ("function_call", F),
    ("REASON_TOOL_CALLS", F),
    ("length", C),
    ("model_length", C),
    ("REASON_MAX_LEN", C),
    ("REASON_MAX_CONTEXT", C),
    ("content_filter", R),
    ("error", O),
    ("abort", O),
    ("repetition", O),
    ("REASON_TIME_LIMIT", O),
];
/// Responses `status`; when `incomplete`, `incomplete_details.reason` is the value.
const RESPONSES: &[(&str, Class)] = &[
    ("completed", F),
    ("failed", O),
    ("cancelled", O),
    ("queued", O),
    ("in_progress", O),
];
const INCOMPLETE: &[(&str, Class)] = &[("max_output_tokens", C), ("content_filter", R)];
/// Anthropic and Bedrock Claude `stop_reason`.
const ANTHROPIC: &[(&str, Class)] = &[
    ("end_turn", F),
    ("stop_sequence", F),
    ("tool_use", F),
    ("max_tokens", C),
    ("model_context_window_exceeded", C),
    ("refusal", R),
    ("pause_turn", O),
];
/// Bedrock Nova and Converse `stopReason`.
const NOVA: &[(&str, Class)] = &[
    ("end_turn", F),
    ("stop_sequence", F),
    ("tool_use", F),
    ("max_tokens", C),
    ("model_context_window_exceeded", C),
    ("guardrail_intervened", R),
    ("content_filtered", R),
    ("malformed_model_output", O),
    ("malformed_tool_use", O),
];
/// Bedrock Llama `stop_reason`.
const LLAMA: &[(&str, Class)] = &[("stop", F), ("length", C)];
/// Gemini and Vertex `candidates[0].finishReason`.
const GEMINI: &[(&str, Class)] = &[
    ("STOP", F),
    ("MAX_TOKENS", C),
    ("SAFETY", R),
    ("RECITATION", R),
    ("BLOCKLIST", R),
    ("PROHIBITED_CONTENT", R),
    ("SPII", R),
    ("IMAGE_SAFETY", R),
    ("IMAGE_PROHIBITED_CONTENT", R),
    ("IMAGE_RECITATION", R),
    ("FINISH_REASON_UNSPECIFIED", O),
    ("LANGUAGE", O),
    ("OTHER", O),
    ("MALFORMED_FUNCTION_CALL", O),
    ("UNEXPECTED_TOOL_CALL", O),
    ("TOO_MANY_TOOL_CALLS", O),
    ("NO_IMAGE", O),
    ("IMAGE_OTHER", O),
];
/// Gemini and Vertex `promptFeedback.blockReason` with no candidates: the prompt was blocked,
/// whatever the reason says.
const BLOCK: &[&str] = &[
    "BLOCKED_REASON_UNSPECIFIED",
    "SAFETY",
    "OTHER",
    "BLOCKLIST",
    "PROHIBITED_CONTENT",
    "IMAGE_SAFETY",
    "MODEL_ARMOR",
    "JAILBREAK",
];
/// Values a layout may not document: each is looked up in the layout's own list (another
/// layout's value is unknown here), else it counts as succeeded.
const ANY: &[&str] = &[
    "a_new_reason",
    "NEW_VALUE",
    "Stop",
    "",
    "length",
    "max_tokens",
    "MAX_TOKENS",
    "refusal",
    "SAFETY",
    "content_filter",
    "stop",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lay {
    OpenAi,
    Azure,
    Mistral,
    Groq,
    Together,
    Vllm,
    VllmOld,
    Xai,
    Responses,
    Anthropic,
    BedrockClaude,
    Nova,
    Llama,
    Gemini,
    Vertex,
}

const LAYS: [Lay; 15] = [
    Lay::OpenAi,
    Lay::Azure,
    Lay::Mistral,
    Lay::Groq,
    Lay::Together,
    Lay::Vllm,
    Lay::VllmOld,
    Lay::Xai,
    Lay::Responses,
    Lay::Anthropic,
    Lay::BedrockClaude,
    Lay::Nova,
    Lay::Llama,
    Lay::Gemini,
    Lay::Vertex,
];

impl Lay {
    fn table(self) -> &'static [(&'static str, Class)] {
        match self {
            Lay::Responses => RESPONSES,
            Lay::Anthropic | Lay::BedrockClaude => ANTHROPIC,
            Lay::Nova => NOVA,
            Lay::Llama => LLAMA,
            Lay::Gemini | Lay::Vertex => GEMINI,
            _ => CHAT,
        }
    }

    /// The model the line names, when it names one.
    fn model(self) -> Option<&'static str> {
        Some(match self {
            Lay::OpenAi => "gpt-4o-mini-2024-07-18",
            Lay::Azure => "gpt-4o-2024-08-06",
            Lay::Mistral => "mistral-small-latest",
            Lay::Groq => "llama-3.3-70b-versatile",
            Lay::Together => "meta-llama/Llama-3.3-70B-Instruct-Turbo",
            Lay::Vllm => "Qwen/Qwen3-8B",
            Lay::VllmOld => "meta-llama/Meta-Llama-3-8B-Instruct",
            Lay::Xai => "grok-4-fast-reasoning",
            Lay::Responses => "o4-mini-2025-04-16",
            Lay::Anthropic => "claude-sonnet-4-5-20250929",
            Lay::BedrockClaude => "anthropic.claude-sonnet-4-5",
            Lay::Gemini => "gemini-2.5-flash",
            Lay::Vertex => "gemini-2.0-flash-001",
            Lay::Nova | Lay::Llama => return None,
        })
    }

    /// The request line of `id`.
    fn request(self, id: &str) -> Value {
        match self {
            Lay::Anthropic => {
                json!({"custom_id": id, "params": {"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": "Hi"}]}})
            }
            Lay::BedrockClaude | Lay::Nova | Lay::Llama => {
                json!({"recordId": id, "modelInput": {"max_tokens": 64, "messages": [{"role": "user", "content": "Hi"}]}})
            }
            Lay::Gemini => {
                json!({"key": id, "request": {"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]}})
            }
            Lay::Vertex => {
                json!({"custom_id": id, "request": {"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]}})
            }
            Lay::Responses => {
                json!({"custom_id": id, "method": "POST", "url": "/v1/responses", "body": {"model": "o4-mini", "input": "Hi"}})
            }
            _ => {
                json!({"custom_id": id, "method": "POST", "url": "/v1/chat/completions", "body": {"model": "m", "messages": [{"role": "user", "content": "Hi"}]}})
            }
        }
    }
}

/// What the provider said about one request.
#[derive(Clone, Debug)]
enum Fate {
    /// An envelope error: (kind, status it means).
    Envelope(u8),
    /// An answer.
    Answer {
        /// The stop value (`None`: the field is null).
        stop: Option<&'static str>,
        /// The refusal a layout says beside its stop value: chat `message.refusal`, a
        /// Responses refusal part, a Gemini prompt blocked (the value is the block reason).
        refusal: bool,
        /// Usage reported.
        usage: bool,
        /// A known field of an unexpected type (a negative token count): the line is read for
        /// its id and status only.
        odd: bool,
    },
}

/// The envelope errors of a layout: (kind, expected status).
fn envelope_status(lay: Lay, kind: u8) -> &'static str {
    match lay {
        Lay::Anthropic => ["errored", "expired", "canceled"][kind as usize % 3],
        Lay::Gemini | Lay::Vertex | Lay::BedrockClaude | Lay::Nova | Lay::Llama | Lay::Xai => {
            "errored"
        }
        // OpenAI-style: HTTP 4xx/5xx with `error: null`, batch_expired, batch_cancelled,
        // another error code.
        _ => ["errored", "expired", "canceled", "errored"][kind as usize % 4],
    }
}

fn envelope_line(lay: Lay, id: &str, kind: u8) -> Value {
    match lay {
        Lay::Anthropic => {
            let t = ["errored", "expired", "canceled"][kind as usize % 3];
            let mut v = json!({"custom_id": id, "result": {"type": t}});
            if t == "errored" {
                v["result"]["error"] = json!({"type": "error", "error": {"type": "invalid_request_error", "message": "bad"}});
            }
            v
        }
        Lay::Gemini => {
            if kind.is_multiple_of(2) {
                json!({"key": id, "status": {"code": 3, "message": "Invalid argument"}})
            } else {
                json!({"key": id, "error": {"code": 500, "message": "Internal", "status": "INTERNAL"}})
            }
        }
        Lay::Vertex => {
            json!({"status": "Bad Request: {\"error\": {\"code\": 400}}", "processed_time": "2026-01-01T00:00:00.000+00:00", "custom_id": id, "request": {"contents": []}, "response": null})
        }
        Lay::BedrockClaude | Lay::Nova | Lay::Llama => {
            json!({"recordId": id, "modelInput": {}, "error": {"errorCode": 400, "errorMessage": "Malformed input request"}})
        }
        Lay::Xai => {
            json!({"batch_request_id": id, "batch_result": null, "error_message": "Internal error"})
        }
        _ => match kind % 4 {
            0 => {
                let code = [400, 429, 500][kind as usize % 3];
                json!({"id": "b", "custom_id": id, "response": {"status_code": code, "request_id": "r", "body": {"error": {"message": "m", "type": "invalid_request_error"}}}, "error": null})
            }
            1 => {
                json!({"id": "b", "custom_id": id, "response": null, "error": {"code": "batch_expired", "message": "m"}})
            }
            2 => {
                json!({"id": "b", "custom_id": id, "response": null, "error": {"code": "batch_cancelled", "message": "m"}})
            }
            _ => {
                json!({"id": "b", "custom_id": id, "response": null, "error": {"code": "invalid_model", "message": "m"}})
            }
        },
    }
}

/// A chat completion object.
fn chat(lay: Lay, stop: Option<&str>, refusal: bool, usage: bool, odd: bool) -> Value {
    let mut message = json!({"role": "assistant", "content": "Hello."});
    if refusal {
        message = json!({"role": "assistant", "content": null, "refusal": "I'm sorry, I cannot assist with that request."});
    }
    let mut c = json!({"object": "chat.completion", "model": lay.model(), "choices": [{"index": 0, "message": message, "finish_reason": stop}]});
    if usage {
        c["usage"] = json!({"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7});
    }
    if odd {
        c["usage"] = json!({"prompt_tokens": -1, "completion_tokens": 2});
    }
    if lay == Lay::Azure {
        c["choices"][0]["content_filter_results"] =
            json!({"hate": {"filtered": false, "severity": "safe"}});
    }
    c
}

fn answer_line(
    lay: Lay,
    id: &str,
    stop: Option<&str>,
    refusal: bool,
    usage: bool,
    odd: bool,
) -> Value {
    let anthropic_usage = json!({"input_tokens": 12, "output_tokens": 3});
    let gemini_usage = json!({"promptTokenCount": 4, "candidatesTokenCount": 2});
    match lay {
        Lay::Xai => {
            json!({"batch_request_id": id, "batch_result": {"response": {"chat_get_completion": chat(lay, stop, refusal, usage, odd)}}, "error_message": null})
        }
        Lay::VllmOld => {
            json!({"id": "v", "custom_id": id, "response": chat(lay, stop, refusal, usage, odd), "error": null})
        }
        Lay::Responses => {
            let mut status = stop;
            let mut reason = None;
            if let Some(s) = stop {
                if INCOMPLETE.iter().any(|(v, _)| *v == s) || s == "a_new_reason" {
                    status = Some("incomplete");
                    reason = Some(s);
                }
            }
            let part = if refusal {
                json!({"type": "refusal", "refusal": "I'm sorry, I cannot assist with that request."})
            } else {
                json!({"type": "output_text", "text": "Hello.", "annotations": []})
            };
            let mut body = json!({"object": "response", "model": lay.model(), "status": status, "incomplete_details": reason.map(|r| json!({"reason": r})), "output": [{"type": "message", "role": "assistant", "content": [part]}]});
            if usage {
                body["usage"] = json!({"input_tokens": 10, "output_tokens": 5});
            }
            json!({"id": "b", "custom_id": id, "response": {"status_code": 200, "request_id": "r", "body": body}, "error": null})
        }
        Lay::Anthropic => {
            let mut m = json!({"id": "msg", "type": "message", "role": "assistant", "model": lay.model(), "content": [{"type": "text", "text": "Hello."}], "stop_reason": stop, "stop_sequence": null});
            if usage {
                m["usage"] = anthropic_usage;
            }
            json!({"custom_id": id, "result": {"type": "succeeded", "message": m}})
        }
        Lay::BedrockClaude => {
            let mut m = json!({"id": "msg", "type": "message", "role": "assistant", "model": lay.model(), "content": [{"type": "text", "text": "Hello."}], "stop_reason": stop});
            if usage {
                m["usage"] = anthropic_usage;
            }
            json!({"recordId": id, "modelInput": {}, "modelOutput": m})
        }
        Lay::Nova => {
            let mut m = json!({"output": {"message": {"role": "assistant", "content": [{"text": "Hello."}]}}, "stopReason": stop});
            if usage {
                m["usage"] = json!({"inputTokens": 5, "outputTokens": 2});
            }
            json!({"recordId": id, "modelInput": {}, "modelOutput": m})
        }
        Lay::Llama => {
            let mut m = json!({"generation": "Hello.", "stop_reason": stop});
            if usage {
                m["prompt_token_count"] = json!(5);
                m["generation_token_count"] = json!(2);
            }
            json!({"recordId": id, "modelInput": {}, "modelOutput": m})
        }
        Lay::Gemini | Lay::Vertex => {
            let mut resp = if refusal {
                // The prompt was blocked: no candidates.
                json!({"promptFeedback": {"blockReason": stop}, "modelVersion": lay.model()})
            } else if odd {
                // A candidate without parts (thinking used the budget, or seen on STOP).
                json!({"candidates": [{"content": {"role": "model"}, "finishReason": stop}], "modelVersion": lay.model()})
            } else {
                json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "Hello."}]}, "finishReason": stop}], "modelVersion": lay.model()})
            };
            if usage {
                resp["usageMetadata"] = gemini_usage;
            }
            if lay == Lay::Gemini {
                json!({"key": id, "response": resp})
            } else {
                json!({"status": "", "processed_time": "2026-01-01T00:00:00.000+00:00", "custom_id": id, "request": {"contents": []}, "response": resp})
            }
        }
        _ => {
            json!({"id": "b", "custom_id": id, "response": {"status_code": 200, "request_id": "r", "body": chat(lay, stop, refusal, usage, odd)}, "error": null})
        }
    }
}

/// The reference: (status, stop_reason) of a result.
fn expected(lay: Lay, fate: &Fate) -> (&'static str, Option<&'static str>) {
    let (stop, refusal) = match *fate {
        Fate::Envelope(kind) => return (envelope_status(lay, kind), None),
        Fate::Answer { stop, refusal, .. } => (stop, refusal),
    };
    let blocked = refusal && matches!(lay, Lay::Gemini | Lay::Vertex);
    if blocked {
        // A blocked prompt is refused whatever its reason, known or not.
        return ("refused", stop);
    }
    let class = stop.and_then(|s| {
        let table = match lay {
            Lay::Responses if INCOMPLETE.iter().any(|(v, _)| *v == s) => INCOMPLETE,
            _ => lay.table(),
        };
        table.iter().find(|(v, _)| *v == s).map(|(_, c)| *c)
    });
    let status = match class {
        Some(C) => "truncated",
        Some(R) => "refused",
        _ if refusal => "refused",
        _ => "succeeded",
    };
    (status, stop)
}

/// One generated result: its layout and what became of it.
#[derive(Clone, Debug)]
struct Spec {
    lay: Lay,
    fate: Option<Fate>,
    /// Which of the two result files holds it.
    file: bool,
}

fn spec() -> impl Strategy<Value = Spec> {
    (0..LAYS.len(), 0u8..12, any::<u16>(), any::<bool>(), 0u8..8).prop_map(
        |(l, fate, pick, file, flags)| {
            let lay = LAYS[l];
            let fate = match fate {
                0 => None,
                1 | 2 => Some(Fate::Envelope(pick as u8)),
                _ => {
                    let table = lay.table();
                    let stop = match pick % 10 {
                        0 => None,
                        1 | 2 => Some(ANY[pick as usize / 10 % ANY.len()]),
                        3 if lay == Lay::Responses => {
                            Some(INCOMPLETE[pick as usize / 10 % INCOMPLETE.len()].0)
                        }
                        _ => Some(table[pick as usize / 10 % table.len()].0),
                    };
                    // A refusal: chat `message.refusal` (with `stop` or no finish reason, as
                    // documented), a Responses refusal part (status `completed`), a Gemini
                    // prompt blocked (its value a block reason, or an unknown one).
                    let refusal = flags & 1 == 1 && flags & 2 == 0;
                    let (stop, refusal) = match lay {
                        Lay::Gemini | Lay::Vertex if refusal => (
                            Some(if pick % 7 == 0 {
                                "A_NEW_BLOCK"
                            } else {
                                BLOCK[pick as usize / 7 % BLOCK.len()]
                            }),
                            true,
                        ),
                        Lay::Responses if refusal => (Some("completed"), true),
                        Lay::Anthropic
                        | Lay::BedrockClaude
                        | Lay::Nova
                        | Lay::Llama
                        | Lay::Responses
                        | Lay::Gemini
                        | Lay::Vertex => (stop, false),
                        _ if refusal => (if pick % 3 == 0 { None } else { Some("stop") }, true),
                        _ => (stop, false),
                    };
                    let odd = flags & 4 == 4
                        && matches!(lay, Lay::OpenAi | Lay::Gemini | Lay::Vertex)
                        && !refusal;
                    Some(Fate::Answer {
                        stop,
                        refusal,
                        usage: flags != 6,
                        odd,
                    })
                }
            };
            Spec { lay, fate, file }
        },
    )
}

/// The result line of `spec` for `id` (none for a request without a result).
fn result_line(s: &Spec, id: &str) -> Option<Value> {
    Some(match s.fate.as_ref()? {
        Fate::Envelope(kind) => envelope_line(s.lay, id, *kind),
        Fate::Answer {
            stop,
            refusal,
            usage,
            odd,
        } => answer_line(s.lay, id, *stop, *refusal, *usage, *odd),
    })
}

/// Whether the line's usage is counted: an answer with usage, of the types the layouts give
/// (the negative count of an odd OpenAI line is an unexpected type: the line is read for its
/// id and status only).
fn counted_usage(s: &Spec) -> bool {
    match s.fate {
        Some(Fate::Answer { usage, odd, .. }) => usage && !(odd && s.lay == Lay::OpenAi),
        _ => false,
    }
}

type Stops = BTreeMap<String, BTreeMap<String, u64>>;

/// Runs the join of `requests` and the two result files; (merged lines, summary, merged bytes).
fn run_join(dir: &Dir, tag: &str, extra: &[&str]) -> (Vec<Value>, Value, Vec<u8>) {
    let out = dir.join(&format!("merged-{tag}.jsonl"));
    let mut c = dir.cmd();
    c.args(["--format", "json", "join", "--requests"])
        .arg(dir.join("req.jsonl"))
        .arg("--results")
        .arg(dir.join("res-a.jsonl"))
        .arg(dir.join("res-b.jsonl"))
        .arg("--out")
        .arg(&out)
        .args(["--orphans", &format!("orphans-{tag}.jsonl")])
        .args(extra);
    let o = run(c);
    assert!(
        o.status.code().is_some_and(|c| c < 2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let summary = json_lines(&o).pop().unwrap();
    let bytes = std::fs::read(&out).unwrap();
    let merged = String::from_utf8(bytes.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (merged, summary, bytes)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn statuses_and_stop_reasons_match_the_reference(
        specs in proptest::collection::vec(spec(), 1..90),
        orphans in proptest::collection::vec(spec(), 0..6),
    ) {
        let dir = Dir::new();
        let mut req = String::new();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let mut want = Vec::new();
        let mut want_counts: BTreeMap<&str, u64> = BTreeMap::new();
        let mut want_stops: Stops = BTreeMap::new();
        let mut with_usage = 0u64;
        let all = specs.iter().enumerate().map(|(i, s)| (format!("r-{i}"), s, true))
            .chain(orphans.iter().enumerate().map(|(i, s)| (format!("orphan-{i}"), s, false)));
        for (id, s, is_request) in all {
            if is_request {
                req.push_str(&s.lay.request(&id).to_string());
                req.push('\n');
            }
            let Some(line) = result_line(s, &id) else {
                if is_request {
                    want.push((id.clone(), "missing", None));
                    *want_counts.entry("missing").or_default() += 1;
                }
                continue;
            };
            let (status, stop) = expected(s.lay, s.fate.as_ref().unwrap());
            if is_request {
                want.push((id.clone(), status, stop));
                *want_counts.entry(status).or_default() += 1;
            }
            // Usage is counted per result line read, orphans included; its stop reason beside it.
            if counted_usage(s) {
                with_usage += 1;
                if let Some(stop) = stop {
                    let model = s.lay.model().unwrap_or("(unknown)").to_string();
                    *want_stops.entry(model).or_default().entry(stop.to_string()).or_default() += 1;
                }
            }
            if s.file { &mut a } else { &mut b }.push(line.to_string());
        }
        b.reverse();
        dir.write("req.jsonl", &req);
        dir.write("res-a.jsonl", a.iter().map(|l| format!("{l}\n")).collect::<String>());
        dir.write("res-b.jsonl", b.join("\n"));

        let (merged, summary, bytes) = run_join(&dir, "mem", &[]);
        let got: Vec<(String, &str, Option<&str>)> = merged
            .iter()
            .map(|l| (
                l["custom_id"].as_str().unwrap().to_string(),
                l["status"].as_str().unwrap(),
                l["stop_reason"].as_str(),
            ))
            .collect();
        prop_assert_eq!(&got, &want);
        for st in ["succeeded", "truncated", "refused", "invalid_answer", "errored", "expired", "canceled", "missing"] {
            prop_assert_eq!(
                summary[st].as_u64(),
                Some(want_counts.get(st).copied().unwrap_or(0)),
                "{}", st
            );
        }
        prop_assert_eq!(summary["orphans"].as_u64(), Some(orphans.iter().filter(|s| s.fate.is_some()).count() as u64));
        prop_assert_eq!(summary["usage"]["results_with_usage"].as_u64(), Some(with_usage));
        let got_stops: Stops = summary["models"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|m| {
                let stops: BTreeMap<String, u64> = serde_json::from_value(m["stop_reasons"].clone()).unwrap();
                (!stops.is_empty()).then(|| (m["model"].as_str().unwrap().to_string(), stops))
            })
            .collect();
        prop_assert_eq!(got_stops, want_stops);
        // The partitioned join gives the same bytes.
        let (_, spilled, spilled_bytes) = run_join(&dir, "spill", &["--table-limit", "1KiB"]);
        prop_assert_eq!(spilled_bytes, bytes);
        prop_assert_eq!(&spilled["models"], &summary["models"]);
    }
}
