//! The tournament's command line, checked: every bad value is named.

use std::path::PathBuf;
use std::time::Duration;

use procloop::{Cgroups, Charge};

pub const USAGE: &str = "usage: tournament [--engine CMD] [--engine CMD] [--concurrency C] [--games G]
    [--nodes N] [--tc BASE+INC] [--max-plies P] [--hash MIB] [--pgn FILE] [--charge cpu|wall]
    [--contain cgroup|group]
  --engine      an engine's command line, once for both or twice (default: stockfish)
  --concurrency games played at once (default 1)
  --games       games in all (default 2); colours alternate
  --nodes       nodes a move (`go nodes N`); the default when --tc is not given: 2000
  --tc          each side's clock, seconds: base plus increment a move (e.g. 10+0.1; at most a day)
  --max-plies   a game that reaches it is drawn by adjudication (default 400; 0: none)
  --hash        the engines' Hash option in MiB (default: the engine's own)
  --pgn         the file the games are appended to (default: none)
  --charge      what a clock counts: the engine's CPU time (default) or wall time
  --contain     each engine in a cgroup of its own where one can be had, else a process
                group (cgroup, the default), or in a process group only (group: cheaper
                to start and end, but a child that leaves the group outlives the run)";

/// The longest clock a side may have, base or increment: a day. UCI's
/// `wtime` is in milliseconds, and an engine that reads it into a 32-bit
/// integer would take a longer one as negative; a clock of 1e18 s left
/// the engines thinking for ever.
const LONGEST_CLOCK: Duration = Duration::from_secs(86_400);

/// A clock: `base` at the start of a game, `increment` after each move.
#[derive(Clone, Copy, Debug)]
pub struct TimeControl {
    pub base: Duration,
    pub increment: Duration,
}

#[derive(Debug)]
pub struct Options {
    pub engines: [String; 2],
    pub concurrency: usize,
    pub games: usize,
    pub nodes: Option<u64>,
    pub tc: Option<TimeControl>,
    pub max_plies: usize,
    pub hash: Option<u32>,
    pub pgn: Option<PathBuf>,
    pub charge: Charge,
    pub cgroups: Cgroups,
}

/// The options from `args` (the program's name left out); `Err` names what was wrong.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
    let mut engines = Vec::new();
    let mut opts = Options {
        engines: Default::default(),
        concurrency: 1,
        games: 2,
        nodes: None,
        tc: None,
        max_plies: 400,
        hash: None,
        pgn: None,
        charge: Charge::Cpu,
        cgroups: Cgroups::Preferred,
    };
    let mut args = args.into_iter();
    let mut seen = Vec::new();
    while let Some(arg) = args.next() {
        if arg != "--engine" && arg.starts_with("--") {
            if seen.contains(&arg) {
                return Err(format!("{arg} given twice"));
            }
            seen.push(arg.clone());
        }
        // A flag where its value should be is a value left out.
        let mut value = || args.next().filter(|v| !v.starts_with("--")).ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--engine" => engines.push(value()?),
            "--concurrency" => opts.concurrency = number(&arg, &value()?)?,
            "--games" => opts.games = number(&arg, &value()?)?,
            "--nodes" => opts.nodes = Some(number(&arg, &value()?)?),
            "--tc" => opts.tc = Some(time_control(&value()?)?),
            "--max-plies" => opts.max_plies = number(&arg, &value()?)?,
            "--hash" => opts.hash = Some(number(&arg, &value()?)?),
            "--pgn" => opts.pgn = Some(value()?.into()),
            "--charge" => opts.charge = charge(&value()?)?,
            "--contain" => opts.cgroups = contain(&value()?)?,
            "--help" | "-h" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    opts.engines = match engines.len() {
        0 => ["stockfish".into(), "stockfish".into()],
        1 => [engines[0].clone(), engines[0].clone()],
        2 => [engines[0].clone(), engines[1].clone()],
        n => return Err(format!("--engine given {n} times: a tournament has two engines")),
    };
    // A command that cannot be split is named now, not after the start.
    for engine in &opts.engines {
        procloop::split_command(engine).map_err(|e| format!("--engine: {e}"))?;
    }
    if opts.concurrency == 0 {
        return Err("--concurrency 0: at least one game must be played at a time".into());
    }
    if opts.games == 0 {
        return Err("--games 0: at least one game must be played".into());
    }
    if opts.nodes == Some(0) {
        return Err("--nodes 0: an engine needs at least one node a move".into());
    }
    if opts.tc.is_none() && opts.nodes.is_none() {
        opts.nodes = Some(2000);
    }
    Ok(opts)
}

fn number<T: std::str::FromStr>(arg: &str, value: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    value.parse().map_err(|e| format!("{arg} {value:?}: {e}"))
}

/// "BASE+INC" or "BASE", in seconds.
fn time_control(value: &str) -> Result<TimeControl, String> {
    let (base, increment) = value.split_once('+').unwrap_or((value, "0"));
    let seconds = |part: &str| -> Result<Duration, String> {
        let s: f64 = part.parse().map_err(|e| format!("--tc {value:?}: {part:?}: {e}"))?;
        let clock = Duration::try_from_secs_f64(s)
            .map_err(|_| format!("--tc {value:?}: {part:?} is not a duration"))?;
        if clock > LONGEST_CLOCK {
            return Err(format!(
                "--tc {value:?}: {part:?} is more than a day ({} s)",
                LONGEST_CLOCK.as_secs()
            ));
        }
        Ok(clock)
    };
    let tc = TimeControl { base: seconds(base)?, increment: seconds(increment)? };
    // UCI's `wtime` counts milliseconds: less would be told as 0.
    if tc.base < Duration::from_millis(1) {
        return Err(format!("--tc {value:?}: a clock needs some time to start with (1 ms at least)"));
    }
    Ok(tc)
}

fn charge(value: &str) -> Result<Charge, String> {
    match value {
        "cpu" => Ok(Charge::Cpu),
        "wall" => Ok(Charge::Wall),
        other => Err(format!("--charge {other:?}: cpu or wall")),
    }
}

fn contain(value: &str) -> Result<Cgroups, String> {
    match value {
        "cgroup" => Ok(Cgroups::Preferred),
        "group" => Ok(Cgroups::Off),
        other => Err(format!("--contain {other:?}: cgroup or group")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(args: &[&str]) -> String {
        parse(args.iter().map(|a| a.to_string())).expect_err("bad options")
    }

    #[test]
    fn a_clock_longer_than_a_day_is_refused() {
        assert!(error(&["--tc", "1e18+0"]).contains("more than a day"));
        assert!(error(&["--tc", "1+86401"]).contains("\"86401\" is more than a day"));
        assert!(parse(["--tc".to_string(), "86400+0".to_string()]).is_ok());
    }

    #[test]
    fn a_clock_under_a_millisecond_is_refused() {
        assert!(error(&["--tc", "0.0009+1"]).contains("1 ms at least"));
        assert!(parse(["--tc".to_string(), "0.001".to_string()]).is_ok());
    }

    #[test]
    fn a_flag_given_twice_is_refused_but_engine() {
        assert_eq!(error(&["--games", "2", "--games", "3"]), "--games given twice");
        assert_eq!(error(&["--tc", "1", "--nodes", "5", "--tc", "2"]), "--tc given twice");
        let opts = parse(["--engine", "a", "--engine", "b"].map(String::from)).expect("two engines");
        assert_eq!(opts.engines, ["a", "b"]);
    }

    #[test]
    fn a_flag_where_a_value_should_be_is_a_missing_value() {
        assert_eq!(error(&["--engine", "--games", "2"]), "--engine needs a value");
        assert_eq!(error(&["--games"]), "--games needs a value");
    }

    #[test]
    fn an_engine_command_that_cannot_be_split_is_refused() {
        assert!(error(&["--engine", ""]).contains("empty command"));
        assert!(error(&["--engine", "sf", "--engine", "'sf"]).contains("unterminated single quote"));
    }

    #[test]
    fn engines_are_in_cgroups_unless_told_groups_only() {
        let default = parse([]).expect("no options");
        assert_eq!(default.cgroups, Cgroups::Preferred);
        let groups = parse(["--contain", "group"].map(String::from)).expect("--contain group");
        assert_eq!(groups.cgroups, Cgroups::Off);
        assert_eq!(error(&["--contain", "none"]), "--contain \"none\": cgroup or group");
    }

    #[test]
    fn no_games_and_no_nodes_are_refused() {
        assert!(error(&["--games", "0"]).starts_with("--games 0"));
        assert!(error(&["--nodes", "0"]).starts_with("--nodes 0"));
    }
}
