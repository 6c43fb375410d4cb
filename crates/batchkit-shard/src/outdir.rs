//! The output directory's lifecycle: a run writes under a hidden staging directory and
//! renames into place only when the whole input was read and found clean, manifest last, so
//! a failed or interrupted run leaves no file under a final name. `--force` replaces only
//! what a previous run's manifest lists, and nothing ever replaces or removes the input.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use batchkit_io::staging::StagedDir;
use batchkit_io::Input;

use crate::api::io_err;
use crate::{Manifest, OutputFactory, ShardError, ShardReport, MANIFEST, REJECTED, STAGING_PREFIX};

/// An output directory made ready for a run, with the staging directory inside it.
pub(crate) struct OutDir {
    dir: PathBuf,
    force: bool,
    protect: Protect,
    /// Whether this run created `dir`, so a run that writes nothing removes it again.
    created: bool,
    staging: StagedDir,
    /// While the run writes, a signal removes `dir` too when this run created it.
    _created_reg: Option<batchkit_io::staging::Registration>,
}

impl OutDir {
    /// Checks that no output would replace or remove the input, that `dir` may be written
    /// into, and creates the staging directory.
    pub(crate) fn open(input: &Input, out_dir: &Path, force: bool) -> Result<OutDir, ShardError> {
        let protect = Protect::of(input);
        if force {
            // What --force would remove: the files the previous manifest lists.
            for f in previous_files(out_dir) {
                protect.check(
                    &out_dir.join(f),
                    "remove (--force; it is listed in manifest.json)",
                )?;
            }
        }
        protect.check(&out_dir.join(MANIFEST), "overwrite")?;
        protect.check(&out_dir.join(REJECTED), "overwrite")?;
        let created = prepare_dir(out_dir, force)?;
        let created_reg = created.then(|| batchkit_io::staging::register_created_dir(out_dir));
        let staging = match StagedDir::new_in(Some(out_dir), "shard") {
            Ok(s) => s,
            Err(e) => {
                undo_dir(out_dir, created);
                return Err(ShardError::Io {
                    path: out_dir.to_path_buf(),
                    source: e,
                });
            }
        };
        Ok(OutDir {
            dir: out_dir.to_path_buf(),
            force,
            protect,
            created,
            staging,
            _created_reg: created_reg,
        })
    }

    /// Where the run writes its files.
    pub(crate) fn staging(&self) -> &Path {
        self.staging.path()
    }

    /// Renames what the run staged into place when it wrote a manifest; otherwise, or when
    /// that fails, leaves the directory as it was found.
    pub(crate) fn close(
        self,
        result: Result<ShardReport, ShardError>,
    ) -> Result<ShardReport, ShardError> {
        let OutDir {
            dir,
            force,
            protect,
            created,
            staging,
            _created_reg,
        } = self;
        let result = match result {
            Ok(rep) => match &rep.manifest {
                Some(m) => commit(&dir, staging.path(), m, force, &protect).map(|()| rep),
                None => Ok(rep),
            },
            Err(e) => Err(e),
        };
        drop(staging);
        match &result {
            Ok(r) if r.manifest.is_some() => {}
            _ => undo_dir(&dir, created),
        }
        result
    }
}

/// Writes `manifest.json` into the staging directory, where [`OutDir::close`] renames it
/// into place after every other file.
pub(crate) fn write_manifest(
    output: &dyn OutputFactory,
    staging: &Path,
    manifest: &Manifest,
) -> Result<(), ShardError> {
    let mpath = staging.join(MANIFEST);
    let mut w = output.create(&mpath).map_err(io_err(&mpath))?;
    let mut json = serde_json::to_vec_pretty(manifest).expect("manifest serialises");
    json.push(b'\n');
    w.write_all(&json)
        .and_then(|()| w.finish())
        .map_err(io_err(&mpath))
}

/// Makes sure `dir` exists and may be written into; returns whether it was created.
fn prepare_dir(dir: &Path, force: bool) -> Result<bool, ShardError> {
    match fs::read_dir(dir) {
        Ok(entries) => {
            if !force {
                for e in entries {
                    let e = e.map_err(io_err(dir))?;
                    // Staging left by a killed run is hidden and holds no final file.
                    if !e.file_name().to_string_lossy().starts_with(STAGING_PREFIX) {
                        return Err(ShardError::NotEmpty {
                            dir: dir.to_path_buf(),
                        });
                    }
                }
            }
            Ok(false)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(dir).map_err(io_err(dir))?;
            Ok(true)
        }
        Err(e) => Err(ShardError::Io {
            path: dir.to_path_buf(),
            source: e,
        }),
    }
}

fn undo_dir(dir: &Path, created: bool) {
    if created {
        // Only succeeds when empty, which is the point: never remove anything else.
        let _ = fs::remove_dir(dir);
    }
}

/// Renames the staged files into place, the manifest last. With `force`, files a previous
/// run listed in its manifest and this run does not write are removed first, so the
/// directory never mixes two runs' shards.
fn commit(
    dir: &Path,
    staging: &Path,
    m: &Manifest,
    force: bool,
    protect: &Protect,
) -> Result<(), ShardError> {
    for f in m.files().chain([MANIFEST]) {
        protect.check(&dir.join(f), "overwrite")?;
    }
    if force {
        let new: std::collections::HashSet<&str> = m.files().collect();
        for f in previous_files(dir) {
            if !new.contains(f.as_str()) {
                let p = dir.join(&f);
                protect.check(&p, "remove (--force; it is listed in manifest.json)")?;
                match fs::remove_file(&p) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => {
                        return Err(ShardError::Io { path: p, source: e })
                    }
                    _ => {}
                }
            }
        }
    }
    for f in m.files().chain([MANIFEST]) {
        let to = dir.join(f);
        batchkit_io::staging::commit_rename(&staging.join(f), &to).map_err(io_err(&to))?;
    }
    Ok(())
}

/// The plain file names the manifest already in `dir` lists (shards and rejects): the only
/// files `--force` may remove.
fn previous_files(dir: &Path) -> Vec<String> {
    let Ok(bytes) = fs::read(dir.join(MANIFEST)) else {
        return Vec::new();
    };
    let Ok(prev) = serde_json::from_slice::<Manifest>(&bytes) else {
        return Vec::new();
    };
    prev.files()
        // Only plain names a manifest could have written; never follow a path.
        .filter(|f| !f.contains(['/', '\\']) && *f != ".." && *f != "." && !f.is_empty())
        .map(str::to_string)
        .collect()
}

/// The input's identity, so no output replaces or removes it.
struct Protect {
    input: Option<(PathBuf, batchkit_io::paths::FileKey)>,
}

impl Protect {
    fn of(input: &Input) -> Protect {
        Protect {
            input: match &input.source {
                batchkit_io::Source::Path(p) => Some((p.clone(), batchkit_io::paths::file_key(p))),
                batchkit_io::Source::Stdin => None,
            },
        }
    }

    fn check(&self, path: &Path, what: &'static str) -> Result<(), ShardError> {
        let Some((input, key)) = &self.input else {
            return Ok(());
        };
        if matches!(key, batchkit_io::paths::FileKey::Inode { .. })
            && batchkit_io::paths::file_key(path) == *key
        {
            return Err(ShardError::InputClash {
                input: input.clone(),
                path: path.to_path_buf(),
                what,
            });
        }
        Ok(())
    }
}
