#!/bin/sh
# A UCI engine that misbehaves on `go`, as $1 says: silent (never
# answers), illegal (answers a1a1), crash (exits with status 3).
while read -r command rest; do
  case $command in
    uci) echo "id name Fake $1"; echo uciok ;;
    isready) echo readyok ;;
    go)
      case $1 in
        silent) ;;
        illegal) echo "info depth 1"; echo "bestmove a1a1" ;;
        crash) exit 3 ;;
      esac ;;
    quit) exit 0 ;;
  esac
done
