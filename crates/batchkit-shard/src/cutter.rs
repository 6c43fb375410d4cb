//! The sequential half of a run: each valid line goes, in input order, to its group's open
//! shard, or to a new one when it would break a cap there, so the number of shards is the
//! minimum for contiguous cuts. Bytes go to the writer thread; consecutive lines bound for
//! one shard travel as one range of the chunk.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use batchkit_io::{Chunk, Input};
use batchkit_providers::Provider;
use batchkit_validate::{LineReport, Severity};
use sha2::{Digest, Sha256};

use crate::naming::{default_stem, extension, group_slug, shard_file};
use crate::output::{self, Layout, BODY_CLOSE, BODY_OPEN};
use crate::writer::{Msg, Writer};
use crate::{
    CapOverrides, Caps, Emit, Fit, Measure, RejectedInfo, ShardError, ShardInfo, ShardOptions,
    SplitBy, Totals, MAX_GROUPS, MAX_GROUPS_COMPRESSED, REJECTED,
};

struct OpenShard {
    file: usize,
    name: String,
    totals: Totals,
    first_line: u64,
    last_line: u64,
    /// The hash of every byte sent so far, when the shard takes copied byte ranges.
    hasher: Option<Sha256>,
}

struct Group {
    key: Option<String>,
    slug: String,
    next: u64,
    open: Option<OpenShard>,
}

/// Where each valid line goes: its group's open shard, a new shard, or the rejects.
pub(crate) struct Cutter<'a, 's> {
    w: Writer<'s>,
    opts: &'a ShardOptions,
    name: &'a str,
    staging: &'a Path,
    layout: Layout,
    ext: String,
    stem: String,
    overrides: CapOverrides,
    fit: Option<Fit>,
    groups: Vec<Group>,
    group_index: HashMap<Option<String>, usize>,
    slugs: HashMap<String, usize>,
    /// Closed shards: group, number, writer file id, entry (hash filled in at the end).
    done: Vec<(usize, u64, usize, ShardInfo)>,
    rejected: Option<usize>,
    rejected_lines: u64,
    rejected_bytes: u64,
    pub(crate) invalid_lines: u64,
    pub(crate) errors: u64,
    pub(crate) warnings: u64,
    /// Stop writing shards once the run is known to refuse; keep validating to report all.
    pub(crate) refusing: bool,
    /// A run of consecutive bytes of the current chunk bound for one group's open shard.
    run: Option<(usize, usize, usize, u64)>,
    max_groups: usize,
    count_tokens: bool,
    /// Shards are byte ranges of the input file, which the writer copies (see
    /// `run::copy_source`).
    copy: bool,
}

/// What the cutter wrote once every file is closed: the shards in manifest order (groups
/// in order of first appearance, then numbered), the rejects, and the caps they fit.
pub(crate) struct Cut {
    pub(crate) shards: Vec<ShardInfo>,
    pub(crate) rejected: Option<RejectedInfo>,
    pub(crate) caps: Caps,
}

impl<'a, 's> Cutter<'a, 's> {
    /// `copy`: the writer copies shard bytes from the input file instead of taking them
    /// from memory.
    pub(crate) fn new(
        w: Writer<'s>,
        copy: bool,
        input: &'a Input,
        opts: &'a ShardOptions,
        staging: &'a Path,
    ) -> Self {
        let layout = match opts.emit {
            Emit::Jsonl => Layout::Jsonl,
            Emit::AnthropicBody => Layout::Body,
        };
        let max_groups = opts.max_groups.unwrap_or(if opts.compress.is_some() {
            MAX_GROUPS_COMPRESSED
        } else {
            MAX_GROUPS
        });
        Cutter {
            w,
            opts,
            name: &input.name,
            staging,
            layout,
            ext: extension(layout, opts.compress.is_some()),
            stem: opts.stem.clone().unwrap_or_else(|| default_stem(input)),
            overrides: opts.caps,
            fit: None,
            groups: Vec::new(),
            group_index: HashMap::new(),
            slugs: HashMap::new(),
            done: Vec::new(),
            rejected: None,
            rejected_lines: 0,
            rejected_bytes: 0,
            invalid_lines: 0,
            errors: 0,
            warnings: 0,
            refusing: false,
            run: None,
            max_groups: max_groups.max(1),
            count_tokens: opts.caps.max_tokens.is_some(),
            copy,
        }
    }

    /// Closes every shard and the rejects and waits for the writer, whose hashes and sizes
    /// complete the entries.
    pub(crate) fn finish(mut self, provider: Option<&'static Provider>) -> Result<Cut, ShardError> {
        for g in 0..self.groups.len() {
            self.close_shard(g)?;
        }
        if let Some(id) = self.rejected {
            self.w.send(Msg::Close { id, hash: None })?;
        }
        let mut closed = self.w.finish()?;
        let rejected = self.rejected.map(|id| RejectedInfo {
            file: REJECTED.into(),
            lines: self.rejected_lines,
            bytes: self.rejected_bytes,
            sha256: closed
                .remove(&id)
                .expect("the writer reports every closed file")
                .0,
        });
        let fit = self.fit(provider)?;
        let mut done = std::mem::take(&mut self.done);
        done.sort_by_key(|(g, n, _, _)| (*g, *n));
        for (_, _, id, info) in &mut done {
            let (sha256, file_bytes) = closed
                .remove(id)
                .expect("the writer reports every closed file");
            info.sha256 = sha256;
            info.file_bytes = self.opts.compress.map(|_| file_bytes);
        }
        Ok(Cut {
            shards: done.into_iter().map(|(_, _, _, s)| s).collect(),
            rejected,
            caps: fit.caps,
        })
    }

    /// The caps and overhead, fixed by the first call (the provider known by then); an
    /// override above the provider's cap is refused unless `allow_over_cap`.
    pub(crate) fn fit(&mut self, provider: Option<&'static Provider>) -> Result<Fit, ShardError> {
        if self.fit.is_none() && !self.opts.allow_over_cap {
            crate::caps::check_over_cap(provider, &self.overrides)?;
        }
        Ok(*self.fit.get_or_insert_with(|| {
            let overhead = match self.layout {
                Layout::Jsonl => 0,
                // Each line adds its bytes plus one comma; the first comma is not written.
                Layout::Body => (BODY_OPEN.len() + BODY_CLOSE.len()) as u64 - 1,
            };
            Fit {
                caps: Caps::resolve(provider, &self.overrides),
                overhead,
            }
        }))
    }

    fn path(&self, file: &str) -> PathBuf {
        self.staging.join(file)
    }

    pub(crate) fn flush_run(&mut self, chunk: &Chunk) -> Result<(), ShardError> {
        if let Some((g, start, end, lines)) = self.run.take() {
            let shard = self.groups[g]
                .open
                .as_mut()
                .expect("a run targets an open shard");
            let id = shard.file;
            let bytes = &chunk.data[start..end];
            let msg = match &mut shard.hasher {
                // Hashed here, from the chunk in memory; the writer copies the same bytes
                // from the input file, file to file.
                Some(h) => {
                    h.update(bytes);
                    Msg::Copy {
                        id,
                        offset: chunk.offset + start as u64,
                        len: bytes.len() as u64,
                    }
                }
                None => Msg::Raw {
                    id,
                    data: bytes.to_vec(),
                    lines,
                },
            };
            self.w.send(msg)?;
        }
        Ok(())
    }

    fn close_shard(&mut self, g: usize) -> Result<(), ShardError> {
        let Some(s) = self.groups[g].open.take() else {
            return Ok(());
        };
        let hash = s.hasher.map(|h| output::hex(&h.finalize()));
        self.w.send(Msg::Close { id: s.file, hash })?;
        let group = &self.groups[g];
        let info = ShardInfo {
            file: s.name,
            requests: s.totals.requests,
            bytes: s.totals.bytes,
            file_bytes: None,
            input_tokens: self.count_tokens.then_some(s.totals.tokens),
            embedding_inputs: (s.totals.embedding_inputs > 0).then_some(s.totals.embedding_inputs),
            first_line: s.first_line,
            last_line: s.last_line,
            sha256: String::new(),
            group: if self.opts.split_by == SplitBy::None {
                None
            } else {
                group.key.clone()
            },
        };
        self.done.push((g, group.next - 1, s.file, info));
        Ok(())
    }

    fn group_of(&mut self, r: &LineReport) -> Result<usize, ShardError> {
        let key = match self.opts.split_by {
            SplitBy::None => None,
            SplitBy::Model => r.model.clone(),
            SplitBy::Url => r.url.clone(),
        };
        if let Some(&g) = self.group_index.get(&key) {
            return Ok(g);
        }
        if self.groups.len() >= self.max_groups {
            return Err(ShardError::TooManyGroups {
                name: self.name.to_string(),
                line: r.line,
                group: key.unwrap_or_default(),
                max: self.max_groups,
            });
        }
        let slug = group_slug(key.as_deref(), self.opts.split_by);
        // Distinct keys may share a slug (`a/b`, `a:b`): number the later ones.
        let n = self.slugs.entry(slug.clone()).or_insert(0);
        *n += 1;
        let slug = if *n == 1 { slug } else { format!("{slug}~{n}") };
        let g = self.groups.len();
        self.groups.push(Group {
            key: key.clone(),
            slug,
            next: 1,
            open: None,
        });
        self.group_index.insert(key, g);
        Ok(g)
    }

    pub(crate) fn place(
        &mut self,
        chunk: &Chunk,
        line: &batchkit_io::Line<'_>,
        r: &LineReport,
        tokens: u64,
        provider: Option<&'static Provider>,
    ) -> Result<(), ShardError> {
        let fit = self.fit(provider)?;
        let newline_missing = !line.terminated();
        let m = Measure {
            bytes: match self.layout {
                Layout::Jsonl => line.raw.len() as u64 + u64::from(newline_missing),
                Layout::Body => line.content.len() as u64 + 1,
            },
            tokens,
            embedding_inputs: r.embedding_inputs,
        };
        fit.alone(&m).map_err(|breach| ShardError::LineOverCap {
            name: self.name.to_string(),
            line: line.number,
            offset: line.offset,
            breach,
        })?;
        let g = self.group_of(r)?;
        let needs_new = match &self.groups[g].open {
            None => true,
            Some(s) => !fit.fits(&s.totals, &m),
        };
        if needs_new {
            if self.run.is_some_and(|(rg, ..)| rg == g) {
                self.flush_run(chunk)?;
            }
            self.close_shard(g)?;
            let group = &mut self.groups[g];
            let name = shard_file(&self.stem, &group.slug, group.next, &self.ext);
            group.next += 1;
            let path = self.staging.join(&name);
            let file = self.w.id();
            let (zstd, layout) = (self.opts.compress, self.layout);
            self.w.send(Msg::Open {
                id: file,
                path,
                zstd,
                layout,
            })?;
            self.groups[g].open = Some(OpenShard {
                file,
                name,
                totals: fit.empty(),
                first_line: line.number,
                last_line: 0,
                hasher: self.copy.then(Sha256::new),
            });
        }
        let shard = self.groups[g].open.as_mut().expect("opened above");
        Fit::add(&mut shard.totals, &m);
        shard.last_line = line.number;
        let start = (line.offset - chunk.offset) as usize;
        let end = start + line.raw.len();
        if self.layout == Layout::Jsonl && !newline_missing {
            match &mut self.run {
                Some((rg, _, e, n)) if *rg == g && *e == start => {
                    *e = end;
                    *n += 1;
                    return Ok(());
                }
                _ => {
                    self.flush_run(chunk)?;
                    self.run = Some((g, start, end, 1));
                    return Ok(());
                }
            }
        }
        self.flush_run(chunk)?;
        let shard = self.groups[g].open.as_mut().expect("opened above");
        let id = shard.file;
        let msg = match self.layout {
            Layout::Jsonl => {
                let mut data = Vec::with_capacity(line.raw.len() + 1);
                data.extend_from_slice(line.raw);
                data.push(b'\n');
                if let Some(h) = &mut shard.hasher {
                    h.update(&data);
                }
                Msg::Raw { id, data, lines: 1 }
            }
            Layout::Body => Msg::BodyLine {
                id,
                content: line.content.to_vec(),
            },
        };
        self.w.send(msg)
    }

    pub(crate) fn reject(&mut self, line: &batchkit_io::Line<'_>) -> Result<(), ShardError> {
        let id = match self.rejected {
            Some(id) => id,
            None => {
                let id = self.w.id();
                let path = self.path(REJECTED);
                self.w.send(Msg::Open {
                    id,
                    path,
                    zstd: None,
                    layout: Layout::Jsonl,
                })?;
                self.rejected = Some(id);
                id
            }
        };
        self.w.send(Msg::Raw {
            id,
            data: line.raw.to_vec(),
            lines: 1,
        })?;
        self.rejected_lines += 1;
        self.rejected_bytes += line.raw.len() as u64;
        Ok(())
    }

    pub(crate) fn count(&mut self, r: &LineReport) {
        for d in &r.diagnostics {
            match d.severity {
                Severity::Error => self.errors += 1,
                Severity::Warning => self.warnings += 1,
            }
        }
    }
}
