//! Splitting a command string into argv the way a POSIX shell splits words:
//! quotes and backslashes, and nothing else (no variables, globs or pipes).

use crate::error::{Error, Result};

/// Splits a command string into argv the way a POSIX shell splits words
/// (single and double quotes, backslashes), as [`App::new`](crate::App::new)
/// does; nothing is expanded and no shell ever runs it.
///
/// ```
/// use procloop::{Error, split_command};
///
/// assert_eq!(split_command(r#"grep -e "a b" 'c d' e\ f"#)?, ["grep", "-e", "a b", "c d", "e f"]);
/// assert_eq!(split_command("echo $HOME")?, ["echo", "$HOME"]);
/// assert!(matches!(split_command("echo 'oops"), Err(Error::BadCommand { .. })));
/// # Ok::<(), procloop::Error>(())
/// ```
pub fn split_command(command: &str) -> Result<Vec<String>> {
    let bad = |reason| Error::BadCommand { command: command.to_string(), reason };
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = command.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => words.extend(word.take()),
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.push(c),
                        None => return Err(bad("unterminated single quote")),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some('\n') => {}
                            Some(c @ ('\\' | '"' | '$' | '`')) => w.push(c),
                            Some(c) => w.extend(['\\', c]),
                            None => return Err(bad("unterminated double quote")),
                        },
                        Some(c) => w.push(c),
                        None => return Err(bad("unterminated double quote")),
                    }
                }
            }
            '\\' => match chars.next() {
                Some('\n') => {}
                Some(c) => word.get_or_insert_with(String::new).push(c),
                None => return Err(bad("trailing backslash")),
            },
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    if words.is_empty() {
        return Err(bad("empty command"));
    }
    Ok(words)
}

/// Quotes `words` so that [`split_command`] gives them back; for error messages
/// and tests.
#[cfg(test)]
pub(crate) fn quote(words: &[String]) -> String {
    let quote_word = |w: &String| format!("'{}'", w.replace('\'', r"'\''"));
    words.iter().map(quote_word).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn words(command: &str) -> Vec<String> {
        split_command(command).unwrap()
    }

    #[test]
    fn splits_like_a_shell() {
        assert_eq!(words("cat"), ["cat"]);
        assert_eq!(
            words("  socat  SYSTEM:cat\tUNIX-LISTEN:sock "),
            ["socat", "SYSTEM:cat", "UNIX-LISTEN:sock"]
        );
        assert_eq!(words(r#"echo 'a b' "c d" e\ f"#), ["echo", "a b", "c d", "e f"]);
        assert_eq!(words(r#"echo "x\"y\\z\n""#), ["echo", r#"x"y\z\n"#]);
        assert_eq!(words("echo '' \"\""), ["echo", "", ""]);
        assert_eq!(words("a'b'\"c\"d"), ["abcd"]);
        assert_eq!(words("echo $HOME *"), ["echo", "$HOME", "*"], "no expansion");
        assert_eq!(words("echo a\\\nb"), ["echo", "ab"], "line continuation");
    }

    #[test]
    fn bad_commands_say_why() {
        for (command, reason) in [
            ("", "empty command"),
            ("   ", "empty command"),
            ("echo 'open", "unterminated single quote"),
            ("echo \"open", "unterminated double quote"),
            ("echo \\", "trailing backslash"),
        ] {
            match split_command(command) {
                Err(Error::BadCommand { command: c, reason: r }) => {
                    assert_eq!((c.as_str(), r), (command, reason));
                }
                other => panic!("{command:?}: {other:?}"),
            }
        }
    }

    proptest! {
        #[test]
        fn quoting_round_trips(argv in prop::collection::vec(".*", 1..6)) {
            prop_assert_eq!(split_command(&quote(&argv)).unwrap(), argv);
        }

        #[test]
        fn never_panics(command in ".*") {
            let _ = split_command(&command);
        }
    }
}
