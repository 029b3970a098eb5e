//! The Python runner's config shape, for the `Deserialize` of `App` and
//! `Start` (feature `serde`): each key but an app's `command` optional,
//! `null` taken as not given, and an unknown key or a bad value an error
//! that names the key. The Python package parses with this too.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::path::PathBuf;
use std::time::Duration;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};

use super::app::{App, Buffering, Start, Stderr, Transport};
use super::restart::Restart;
use super::untrusted::Untrusted;
use crate::process::limit::Limit;

#[derive(serde::Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum AppType {
    #[default]
    Stdio,
    Socket,
    Pty,
}

/// An app's config entry.
#[derive(Default)]
pub(crate) struct AppConfig {
    command: Option<String>,
    kind: AppType,
    cwd: Option<PathBuf>,
    socket: Option<PathBuf>,
    buffering: Buffering,
    setpgrp: bool,
    pty: bool,
    env: BTreeMap<String, String>,
    stderr: Stderr,
    transport: Transport,
    /// Seconds.
    socket_wait: Option<f64>,
    /// Seconds.
    termination_grace: Option<f64>,
    restart: Restart,
    /// Seconds: `[initial, max]`.
    backoff: Option<(f64, f64)>,
    max_restarts: Option<u32>,
    /// Seconds.
    restart_window: Option<f64>,
    die_with_parent: bool,
    /// user, namespaces, scheduling.
    untrusted: Untrusted,
    limits: LimitsConfig,
    /// Seconds: the bank of time a bot may go over its turns' deadlines.
    overage: Option<f64>,
}

/// A map read key by key: `read` takes the value of a key it knows.
trait Keyed: Default {
    /// What the map is, for a value of the wrong type.
    const WHAT: &'static str;
    /// The keys it knows, for an unknown one.
    const KEYS: &'static str;
    /// Reads `key`'s value; false for a key it does not know.
    fn read<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error>;
}

struct KeyedVisitor<T>(PhantomData<T>);

impl<'de, T: Keyed> Visitor<'de> for KeyedVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(T::WHAT)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        let mut out = T::default();
        // A key given twice would have its first value dropped unseen.
        let mut seen: Vec<String> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if seen.contains(&key) {
                return Err(de::Error::custom(format_args!("key {key:?} given twice")));
            }
            if !out.read(&key, &mut map)? {
                return Err(de::Error::custom(format_args!("unknown key {key:?} (known: {})", T::KEYS)));
            }
            seen.push(key);
        }
        Ok(out)
    }
}

/// Any value is taken, so that one that is not a map is an error that
/// says what was expected (the key, for `limits`), whatever the format.
fn keyed<'de, T: Keyed, D: Deserializer<'de>>(deserializer: D) -> Result<T, D::Error> {
    deserializer.deserialize_any(KeyedVisitor(PhantomData))
}

/// The value of `key`; `null` is `None`. A bad value's error names `key`.
fn value<'de, T: Deserialize<'de>, A: MapAccess<'de>>(map: &mut A, key: &str) -> Result<Option<T>, A::Error> {
    map.next_value::<Option<T>>().map_err(|e| de::Error::custom(format_args!("{key}: {e}")))
}

/// A bool that is a bool: not a string or a number that a lenient format
/// (Python's truthiness) would take as one.
struct Bool(bool);

impl<'de> Deserialize<'de> for Bool {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Bool, D::Error> {
        struct BoolVisitor;
        impl Visitor<'_> for BoolVisitor {
            type Value = Bool;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("true or false")
            }
            fn visit_bool<E: de::Error>(self, on: bool) -> Result<Bool, E> {
                Ok(Bool(on))
            }
        }
        deserializer.deserialize_any(BoolVisitor)
    }
}

/// A list of strings that is a list: not a string, which a lenient format
/// (Python, where a string is a sequence) would take as a list of letters.
struct Words(Vec<String>);

impl<'de> Deserialize<'de> for Words {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Words, D::Error> {
        struct WordsVisitor;
        impl<'de> Visitor<'de> for WordsVisitor {
            type Value = Words;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of strings")
            }
            fn visit_seq<S: de::SeqAccess<'de>>(self, mut seq: S) -> Result<Words, S::Error> {
                let mut words = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(word) = seq.next_element()? {
                    words.push(word);
                }
                Ok(Words(words))
            }
        }
        deserializer.deserialize_any(WordsVisitor)
    }
}

fn flag<'de, A: MapAccess<'de>>(map: &mut A, key: &str) -> Result<bool, A::Error> {
    Ok(value::<Bool, A>(map, key)?.is_some_and(|b| b.0))
}

impl Keyed for AppConfig {
    const WHAT: &'static str = "an app's config: a map with a \"command\"";
    const KEYS: &'static str = "command, type, cwd, socket, buffering, setpgrp, pty, env, stderr, transport, \
                                socket_wait, termination_grace, restart, backoff, max_restarts, \
                                restart_window, die_with_parent, user, no_new_privileges, \
                                isolate_network, isolate_pids, nice, scheduler, cpu_affinity, limits, \
                                overage";

    fn read<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "command" => self.command = value(map, key)?,
            "type" => self.kind = value(map, key)?.unwrap_or_default(),
            "cwd" => self.cwd = value(map, key)?,
            "socket" => self.socket = value(map, key)?,
            "buffering" => self.buffering = value(map, key)?.unwrap_or_default(),
            "setpgrp" => self.setpgrp = flag(map, key)?,
            "pty" => self.pty = flag(map, key)?,
            "env" => self.env = value(map, key)?.unwrap_or_default(),
            "stderr" => self.stderr = value(map, key)?.unwrap_or_default(),
            "transport" => self.transport = value(map, key)?.unwrap_or_default(),
            "socket_wait" => self.socket_wait = value(map, key)?,
            "termination_grace" => self.termination_grace = value(map, key)?,
            "restart" => self.restart = value(map, key)?.unwrap_or_default(),
            "backoff" => self.backoff = value(map, key)?,
            "max_restarts" => self.max_restarts = value(map, key)?,
            "restart_window" => self.restart_window = value(map, key)?,
            "die_with_parent" => self.die_with_parent = flag(map, key)?,
            "overage" => self.overage = value(map, key)?,
            "user" => self.untrusted.user = value(map, key)?,
            "no_new_privileges" => self.untrusted.no_new_privileges = flag(map, key)?,
            "isolate_network" => self.untrusted.isolate_network = flag(map, key)?,
            "isolate_pids" => self.untrusted.isolate_pids = flag(map, key)?,
            "nice" => self.untrusted.nice = value(map, key)?,
            "scheduler" => self.untrusted.scheduler = value(map, key)?,
            "cpu_affinity" => self.untrusted.cpu_affinity = value(map, key)?,
            // Its own errors name `limits.<name>`.
            "limits" => self.limits = map.next_value::<Option<LimitsConfig>>()?.unwrap_or_default(),
            _ => return Ok(false),
        }
        Ok(true)
    }
}

impl<'de> Deserialize<'de> for AppConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<AppConfig, D::Error> {
        keyed(deserializer)
    }
}

/// `"limits": {"memory": 268435456, "cpu_time": 10, ...}`: bytes, seconds, counts.
#[derive(Default)]
struct LimitsConfig {
    memory: Option<u64>,
    /// Seconds.
    cpu_time: Option<f64>,
    open_files: Option<u64>,
    processes: Option<u64>,
    file_size: Option<u64>,
    core_dump: Option<u64>,
    tree_memory: Option<u64>,
    tasks: Option<u64>,
    cpus: Option<f64>,
}

impl Keyed for LimitsConfig {
    const WHAT: &'static str = "limits: a map of memory, cpu_time, open_files, processes, file_size, core_dump, \
                                tree_memory, tasks, cpus";
    const KEYS: &'static str =
        "memory, cpu_time, open_files, processes, file_size, core_dump, tree_memory, tasks, cpus";

    fn read<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        let named = format!("limits.{key}");
        match key {
            "memory" => self.memory = value(map, &named)?,
            "cpu_time" => self.cpu_time = value(map, &named)?,
            "open_files" => self.open_files = value(map, &named)?,
            "processes" => self.processes = value(map, &named)?,
            "file_size" => self.file_size = value(map, &named)?,
            "core_dump" => self.core_dump = value(map, &named)?,
            "tree_memory" => self.tree_memory = value(map, &named)?,
            "tasks" => self.tasks = value(map, &named)?,
            "cpus" => self.cpus = value(map, &named)?,
            _ => {
                let error = format_args!("limits: unknown limit {key:?} (known: {})", Self::KEYS);
                return Err(de::Error::custom(error));
            }
        }
        Ok(true)
    }
}

impl<'de> Deserialize<'de> for LimitsConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<LimitsConfig, D::Error> {
        keyed(deserializer)
    }
}

impl LimitsConfig {
    fn limits(&self) -> Result<Vec<Limit>, ConfigError> {
        let mut limits: Vec<Limit> = [
            self.memory.map(Limit::Memory),
            self.open_files.map(Limit::OpenFiles),
            self.processes.map(Limit::Processes),
            self.file_size.map(Limit::FileSize),
            self.core_dump.map(Limit::CoreDump),
            self.tree_memory.map(Limit::TreeMemory),
            self.tasks.map(Limit::Tasks),
            self.cpus.map(Limit::Cpus),
        ]
        .into_iter()
        .flatten()
        .collect();
        if let Some(cpu) = self.cpu_time {
            limits.push(Limit::CpuTime(seconds(cpu, "limits.cpu_time")?));
        }
        Ok(limits)
    }
}

/// A config whose values cannot make an app; the message names the key.
#[derive(Debug)]
pub(crate) struct ConfigError(String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<AppConfig> for App {
    type Error = ConfigError;

    fn try_from(config: AppConfig) -> Result<App, ConfigError> {
        let command = config.command.ok_or_else(|| ConfigError("command: an app needs one".into()))?;
        let mut app = App::new(command)
            .buffering(config.buffering)
            .setpgrp(config.setpgrp)
            .stderr(config.stderr)
            .transport(config.transport)
            .restart(config.restart)
            .die_with_parent(config.die_with_parent)
            .pty(config.pty || config.kind == AppType::Pty);
        app.untrusted = config.untrusted;
        // As in the Python runner, `socket` means something only for socket apps,
        // which may also get their path at start.
        if config.kind == AppType::Socket {
            app.socket_type = true;
            if let Some(socket) = config.socket {
                app = app.socket(socket);
            }
        }
        if let Some(cwd) = config.cwd {
            app = app.cwd(cwd);
        }
        for (key, value) in config.env {
            app = app.env(key, value);
        }
        if let Some(wait) = config.socket_wait {
            app = app.socket_wait(seconds(wait, "socket_wait")?);
        }
        if let Some(grace) = config.termination_grace {
            app = app.termination_grace(seconds(grace, "termination_grace")?);
        }
        if let Some((initial, max)) = config.backoff {
            app = app.backoff(seconds(initial, "backoff")?, seconds(max, "backoff")?);
        }
        if let Some(bank) = config.overage {
            app = app.overage(seconds(bank, "overage")?);
        }
        for limit in config.limits.limits()? {
            app = app.limit(limit);
        }
        if config.max_restarts.is_some() || config.restart_window.is_some() {
            let window = config.restart_window.map(|w| seconds(w, "restart_window")).transpose()?;
            let n = config.max_restarts.unwrap_or(u32::MAX);
            app = app.max_restarts(n, window.unwrap_or(Duration::from_secs(60)));
        }
        Ok(app)
    }
}

fn seconds(value: f64, field: &str) -> Result<Duration, ConfigError> {
    // `{:?}` shows 1e300 as such, not as its 301 digits.
    Duration::try_from_secs_f64(value)
        .map_err(|e| ConfigError(format!("{field}: {value:?} is not a number of seconds ({e})")))
}

/// A start's overrides, as the Python runner's `start` takes them.
#[derive(Default)]
pub(crate) struct StartConfig(Start);

impl Keyed for StartConfig {
    const WHAT: &'static str = "a start's options: a map";
    const KEYS: &'static str = "alias, with_args, socket, cwd, setpgrp, buffering, nowait";

    fn read<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        let start = &mut self.0;
        match key {
            "alias" => start.alias = value(map, key)?,
            "with_args" => start.args = value::<Words, A>(map, key)?.map(|w| w.0).unwrap_or_default(),
            "socket" => start.socket = value(map, key)?,
            "cwd" => start.cwd = value(map, key)?,
            "setpgrp" => start.setpgrp = value::<Bool, A>(map, key)?.map(|b| b.0),
            "buffering" => start.buffering = value(map, key)?,
            "nowait" => start.nowait = flag(map, key)?,
            _ => return Ok(false),
        }
        Ok(true)
    }
}

impl<'de> Deserialize<'de> for StartConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<StartConfig, D::Error> {
        keyed(deserializer)
    }
}

impl From<StartConfig> for Start {
    fn from(config: StartConfig) -> Start {
        config.0
    }
}
