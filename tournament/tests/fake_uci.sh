#!/bin/sh
# A UCI engine that misbehaves as $1 says: silent (never answers `go`),
# illegal (answers a1a1), crash (exits with status 3 on `go`), mute (never
# says uciok), closes (closes its stdout on `go`, reads on), deaf (ignores
# quit, SIGTERM and the end of its input), forks (leaves a child running
# that holds its pipes), twice (answers e2e4 twice), hangs (answers no
# isready after its first ucinewgame; started again, it plays as illegal).
# With $2, it appends its pid (and a child's) there.
[ -n "$2" ] && echo $$ >>"$2"
if [ "$1" = hangs ] && [ "$(wc -l <"$2")" -gt 1 ]; then set -- illegal; fi
[ "$1" = deaf ] && trap '' TERM INT HUP
while read -r command rest; do
  case $command in
    uci)
      [ "$1" = mute ] && continue
      if [ "$1" = forks ]; then sleep 600 & echo $! >>"$2"; fi
      echo "id name Fake $1"; echo uciok ;;
    ucinewgame) [ "$1" = hangs ] && hung=1 ;;
    isready) [ -n "$hung" ] || echo readyok ;;
    go)
      case $1 in
        silent | deaf) ;;
        illegal | forks) echo "info depth 1"; echo "bestmove a1a1" ;;
        twice) echo "bestmove e2e4"; echo "bestmove e2e4" ;;
        crash) exit 3 ;;
        closes) exec 1>&- ;;
      esac ;;
    quit) [ "$1" = deaf ] || exit 0 ;;
  esac
done
if [ "$1" = deaf ]; then
  while :; do read -r _ || sleep 1; done
fi
