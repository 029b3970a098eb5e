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
