//! A cgroup leaf's tree as a whole: what it used (`cpu.stat`,
//! `memory.peak`, `pids.current` or `cgroup.threads`) and the limits set on
//! it (`memory.max`, `pids.max`, `cpu.max`).

use std::fs;
use std::io;
use std::path::Path;
use std::time::Duration;

use super::limit::Limit;
use super::usage::TreeUsage;

/// The period of `cpu.max`, in microseconds (the kernel's default).
const CPU_PERIOD: u64 = 100_000;

/// The smallest quota `cpu.max` takes, in microseconds.
const CPU_MIN_QUOTA: u64 = 1_000;

/// The largest quota `cpu.max` takes, in microseconds (the kernel's
/// `MAX_BW`, 2^44 - 1: some 176 million CPUs' worth at our period).
const CPU_MAX_QUOTA: f64 = ((1u64 << 44) - 1) as f64;

/// What the tree in `dir` used, its `cpu.stat` being `stat`: CPU time of
/// all its processes, those that ended included (`cpu.stat` is there
/// without the cpu controller too), its memory peak where the memory
/// controller is on, its tasks now.
pub(crate) fn usage_with(dir: &Path, stat: &str) -> io::Result<TreeUsage> {
    let (user, system) = user_system(stat);
    Ok(TreeUsage { user, system, memory_peak: memory_peak(dir)?, tasks: tasks(dir)? })
}

/// `memory.peak`, where the memory controller is on.
fn memory_peak(dir: &Path) -> io::Result<Option<u64>> {
    match fs::read_to_string(dir.join("memory.peak")) {
        Ok(text) => Ok(text.trim().parse().ok()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// What the tree in `dir` used, read as its last process has gone: no
/// task is left to count.
pub(crate) fn usage_at_end(dir: &Path) -> io::Result<TreeUsage> {
    let (user, system) = user_system(&read_small(&dir.join("cpu.stat"))?);
    Ok(TreeUsage { user, system, memory_peak: memory_peak(dir)?, tasks: 0 })
}

/// User and system CPU time in the text of a `cpu.stat`.
pub(crate) fn user_system(stat: &str) -> (Duration, Duration) {
    let micros = |key: &str| Duration::from_micros(field(stat, key).unwrap_or(0));
    (micros("user_usec"), micros("system_usec"))
}

/// The CPU time (user and system) in the text of a `cpu.stat`: what a
/// turn charges a bot.
pub(crate) fn usage_usec(stat: &str) -> Duration {
    Duration::from_micros(field(stat, "usage_usec").unwrap_or(0))
}

/// Processes and threads in the tree: `pids.current`, or without the pids
/// controller the lines of `cgroup.threads`.
fn tasks(dir: &Path) -> io::Result<u64> {
    match fs::read_to_string(dir.join("pids.current")) {
        Ok(text) => Ok(text.trim().parse().unwrap_or(0)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            Ok(fs::read_to_string(dir.join("cgroup.threads"))?.lines().count() as u64)
        }
        Err(e) => Err(e),
    }
}

/// A small cgroup file read whole: one open, one read, one close (where
/// `read_to_string` would also stat it and read until an empty read).
pub(crate) fn read_small(path: &Path) -> io::Result<String> {
    use std::io::Read;
    let mut buf = [0u8; 4096];
    let mut file = fs::File::open(path)?;
    let len = file.read(&mut buf)?;
    if len == buf.len() {
        // Longer than such files are: read the rest the usual way.
        let mut rest = Vec::new();
        file.read_to_end(&mut rest)?;
        let mut all = buf.to_vec();
        all.extend(rest);
        return Ok(String::from_utf8_lossy(&all).into_owned());
    }
    Ok(String::from_utf8_lossy(&buf[..len]).into_owned())
}

/// Writes `text` to the cgroup file `path`, which must be there: opened
/// without `O_CREAT`, so that a file the kernel lacks is `NotFound` (with
/// `O_CREAT` cgroupfs answers EACCES: a kernel without `cgroup.kill` or
/// swap accounting), and a plain directory gets no file made in it.
pub(crate) fn write_file(path: &Path, text: &str) -> io::Result<()> {
    use std::io::Write;
    fs::OpenOptions::new().write(true).open(path)?.write_all(text.as_bytes())
}

/// An open cgroup file read whole from its start: one `pread` (the kernel
/// makes its text afresh for a read at offset 0).
pub(crate) fn read_whole(file: &fs::File) -> io::Result<String> {
    use std::os::unix::fs::FileExt;
    let mut buf = [0u8; 4096];
    let mut len = file.read_at(&mut buf, 0)?;
    if len < buf.len() {
        return Ok(String::from_utf8_lossy(&buf[..len]).into_owned());
    }
    // Longer than such files are: read on until the end.
    let mut all = buf.to_vec();
    while len > 0 {
        len = file.read_at(&mut buf, all.len() as u64)?;
        all.extend_from_slice(&buf[..len]);
    }
    Ok(String::from_utf8_lossy(&all).into_owned())
}

/// The number after `key` in a flat-keyed file such as `cpu.stat`.
fn field(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| line.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
}

/// A tree limit's value must be one a child can start under and the
/// kernel takes: some memory, a task for the child itself, a positive
/// number of CPUs that `cpu.max` can hold.
pub(crate) fn check_value(limit: &Limit) -> crate::Result<()> {
    let reason = match limit {
        Limit::TreeMemory(0) => "a tree with no memory at all cannot run",
        Limit::Tasks(0) => "a tree needs at least one task: its child",
        Limit::Cpus(cpus) if !(cpus.is_finite() && *cpus > 0.0) => "a tree's CPUs must be a positive number",
        Limit::Cpus(cpus) if cpus * CPU_PERIOD as f64 > CPU_MAX_QUOTA => {
            "more CPUs than the kernel's cpu.max can take"
        }
        _ => return Ok(()),
    };
    Err(crate::Error::InvalidSetting { setting: format!("limit {limit}"), reason })
}

/// Sets a tree limit in the leaf `dir` (whose controller is on there).
pub(crate) fn set_limit(dir: &Path, limit: &Limit) -> io::Result<()> {
    match *limit {
        Limit::TreeMemory(bytes) => {
            write_file(&dir.join("memory.max"), &bytes.to_string())?;
            // No swap to go past the limit into; absent without swap accounting.
            match write_file(&dir.join("memory.swap.max"), "0") {
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                done => done,
            }
        }
        Limit::Tasks(tasks) => write_file(&dir.join("pids.max"), &tasks.to_string()),
        Limit::Cpus(cpus) => write_file(&dir.join("cpu.max"), &cpu_max(cpus)),
        _ => Ok(()),
    }
}

/// `cpu.max` for `cpus` CPUs' worth of time: quota and period.
fn cpu_max(cpus: f64) -> String {
    let quota = (cpus * CPU_PERIOD as f64).round() as u64;
    format!("{} {CPU_PERIOD}", quota.max(CPU_MIN_QUOTA))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cpu_stat_fields_by_exact_name() {
        let stat = "usage_usec 300\nuser_usec 200\nsystem_usec 100\nnr_periods 0\n";
        assert_eq!(field(stat, "user_usec"), Some(200));
        assert_eq!(field(stat, "usage_usec"), Some(300));
        assert_eq!(field(stat, "user"), None);
    }

    #[test]
    fn a_small_read_gives_the_whole_file_short_or_long() {
        let dir = std::env::temp_dir().join(format!("procloop-read-small-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        for len in [0, 30, 4095, 4096, 10_000] {
            let text: String = (0..len).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
            fs::write(dir.join("f"), &text).unwrap();
            assert_eq!(read_small(&dir.join("f")).unwrap(), text, "{len} bytes");
            let file = fs::File::open(dir.join("f")).unwrap();
            assert_eq!(read_whole(&file).unwrap(), text, "{len} bytes by pread");
            assert_eq!(read_whole(&file).unwrap(), text, "{len} bytes by pread, again");
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn cpus_must_be_positive_and_within_what_cpu_max_takes() {
        for bad in [f64::NAN, f64::INFINITY, -1.0, 0.0, 1e30] {
            let err = check_value(&Limit::Cpus(bad)).unwrap_err();
            assert!(err.to_string().contains(&format!("cpus of {bad:?}")), "{err}");
        }
        for good in [0.0001, 1.0, 64.0, 1e6] {
            assert!(check_value(&Limit::Cpus(good)).is_ok(), "{good}");
        }
    }

    #[test]
    fn cpu_max_is_a_quota_per_period() {
        assert_eq!(cpu_max(0.5), "50000 100000");
        assert_eq!(cpu_max(2.0), "200000 100000");
        assert_eq!(cpu_max(0.0001), "1000 100000", "the kernel's smallest quota");
    }
}
