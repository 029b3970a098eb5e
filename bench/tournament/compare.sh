#!/usr/bin/env bash
# The tournament side by side: procloop's example, fastchess and
# python-chess's asyncio engine module, each playing the same games
# (stockfish against itself at `nodes=2000`, a move limit, the same hash),
# one after the other at each concurrency. For each: the harness process's
# own CPU time per move (its threads, not the engines: /proc/PID/stat of
# the finished process, see measure.py), moves per second, and the time
# losses. Moves are counted from each one's PGN by python-chess.
#
#   bash bench/tournament/compare.sh FASTCHESS_SRC [CONCURRENCY...]
#
# FASTCHESS_SRC is a checkout of github.com/Disservin/fastchess (never
# copied here); it is built with `make` if its binary is missing. A venv
# with python-chess is made at $VENV (default /tmp/procloop-tournament-venv).
# Defaults: concurrency 1 8 32 64 128, NODES=2000, MAX_PLIES=100, games
# GAMES_PER x max(C, 8) (GAMES_PER=2), HASH=16 (1 at 128: 256 engines at
# the default hash do not fit in the machine), ENGINE=/usr/games/stockfish,
# HARNESSES="procloop fastchess python-chess" (those to run, in that order),
# CONTAIN=cgroup (the example's --contain: cgroup, or group for process
# groups only, as the other two harnesses hold their engines).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
fastchess_src=${1:?usage: compare.sh FASTCHESS_SRC [CONCURRENCY...]}
shift
concurrencies=("${@:-1 8 32 64 128}")
read -r -a concurrencies <<<"${concurrencies[*]}"
engine=${ENGINE:-/usr/games/stockfish}
read -r -a harnesses <<<"${HARNESSES:-procloop fastchess python-chess}"
nodes=${NODES:-2000}
max_plies=${MAX_PLIES:-100}
games_per=${GAMES_PER:-2}
venv=${VENV:-/tmp/procloop-tournament-venv}
out=${OUT:-$(mktemp -d)}
mkdir -p "$out"
out=$(cd "$out" && pwd)

[ -x "$fastchess_src/fastchess" ] || make -C "$fastchess_src" -j2 >&2
fastchess=$fastchess_src/fastchess
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -c "import chess" 2>/dev/null || "$venv/bin/pip" install -q chess
py=$venv/bin/python
(cd "$root" && cargo build --release -q -p procloop-tournament --example tournament)
tournament=$root/target/release/examples/tournament

# plies PGN: the moves in a PGN file, every game's.
plies() {
  "$py" - "$1" <<'PY'
import sys, chess.pgn
n = 0
with open(sys.argv[1]) as f:
    while (game := chess.pgn.read_game(f)) is not None:
        n += len(list(game.mainline_moves()))
print(n)
PY
}

# run NAME PGN CMD...: "cpu_s wall_s moves time_losses" of one run.
run() {
  local name=$1 pgn=$2
  shift 2
  local log=$out/$name.log
  # From $out: fastchess leaves its config.json in the folder it runs in.
  (cd "$out" && "$py" "$here/measure.py" "$@" >"$log" 2>"$out/$name.err") || echo "$name failed, see $log" >&2
  local measured moves losses
  measured=$(tail -1 "$log")
  moves=$( [ -s "$pgn" ] && plies "$pgn" || echo 0)
  [ "$moves" -gt 0 ] || echo "$name played no move, see $log" >&2
  losses=$(grep -c 'Termination "time forfeit"' "$pgn" || true)
  echo "$measured $moves $losses"
}

echo "| games at once | games | harness | moves | harness CPU per move | moves/s | time losses |"
echo "|---:|---:|---|---:|---:|---:|---:|"
for c in "${concurrencies[@]}"; do
  games=$((games_per * (c > 8 ? c : 8)))
  hash=${HASH:-16}
  [ "$c" -ge 128 ] && hash=${HASH:-1}
  p="$out/procloop-$c.pgn" f="$out/fastchess-$c.pgn" y="$out/pychess-$c.pgn"
  rm -f "$p" "$f" "$y" # each harness appends to its PGN: a rerun in the same $OUT counts its games alone
  declare -A result
  wanted() { [[ " ${harnesses[*]} " == *" $1 "* ]]; }
  ! wanted procloop || result[procloop]=$(run "procloop-$c" "$p" "$tournament" --engine "$engine" --concurrency "$c" --games "$games" \
    --nodes "$nodes" --max-plies "$max_plies" --hash "$hash" --pgn "$p" --charge cpu --contain "${CONTAIN:-cgroup}")
  # fastchess: -maxmoves counts moves of both sides (full moves); one game a
  # round; a minute for an engine's start (its default, 10 s, is too short
  # for 256 engines starting on 2 cores; procloop's is 15 s of wall time
  # times the engines thinking per core).
  ! wanted fastchess || result[fastchess]=$(run "fastchess-$c" "$f" "$fastchess" -engine cmd="$engine" name=sf1 -engine cmd="$engine" name=sf2 \
    -each proto=uci nodes="$nodes" tc=inf option.Hash="$hash" -rounds "$games" -games 1 -concurrency "$c" -force-concurrency \
    -maxmoves $((max_plies / 2)) -startup-ms 60000 -pgnout file="$f")
  ! wanted python-chess || result[python-chess]=$(run "pychess-$c" "$y" "$py" "$here/pychess.py" --engine "$engine" --concurrency "$c" \
    --games "$games" --nodes "$nodes" --max-plies "$max_plies" --hash "$hash" --pgn "$y")
  for h in "${harnesses[@]}"; do
    read -r cpu wall moves losses <<<"${result[$h]}"
    awk -v c="$c" -v g="$games" -v h="$h" -v cpu="$cpu" -v wall="$wall" -v m="$moves" -v l="$losses" \
      'BEGIN { printf "| %d | %d | %s | %d | %.1f µs | %.0f | %d |\n", c, g, h, m, cpu * 1e6 / (m ? m : 1), m / wall, l }'
  done
done
echo "logs and PGNs: $out" >&2
