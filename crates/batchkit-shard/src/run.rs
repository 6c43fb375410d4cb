//! The run: one pass of the reader, validating in parallel and cutting in order, between
//! preparing the output directory and renaming what was staged into place.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use batchkit_io::{Chunk, Input, Source};
use batchkit_validate::{
    CheckOptions, Checker, Code, Diagnostic, FileChecker, LineReport, Severity,
};

use crate::cutter::Cutter;
use crate::outdir::{write_manifest, OutDir};
use crate::writer::Writer;
use crate::{
    Emit, Hooks, InputInfo, Manifest, Measure, Refusal, ShardError, ShardOptions, ShardReport,
    SplitBy, TiktokenCounter,
};

/// Per-line results of the parallel stage.
struct ChunkOut {
    reports: Vec<LineReport>,
    tokens: Vec<Result<u64, String>>,
}

/// Blank lines held until a request follows (then errors) or the input ends (a warning).
#[derive(Default)]
struct HeldBlanks {
    lines: Vec<(u64, u64, Vec<u8>)>,
    bytes: usize,
}

/// Past this many bytes of consecutive blank lines, they are errors on the spot.
const MAX_HELD_BLANKS: usize = 64 << 10;

/// Shards `input` into `opts.out_dir`. Returns the manifest written, or the reason nothing
/// was written; every finding goes to `hooks.sink` as it is found.
pub fn shard(
    input: &Input,
    opts: &ShardOptions,
    hooks: &mut Hooks<'_>,
) -> Result<ShardReport, ShardError> {
    if opts.caps.max_tokens.is_some() && hooks.tokens.is_none() {
        // Library callers who cap tokens without a counter get the embedded tokenizers.
        static DEFAULT: TiktokenCounter = TiktokenCounter { model: None };
        hooks.tokens = Some(&DEFAULT);
    }
    let split = opts.split_by;
    let check = CheckOptions {
        provider: opts.provider.clone(),
        check_model_mismatch: split != SplitBy::Model,
        check_url_mismatch: split != SplitBy::Url,
        budget: opts.read.budget,
        // A shard decides line by line; trailing blank lines are handled here.
        trailing_blank_lines_warn: false,
        max_line_bytes: opts.read.max_line_bytes,
        ..CheckOptions::default()
    };
    let checker = Checker::new(&check)?;
    let out = OutDir::open(input, &opts.out_dir, opts.force)?;
    let factory = hooks.output;
    let src = copy_source(input, opts);
    let result = std::thread::scope(|s| {
        let w = Writer::start(s, factory, src.as_ref());
        let copy = src.is_some();
        run_with_writer(w, copy, input, opts, hooks, &checker, out.staging())
    });
    out.close(result)
}

/// The input file to copy shard bytes from, when every shard is a run of byte ranges of
/// it: a regular file, not zstd, cut in input order into plain JSONL. Then the lines are
/// validated and hashed from the reader's chunks as usual, but not written from memory:
/// the writer copies their ranges of the file into the shard, file to file, which on Linux
/// the kernel does without passing the bytes through user space (`copy_file_range`).
/// Everything else (stdin, zstd, `--split-by`, `--compress`, Anthropic bodies) is written
/// from memory.
fn copy_source(input: &Input, opts: &ShardOptions) -> Option<fs::File> {
    let Source::Path(p) = &input.source else {
        return None;
    };
    if opts.split_by != SplitBy::None || opts.emit != Emit::Jsonl || opts.compress.is_some() {
        return None;
    }
    let f = fs::File::open(p).ok()?;
    if !f.metadata().ok()?.is_file() {
        return None;
    }
    let mut head = [0u8; 8];
    let n = io::Read::read(&mut &f, &mut head).ok()?;
    if batchkit_io::is_zstd(&head[..n]) {
        return None;
    }
    Some(f)
}

fn run_with_writer(
    w: Writer<'_>,
    copy: bool,
    input: &Input,
    opts: &ShardOptions,
    hooks: &mut Hooks<'_>,
    checker: &Checker,
    staging: &Path,
) -> Result<ShardReport, ShardError> {
    let mut fc = FileChecker::new(checker, input.name.clone());
    let mut cut = Cutter::new(w, copy, input, opts, staging);
    let tokens = hooks.tokens.filter(|_| opts.caps.max_tokens.is_some());
    let sink_out = &mut hooks.sink;
    let name = input.name.as_str();
    let mut blanks = HeldBlanks::default();
    let process = |chunk: &Chunk| {
        // One parse per line: checked, and counted in the same parse when there is a token
        // cap (the count of an invalid line is not used).
        let (reports, tokens) = match tokens {
            Some(t) if chunk.oversized.is_none() => checker
                .check_chunk_with(chunk, |l, root| t.count_parsed(l.content, root))
                .into_iter()
                .map(|(r, c)| {
                    let c = if r.is_valid() {
                        c.unwrap_or(Ok(0))
                    } else {
                        Ok(0)
                    };
                    (r, c)
                })
                .unzip(),
            _ => (checker.check_chunk(chunk), Vec::new()),
        };
        ChunkOut { reports, tokens }
    };
    let sink = |chunk: &Chunk, out: ChunkOut| -> Result<bool, ShardError> {
        let ChunkOut { reports, tokens } = out;
        if let Some(o) = chunk.oversized {
            let mut r = reports.into_iter().next().unwrap_or_else(|| {
                LineReport::with(
                    o.line,
                    o.offset,
                    o.len,
                    Diagnostic::at(
                        Code::LineTooLarge,
                        Severity::Error,
                        o.line,
                        o.offset,
                        format!("line is {} bytes, longer than --max-line-bytes", o.len),
                    ),
                )
            });
            fc.observe(&mut r)?;
            let fit = cut.fit(fc.provider())?;
            let m = Measure {
                bytes: o.len + 1,
                ..Measure::default()
            };
            if let Err(breach) = fit.alone(&m) {
                return Err(ShardError::LineOverCap {
                    name: input.name.clone(),
                    line: o.line,
                    offset: o.offset,
                    breach,
                });
            }
            if opts.skip_invalid {
                return Err(ShardError::Oversized {
                    name: input.name.clone(),
                    line: o.line,
                    len: o.len,
                });
            }
            cut.count(&r);
            for d in &r.diagnostics {
                sink_out.finding(name, d).map_err(ShardError::Report)?;
            }
            cut.invalid_lines += 1;
            cut.refusing = true;
            return Ok(true);
        }
        for (i, (line, mut r)) in chunk.lines().zip(reports).enumerate() {
            fc.observe(&mut r)?;
            // A blank line's only finding is `empty_line` (the checker reports it on the spot
            // for a job like this one, which decides line by line).
            let blank = line.is_blank()
                && r.diagnostics
                    .iter()
                    .all(|d| d.code == Code::EmptyLine || d.severity == Severity::Warning);
            if blank && line.terminated() && blanks.bytes < MAX_HELD_BLANKS {
                // Blank lines at the very end are accepted by providers: hold them until
                // it is known whether a request follows.
                blanks.bytes += line.raw.len();
                blanks
                    .lines
                    .push((line.number, line.offset, line.raw.to_vec()));
                continue;
            }
            for (number, offset, raw) in std::mem::take(&mut blanks.lines) {
                let held = batchkit_io::Line {
                    number,
                    offset,
                    raw: &raw,
                    content: raw.trim_ascii_end(),
                    bom: false,
                };
                let mut br = LineReport::with(
                    number,
                    offset,
                    raw.len() as u64,
                    Diagnostic::at(
                        Code::EmptyLine,
                        Severity::Error,
                        number,
                        offset,
                        batchkit_json::syntax::blank_lines(1, number, number, false),
                    )
                    .with_context("a shard holds only requests"),
                );
                cut.count(&br);
                for d in &br.diagnostics {
                    sink_out.finding(name, d).map_err(ShardError::Report)?;
                }
                cut.invalid_lines += 1;
                cut.flush_run(chunk)?;
                if opts.skip_invalid {
                    cut.reject(&held)?;
                } else {
                    cut.refusing = true;
                }
                br.diagnostics.clear();
            }
            blanks.bytes = 0;
            if blank && r.is_valid() {
                r.diagnostics.push(
                    Diagnostic::at(
                        Code::EmptyLine,
                        Severity::Error,
                        line.number,
                        line.offset,
                        batchkit_json::syntax::blank_lines(1, line.number, line.number, false),
                    )
                    .with_context("a shard holds only requests"),
                );
            }
            cut.count(&r);
            for d in &r.diagnostics {
                sink_out.finding(name, d).map_err(ShardError::Report)?;
            }
            if !r.is_valid() {
                cut.invalid_lines += 1;
                cut.flush_run(chunk)?;
                if opts.skip_invalid {
                    cut.reject(&line)?;
                } else {
                    cut.refusing = true;
                }
                continue;
            }
            if cut.refusing {
                continue;
            }
            let t = match tokens.get(i) {
                None => 0,
                Some(Ok(t)) => *t,
                Some(Err(reason)) => {
                    return Err(ShardError::Tokens {
                        name: input.name.clone(),
                        line: line.number,
                        reason: reason.clone(),
                    })
                }
            };
            cut.place(chunk, &line, &r, t, fc.provider())?;
        }
        cut.flush_run(chunk)?;
        sink_out
            .progress(name, chunk.source_pos)
            .map_err(ShardError::Report)?;
        Ok(true)
    };
    let stats = batchkit_io::run(input, &opts.read, process, sink)?;
    if copy && stats.compressed {
        // The file was replaced by a zstd stream between the two opens: the copied ranges
        // are not the lines that were read.
        return Err(ShardError::Io {
            path: PathBuf::from(&input.name),
            source: io::Error::other("the input changed during the run"),
        });
    }
    if let (Some(first), Some(last)) = (blanks.lines.first(), blanks.lines.last()) {
        // Trailing blank lines: providers accept them, a shard holds only requests.
        let n = blanks.lines.len() as u64;
        let d = Diagnostic::at(
            Code::EmptyLine,
            Severity::Warning,
            first.0,
            first.1,
            batchkit_json::syntax::blank_lines(n, first.0, last.0, true),
        )
        .with_context("not copied into a shard: a shard holds only requests");
        cut.warnings += 1;
        hooks
            .sink
            .finding(&input.name, &d)
            .map_err(ShardError::Report)?;
    }
    let provider = fc.provider();
    let mut late_dupes = 0;
    fc.finish(&stats, |d| {
        // The file-wide caps are what sharding resolves; everything else is reported.
        if matches!(d.code, Code::TooManyRequests | Code::FileTooLarge) {
            return Ok::<bool, ShardError>(true);
        }
        if d.code == Code::DuplicateId && d.line.is_some() {
            late_dupes += 1;
        }
        match d.severity {
            Severity::Error => cut.errors += 1,
            Severity::Warning => cut.warnings += 1,
        }
        hooks
            .sink
            .finding(&input.name, d)
            .map_err(ShardError::Report)?;
        Ok(true)
    })?;
    let mut report = ShardReport {
        manifest: None,
        refusal: None,
        invalid_lines: cut.invalid_lines + late_dupes,
        errors: cut.errors,
        warnings: cut.warnings,
        stats: stats.clone(),
        provider: provider.map(|p| p.name.clone()),
    };
    if cut.refusing {
        report.refusal = Some(Refusal::InvalidLines(cut.invalid_lines));
        return Ok(report);
    }
    if late_dupes > 0 {
        report.refusal = Some(Refusal::LateDuplicates(late_dupes));
        return Ok(report);
    }
    let written = cut.finish(provider)?;
    let manifest = Manifest {
        input: InputInfo {
            name: input.name.clone(),
            bytes: stats.bytes,
            lines: stats.lines,
        },
        provider: provider.map(|p| p.name.clone()),
        caps: written.caps,
        split_by: opts.split_by.as_str().into(),
        emit: opts.emit.as_str().into(),
        compressed: opts.compress.is_some(),
        shards: written.shards,
        rejected: written.rejected,
    };
    // A provider with a floor per job (Bedrock: 100 records) refuses a shard below it; the
    // whole input below it was already reported by the file checks.
    if let Some((min, p)) = provider.and_then(|p| Some((p.min_requests?, p))) {
        let total: u64 = manifest.shards.iter().map(|s| s.requests).sum();
        for s in manifest
            .shards
            .iter()
            .filter(|s| total >= min && s.requests < min)
        {
            let d = Diagnostic::file(
                Code::TooFewRequests,
                Severity::Warning,
                format!(
                    "shard {} holds {} requests; {} batch jobs take at least {min}: raise --max-requests or cut by hand",
                    s.file, s.requests, p.label
                ),
            );
            report.warnings += 1;
            hooks
                .sink
                .finding(&input.name, &d)
                .map_err(ShardError::Report)?;
        }
    }
    write_manifest(hooks.output, staging, &manifest)?;
    report.manifest = Some(manifest);
    Ok(report)
}
