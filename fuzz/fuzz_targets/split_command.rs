//! The command splitter never panics, and quoting what it split gives the
//! same words back.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|command: &str| {
    if let Ok(words) = procloop::split_command(command) {
        let quoted: Vec<String> = words.iter().map(|w| format!("'{}'", w.replace('\'', r"'\''"))).collect();
        assert_eq!(procloop::split_command(&quoted.join(" ")).unwrap(), words);
    }
});
