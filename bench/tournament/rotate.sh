#!/usr/bin/env bash
# Rounds of the tournament with the harnesses in a rotated order and a
# pause before each run: a harness run right after fastchess's engines
# ended pays for them (measured: 74-99 µs a move against 53-63 for the same
# build run first), so a fixed order favours whoever runs first. Prints
# one line a run: "round R HARNESS cpu_s wall_s" (measure.py's). Contained
# (cgroup), process groups only (group) and fastchess, as compare.sh runs
# them, at 64 games at once, 40 plies, nodes=2000.
#
#   bash bench/tournament/rotate.sh TOURNAMENT_BIN FASTCHESS_BIN [ROUNDS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tournament=${1:?usage: rotate.sh TOURNAMENT_BIN FASTCHESS_BIN [ROUNDS]}
fastchess=${2:?usage: rotate.sh TOURNAMENT_BIN FASTCHESS_BIN [ROUNDS]}
rounds=${3:-4}
engine=${ENGINE:-/usr/games/stockfish}
out=$(mktemp -d)
cd "$out"
run() {
  case $1 in
    cgroup | group)
      rm -f p.pgn
      python3 "$here/measure.py" "$tournament" --engine "$engine" --concurrency 64 --games 64 --nodes 2000 \
        --max-plies 40 --hash 16 --pgn p.pgn --charge cpu --contain "$1" 2>/dev/null | tail -1 ;;
    fastchess)
      rm -f f.pgn
      python3 "$here/measure.py" "$fastchess" -engine cmd="$engine" name=sf1 -engine cmd="$engine" name=sf2 \
        -each proto=uci nodes=2000 tc=inf option.Hash=16 -rounds 64 -games 1 -concurrency 64 -force-concurrency \
        -maxmoves 20 -startup-ms 60000 -pgnout file=f.pgn 2>/dev/null | tail -1 ;;
  esac
}
orders=("cgroup group fastchess" "fastchess cgroup group" "group fastchess cgroup" "cgroup fastchess group")
for ((r = 0; r < rounds; r++)); do
  for h in ${orders[$((r % 4))]}; do
    sleep 5 # the last run's engines are gone
    echo "round $r $h $(run "$h")"
  done
done
