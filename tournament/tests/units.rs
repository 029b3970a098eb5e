//! The example's modules with their own unit tests, compiled here: an
//! example built as a test (`test = true`) is not built as the binary that
//! tests/tournament.rs runs.
#![allow(dead_code)]

#[path = "../examples/tournament/answers.rs"]
mod answers;
#[path = "../examples/tournament/game.rs"]
mod game;
#[path = "../examples/tournament/options.rs"]
mod options;
#[path = "../examples/tournament/pacing.rs"]
mod pacing;
#[path = "../examples/tournament/play.rs"]
mod play;
#[path = "../examples/tournament/score.rs"]
mod score;
#[path = "../examples/tournament/signals.rs"]
mod signals;
