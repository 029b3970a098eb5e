#!/usr/bin/env bash
# Does the harness cost a healthy engine its game on time? stockfish against
# itself on a clock (no node limit: each engine spends its own time), C games
# at once on this machine's cores, once with each clock: the engine's CPU
# time (Charge::Cpu) and wall time (Charge::Wall). Prints each run's summary
# and its time losses.
#
#   bash bench/tournament/clock.sh [CONCURRENCY] [TC]     # default 64 and 2+0.05
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
c=${1:-64}
tc=${2:-2+0.05}
max_plies=${MAX_PLIES:-80}
out=${OUT:-$(mktemp -d)}
(cd "$root" && cargo build --release -q -p procloop-tournament --example tournament)
for charge in cpu wall; do
  pgn=$out/clock-$charge.pgn
  rm -f "$pgn" # the tournament appends: a rerun in the same $OUT counts its games alone
  echo "--concurrency $c --games $c --tc $tc --max-plies $max_plies --hash 16 --charge $charge"
  "$root/target/release/examples/tournament" --concurrency "$c" --games "$c" --tc "$tc" --max-plies "$max_plies" \
    --hash 16 --charge "$charge" --pgn "$pgn" 2>"$out/clock-$charge.err" || true
  echo "time forfeits in the PGN: $(grep -c 'Termination "time forfeit"' "$pgn" || true)"
done
