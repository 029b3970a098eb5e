//! A turn's cost does not grow an allocation a bot: building a `Turn` and
//! handing its replies and its end allocate a few times a turn (vectors
//! that grow), not once or more for every bot, and `begin_turn` reuses the
//! last turn's table (a frame loop begins a turn of every bot 60 times a
//! second).
//!
//! One test in this file: the allocator's count is the whole process's.

mod util;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use procloop::{App, Buffering, Event, Runner, Start, Turn, TurnId};
use util::*;

/// The system allocator, counting allocations.
struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed on to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract is the system allocator's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` above, with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as for `dealloc`, and `new_size` is the caller's to vouch for.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

fn allocations() -> usize {
    ALLOCATIONS.load(Ordering::Relaxed)
}

const BOTS: usize = 40;

/// What beginning a turn allocated.
struct Begun {
    turn: TurnId,
    /// Building the `Turn`.
    built: usize,
    /// `begin_turn`.
    begun: usize,
}

/// Builds and begins a turn of every bot, each payload made beforehand
/// (the caller's own allocation).
fn begin(runner: &mut Runner, aliases: &[String], round: usize) -> Begun {
    let payloads: Vec<Vec<u8>> = (0..BOTS).map(|i| format!("round {round} bot {i}\n").into_bytes()).collect();
    let before = allocations();
    let mut turn = Turn::new(Duration::from_secs(20));
    for (alias, payload) in aliases.iter().zip(payloads) {
        turn = turn.bot(alias, payload);
    }
    let built = allocations() - before;
    let turn = runner.begin_turn(turn).unwrap();
    Begun { turn, built, begun: allocations() - before - built }
}

/// Polls until `turn` ends; returns the replies and the allocations it took.
fn play(runner: &mut Runner, turn: TurnId) -> (usize, usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let before = allocations();
    let (mut replies, mut ended) = (0, false);
    while !ended {
        assert!(Instant::now() < deadline, "the turn never ended ({replies} replies)");
        runner
            .poll_once(Some(Duration::from_millis(200)), |_, event| match event {
                Event::Reply { turn: t, .. } if t == turn => replies += 1,
                Event::TurnEnded { turn: t, .. } if t == turn => ended = true,
                _ => {}
            })
            .unwrap();
    }
    (replies, allocations() - before)
}

#[test]
fn a_turn_allocates_a_few_times_not_once_a_bot() {
    let mut runner = runner_with("bot", App::new("cat").buffering(Buffering::Line));
    let aliases: Vec<String> = (0..BOTS).map(|i| format!("bot-{i}")).collect();
    for alias in &aliases {
        runner.start_with("bot", Start::new().alias(alias)).unwrap();
    }
    // The first turns grow the loop's own tables to their size.
    for round in 0..3 {
        let turn = begin(&mut runner, &aliases, round).turn;
        assert_eq!(play(&mut runner, turn).0, BOTS);
    }
    let Begun { turn, built, begun } = begin(&mut runner, &aliases, 3);
    let (replies, played) = play(&mut runner, turn);
    assert_eq!(replies, BOTS);
    assert!(built < BOTS / 2, "building a turn of {BOTS} bots allocated {built} times");
    // The table of its bots is the last turn's; the rest grew in the first turns.
    assert_eq!(begun, 0, "beginning a turn of {BOTS} bots allocated");
    assert!(played < BOTS / 2, "{BOTS} replies and the turn's end allocated {played} times");
}
