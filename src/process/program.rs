//! Finding the program file of a command: a path as it is, a bare name
//! in the PATH its child gets (found once, then cached).

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use super::start_error;
use crate::error::{Error, Result};

/// The program file of `command`: itself if it names a path, else where
/// it is found in the PATH its child gets (a `PATH` in `env`, else
/// `path`, else ours). A bare name found nowhere is an error naming that PATH.
pub(super) fn find_program(
    env: &[(OsString, OsString)],
    command: &str,
    path: Option<&OsStr>,
    programs: &mut ProgramCache,
) -> Result<PathBuf> {
    if command.contains('/') {
        return Ok(PathBuf::from(command));
    }
    let own_path = env.iter().rev().find(|(k, _)| k == "PATH").map(|(_, v)| v.as_os_str());
    let found = match own_path {
        // An app's own PATH is looked through on each start, not cached.
        Some(own) => search(command, own),
        None => programs.resolve(command, path),
    };
    found.ok_or_else(|| {
        let searched =
            own_path.map(OsString::from).or(path.map(OsString::from)).or_else(|| std::env::var_os("PATH"));
        Error::Spawn {
            command: command.to_string(),
            source: start_error::not_in_path(&searched.unwrap_or_default()),
        }
    })
}

/// Where commands were found in PATH, so each start execs once instead of
/// trying every PATH folder in the child.
#[derive(Debug, Default)]
pub(crate) struct ProgramCache(HashMap<String, PathBuf>);

impl ProgramCache {
    /// The full path of the bare name `program` if it is found in `path`
    /// (default: our PATH).
    fn resolve(&mut self, program: &str, path: Option<&OsStr>) -> Option<PathBuf> {
        if let Some(found) = self.0.get(program) {
            return Some(found.clone());
        }
        let path = path.map(OsString::from).or_else(|| std::env::var_os("PATH"))?;
        let found = search(program, &path)?;
        self.0.insert(program.to_string(), found.clone());
        Some(found)
    }

    pub(super) fn forget(&mut self, program: &str) {
        self.0.remove(program);
    }
}

/// The first executable file named `program` in the folders of `path`.
fn search(program: &str, path: &OsStr) -> Option<PathBuf> {
    std::env::split_paths(path).map(|dir| dir.join(program)).find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
