//! Writing a run's folder so that a failure never leaves it half-written: everything is built
//! in a hidden staging folder and renamed into place at the end, and the staging folder (and
//! any parent folder this call created) is removed again if anything fails on the way.

use crate::error::ReportError;
use crate::SUMMARY_FILE;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Distinguishes the staging folders of one process.
static STAGING_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A whole run folder under construction beside its final place (`.NAME.tmp-PID-N`).
pub(crate) struct StagedFolder {
    final_dir: PathBuf,
    staging: PathBuf,
    /// Parent folders this call created, deepest first, removed again on failure.
    created_parents: Vec<PathBuf>,
    committed: bool,
}

impl StagedFolder {
    /// Checks that `final_dir` may be (re)placed, creates its missing parents and an empty
    /// staging folder beside it.
    pub(crate) fn begin(final_dir: &Path) -> Result<StagedFolder, ReportError> {
        let name = final_dir
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| ReportError::Refused {
                path: final_dir.to_path_buf(),
                reason: "an output folder needs a name of its own (not `.`, `..` or `/`)".into(),
            })?
            .to_string();
        let parent = match final_dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        check_replaceable(final_dir)?;
        let mut folder = StagedFolder {
            final_dir: final_dir.to_path_buf(),
            staging: PathBuf::new(),
            created_parents: missing_ancestors(&parent),
            committed: false,
        };
        fs::create_dir_all(&parent).map_err(|e| ReportError::write(&parent, e))?;
        folder.staging = create_unique_dir(&parent, &format!(".{name}.tmp"))?;
        Ok(folder)
    }

    /// The staging folder to write into.
    pub(crate) fn path(&self) -> &Path {
        &self.staging
    }

    /// Renames the staging folder into place, replacing a previous run's folder.
    pub(crate) fn commit(mut self) -> Result<(), ReportError> {
        let previous = match fs::symlink_metadata(&self.final_dir) {
            Ok(_) => {
                // Checked again: the folder may have appeared since `begin`.
                check_replaceable(&self.final_dir)?;
                let parent = self.staging.parent().unwrap_or(Path::new("."));
                let name = self
                    .final_dir
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or("run");
                let aside = unique_name(parent, &format!(".{name}.old"));
                fs::rename(&self.final_dir, &aside)
                    .map_err(|e| ReportError::write(&self.final_dir, e))?;
                Some(aside)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(ReportError::write(&self.final_dir, e)),
        };
        if let Err(e) = fs::rename(&self.staging, &self.final_dir) {
            if let Some(aside) = &previous {
                // Put the previous run back where it was; nothing better can be done if this
                // fails too.
                let _ = fs::rename(aside, &self.final_dir);
            }
            return Err(ReportError::write(&self.final_dir, e));
        }
        self.committed = true;
        if let Some(aside) = previous {
            // Best effort: the new folder is in place whatever happens here.
            let _ = fs::remove_dir_all(aside);
        }
        Ok(())
    }
}

impl Drop for StagedFolder {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        if !self.staging.as_os_str().is_empty() {
            let _ = fs::remove_dir_all(&self.staging);
        }
        for dir in &self.created_parents {
            // Only empty folders: remove_dir refuses anything else.
            let _ = fs::remove_dir(dir);
        }
    }
}

/// Some entries of an existing run folder (`report.html`, `charts/`) rebuilt in a hidden
/// staging folder inside it, then swapped in one rename each.
pub(crate) struct StagedEntries {
    dir: PathBuf,
    staging: PathBuf,
}

impl StagedEntries {
    pub(crate) fn inside(dir: &Path) -> Result<StagedEntries, ReportError> {
        let staging = create_unique_dir(dir, ".render.tmp")?;
        Ok(StagedEntries {
            dir: dir.to_path_buf(),
            staging,
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.staging
    }

    /// Moves each staged entry into the folder, the previous one (if any) into the staging
    /// folder, which is then removed. On a failed rename the previous entry is put back.
    pub(crate) fn replace_entries(self, entries: &[&Path]) -> Result<(), ReportError> {
        for entry in entries {
            let target = self.dir.join(entry);
            let fresh = self.staging.join(entry);
            let aside = self.staging.join(format!("previous-{}", entry.display()));
            let had_previous = fs::symlink_metadata(&target).is_ok();
            if had_previous {
                fs::rename(&target, &aside).map_err(|e| ReportError::write(&target, e))?;
            }
            if let Err(e) = fs::rename(&fresh, &target) {
                if had_previous {
                    let _ = fs::rename(&aside, &target);
                }
                return Err(ReportError::write(&target, e));
            }
        }
        Ok(())
    }
}

impl Drop for StagedEntries {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.staging);
    }
}

/// Writes a whole file, naming it in the error.
pub(crate) fn write_file(path: &Path, contents: &str) -> Result<(), ReportError> {
    fs::write(path, contents).map_err(|e| ReportError::write(path, e))
}

pub(crate) fn create_dir(path: &Path) -> Result<(), ReportError> {
    fs::create_dir(path).map_err(|e| ReportError::write(path, e))
}

/// An existing output folder is replaced only when it is empty or a previous run's (it holds a
/// `summary.json`): `--out ~` must never delete a home folder.
fn check_replaceable(dir: &Path) -> Result<(), ReportError> {
    let meta = match fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(ReportError::write(dir, e)),
    };
    if !meta.is_dir() {
        return Err(ReportError::Refused {
            path: dir.to_path_buf(),
            reason: "exists and is not a folder; refusing to replace it".into(),
        });
    }
    let mut entries = fs::read_dir(dir).map_err(|e| ReportError::write(dir, e))?;
    let empty = entries.next().is_none();
    if empty || dir.join(SUMMARY_FILE).is_file() {
        Ok(())
    } else {
        Err(ReportError::Refused {
            path: dir.to_path_buf(),
            reason: format!(
                "exists and is not a run's output folder (no {SUMMARY_FILE}); refusing to \
                 replace it"
            ),
        })
    }
}

/// The ancestors of `dir` (itself included) that do not exist yet, deepest first.
fn missing_ancestors(dir: &Path) -> Vec<PathBuf> {
    dir.ancestors()
        .filter(|a| !a.as_os_str().is_empty())
        .take_while(|a| fs::symlink_metadata(a).is_err())
        .map(Path::to_path_buf)
        .collect()
}

fn unique_name(parent: &Path, prefix: &str) -> PathBuf {
    let n = STAGING_COUNTER.fetch_add(1, Ordering::Relaxed);
    parent.join(format!("{prefix}-{}-{n}", std::process::id()))
}

/// Creates a fresh folder `PARENT/PREFIX-PID-N`, skipping names a crashed run left behind.
fn create_unique_dir(parent: &Path, prefix: &str) -> Result<PathBuf, ReportError> {
    loop {
        let candidate = unique_name(parent, prefix);
        match fs::create_dir(&candidate) {
            Ok(()) => return Ok(candidate),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(ReportError::write(&candidate, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_build_leaves_nothing_behind() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("a/b/run");
        {
            let staged = StagedFolder::begin(&target).unwrap();
            write_file(&staged.path().join("x.txt"), "x").unwrap();
            // dropped without commit
        }
        assert!(
            !tmp.path().join("a").exists(),
            "created parents are removed"
        );
        assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 0);
    }

    #[test]
    fn commit_replaces_a_previous_run_and_leaves_no_staging() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("run");
        fs::create_dir(&target).unwrap();
        fs::write(target.join(SUMMARY_FILE), "{}").unwrap();
        fs::write(target.join("stale.txt"), "old").unwrap();
        let staged = StagedFolder::begin(&target).unwrap();
        write_file(&staged.path().join(SUMMARY_FILE), "new").unwrap();
        staged.commit().unwrap();
        assert_eq!(
            fs::read_to_string(target.join(SUMMARY_FILE)).unwrap(),
            "new"
        );
        assert!(!target.join("stale.txt").exists());
        let names: Vec<_> = fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("run")]);
    }

    #[test]
    fn refuses_to_replace_a_folder_that_is_not_a_run() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("precious.txt"), "keep").unwrap();
        let err = StagedFolder::begin(tmp.path()).err().expect("refused");
        assert!(matches!(err, ReportError::Refused { .. }), "{err}");
        assert!(tmp.path().join("precious.txt").exists());
    }
}
