//! `App` from the seed's config shape (feature `serde`).
#![cfg(feature = "serde")]

mod util;

use std::collections::HashMap;

use procloop::{App, Runner};
use util::*;

#[test]
fn seed_config_shape_drives_update_config() {
    init();
    let dir = TempDir::new("config");
    let sock = dir.path().join("sock");
    let json = format!(
        r#"{{
            "cat": {{"command": "cat", "type": "stdio", "buffering": "line", "cwd": "/tmp", "setpgrp": true}},
            "socat": {{"command": "socat SYSTEM:cat UNIX-LISTEN:{0}", "type": "socket", "socket": "{0}"}}
        }}"#,
        sock.display()
    );
    let config: HashMap<String, App> = serde_json::from_str(&json).unwrap();
    assert_eq!(config["socat"].socket_path(), Some(sock.as_path()));
    let mut runner = Runner::new().unwrap();
    runner.update_config(config);

    runner.start("cat").unwrap();
    let cat = runner.get_channel("cat").unwrap();
    assert!(cat.is_line_buffered());
    cat.write(b"one\ntwo\n").unwrap();
    assert_eq!(read_some(cat).unwrap(), b"one\n");

    runner.start("socat").unwrap();
    let socat = runner.get_channel("socat").unwrap();
    socat.write(b"via socket").unwrap();
    assert_eq!(read_exactly(socat, 10), b"via socket");
}

#[test]
fn config_fields_and_defaults() {
    let app: App = serde_json::from_str(
        r#"{"command": "cat", "env": {"A": "1"}, "stderr": "capture", "transport": "socketpair",
            "socket_wait": 0.5, "termination_grace": 2}"#,
    )
    .unwrap();
    assert_eq!(app.command(), "cat");
    assert_eq!(app.socket_path(), None);
    // The fields have no getters; the Debug form shows each one was taken.
    let shown = format!("{app:?}");
    for field in [
        r#"env: [("A", "1")]"#,
        "stderr: Capture",
        "transport: SocketPair",
        "socket_wait: 500ms",
        "grace: 2s",
        "buffering: Bytes",
        "setpgrp: false",
    ] {
        assert!(shown.contains(field), "{field} not in {shown}");
    }
    let restart: App = serde_json::from_str(
        r#"{"command": "x", "restart": "on_failure", "backoff": [0.25, 4], "max_restarts": 3}"#,
    )
    .unwrap();
    let shown = format!("{restart:?}");
    for field in ["when: OnFailure", "initial: 250ms", "max: 4s", "max_restarts: 3", "window: 60s"] {
        assert!(shown.contains(field), "{field} not in {shown}");
    }
}

#[test]
fn config_errors_name_the_field() {
    let err = serde_json::from_str::<App>(r#"{"command": "cat", "buffer": "line"}"#).unwrap_err();
    assert!(err.to_string().contains("buffer"), "{err}");
    let err = serde_json::from_str::<App>(r#"{"command": "cat", "type": "pipe"}"#).unwrap_err();
    assert!(err.to_string().contains("pipe"), "{err}");
    let err = serde_json::from_str::<App>(r#"{"type": "stdio"}"#).unwrap_err();
    assert!(err.to_string().contains("command"), "{err}");
    let err = serde_json::from_str::<App>(r#"{"command": "x", "termination_grace": -1}"#).unwrap_err();
    assert!(err.to_string().contains("termination_grace"), "{err}");
    // A huge value is named as it was written, not by its 301 digits.
    let err = serde_json::from_str::<App>(r#"{"command": "x", "termination_grace": 1e300}"#).unwrap_err();
    assert!(err.to_string().contains("termination_grace: 1e300 is not"), "{err}");
}

#[test]
fn socket_type_without_path_needs_one_at_start() {
    let app: App = serde_json::from_str(r#"{"command": "sleep 5", "type": "socket"}"#).unwrap();
    let mut runner = Runner::new().unwrap();
    runner.add("s", app);
    let err = runner.start("s").unwrap_err();
    assert!(matches!(err, procloop::Error::InvalidSocketPath { .. }), "{err:?}");
    assert!(err.to_string().contains("names a socket"), "{err}");
}

#[test]
fn config_takes_the_tree_limits() {
    use procloop::Limit;
    let json = r#"{"command": "bot", "limits": {"tree_memory": 1048576, "tasks": 8, "cpus": 0.5}}"#;
    let app: App = serde_json::from_str(json).unwrap();
    assert_eq!(app.limits(), [Limit::TreeMemory(1 << 20), Limit::Tasks(8), Limit::Cpus(0.5)]);
}

#[test]
fn every_bad_value_is_an_error_naming_its_key() {
    for (config, key) in [
        (r#"{"command": "x", "buffering": "lines"}"#, "buffering:"),
        (r#"{"command": "x", "buffering": 1}"#, "buffering:"),
        (r#"{"command": 5}"#, "command:"),
        (r#"{"command": "x", "type": "pipe"}"#, "type:"),
        (r#"{"command": "x", "cwd": 3}"#, "cwd:"),
        (r#"{"command": "x", "setpgrp": "yes"}"#, "setpgrp:"),
        (r#"{"command": "x", "pty": 1}"#, "pty:"),
        (r#"{"command": "x", "env": ["A=1"]}"#, "env:"),
        (r#"{"command": "x", "env": {"A": 1}}"#, "env:"),
        (r#"{"command": "x", "stderr": "loud"}"#, "stderr:"),
        (r#"{"command": "x", "transport": "pigeon"}"#, "transport:"),
        (r#"{"command": "x", "socket_wait": "5s"}"#, "socket_wait:"),
        (r#"{"command": "x", "termination_grace": -1}"#, "termination_grace:"),
        (r#"{"command": "x", "restart": "sometimes"}"#, "restart:"),
        (r#"{"command": "x", "backoff": [1]}"#, "backoff:"),
        (r#"{"command": "x", "max_restarts": -1}"#, "max_restarts:"),
        (r#"{"command": "x", "restart_window": true}"#, "restart_window:"),
        (r#"{"command": "x", "die_with_parent": "no"}"#, "die_with_parent:"),
        (r#"{"command": "x", "overage": "lots"}"#, "overage:"),
        (r#"{"command": "x", "limits": {"memory": "1G"}}"#, "limits.memory:"),
        (r#"{"command": "x", "limits": {"cpu_time": -1}}"#, "limits.cpu_time:"),
        (r#"{"command": "x", "limits": {"mem": 1}}"#, "limits: unknown limit \"mem\""),
        (r#"{"command": "x", "colour": "red"}"#, "unknown key \"colour\""),
        (r#"{"type": "stdio"}"#, "command:"),
    ] {
        let err = serde_json::from_str::<App>(config).map(|_| ()).unwrap_err().to_string();
        assert!(err.contains(key), "{config}: {err:?} does not name {key:?}");
    }
}

#[test]
fn null_is_the_default() {
    let app: App = serde_json::from_str(
        r#"{"command": "cat", "type": null, "buffering": null, "cwd": null, "setpgrp": null, "env": null,
            "stderr": null, "restart": null, "limits": null, "termination_grace": null}"#,
    )
    .unwrap();
    let shown = format!("{app:?}");
    for field in ["buffering: Bytes", "setpgrp: false", "stderr: Inherit", "grace: 5s", "cwd: None"] {
        assert!(shown.contains(field), "{field} not in {shown}");
    }
}

#[test]
fn start_options_from_the_config_shape() {
    let start: procloop::Start = serde_json::from_str(
        r#"{"alias": "b", "with_args": ["-n", "x y"], "buffering": "line", "setpgrp": null, "nowait": false}"#,
    )
    .unwrap();
    let mut runner = Runner::new().unwrap();
    runner.add("echo", App::new("echo"));
    runner.start_with("echo", start).unwrap();
    let channel = runner.get_channel("b").unwrap();
    assert!(channel.is_line_buffered());
    assert_eq!(read_to_end(channel), b"x y");
    for (config, key) in [
        (r#"{"with_args": "abc"}"#, "with_args:"),
        (r#"{"buffering": "lines"}"#, "buffering:"),
        (r#"{"nowait": 1}"#, "nowait:"),
        (r#"{"args": []}"#, "unknown key \"args\""),
    ] {
        let err = serde_json::from_str::<procloop::Start>(config).map(|_| ()).unwrap_err().to_string();
        assert!(err.contains(key), "{config}: {err:?} does not name {key:?}");
    }
}
