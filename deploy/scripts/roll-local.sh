#!/usr/bin/env bash
# roll-local.sh: a local avap cluster on loopback, and its zero-downtime
# rolling restart. See deploy/CLUSTER.md.
#
#   deploy/scripts/roll-local.sh up      # 3 nats (cluster, JetStream R3), 3 executors, 2 edges
#   deploy/scripts/roll-local.sh status  # processes and `avap mesh`
#   deploy/scripts/roll-local.sh roll    # restart every executor, then every edge, one at a time
#   deploy/scripts/roll-local.sh down
#
# Environment: AVAP_BIN (default: avap on PATH, else bin/avap), DIR (state:
# pid files, logs, data; default ./data/local-cluster), BASE (first port,
# default 14000). Edges listen on 127.0.0.1:$((BASE+80)) and $((BASE+81));
# put a load balancer in front of both (it must stop sending to an edge
# whose /readyz answers 503).
set -euo pipefail

BIN=${AVAP_BIN:-$(command -v avap || echo bin/avap)}
DIR=${DIR:-data/local-cluster}
BASE=${BASE:-14000}
NATS_URL="nats://127.0.0.1:$((BASE+22)),nats://127.0.0.1:$((BASE+23)),nats://127.0.0.1:$((BASE+24))"
ROUTES="nats-route://127.0.0.1:$((BASE+32)),nats-route://127.0.0.1:$((BASE+33)),nats-route://127.0.0.1:$((BASE+34))"

die() { echo "roll-local: $*" >&2; exit 1; }

# node_env NAME: the environment of one node (role is the name without digits).
node_env() {
	local name=$1 i=${1//[!0-9]/}
	echo "AVAP_NODE_ID=$name AVAP_DATA_DIR=$DIR/$name AVAP_LOG_FORMAT=text"
	case $name in
	nats*) echo "AVAP_HTTP_ADDR=127.0.0.1:$((BASE+90+i)) AVAP_NATS_LISTEN=127.0.0.1:$((BASE+21+i))" \
		"AVAP_NATS_CLUSTER_NAME=local AVAP_NATS_CLUSTER_LISTEN=127.0.0.1:$((BASE+31+i)) AVAP_NATS_CLUSTER_ROUTES=$ROUTES" \
		"AVAP_NATS_LAME_DUCK=5s" ;;
	exec*) echo "AVAP_HTTP_ADDR=127.0.0.1:$((BASE+100+i)) AVAP_NATS_URL=$NATS_URL AVAP_EXECUTOR_GRACE=10s" ;;
	edge*) echo "AVAP_HTTP_ADDR=127.0.0.1:$((BASE+79+i)) AVAP_NATS_URL=$NATS_URL AVAP_HTTP_SHUTDOWN_DELAY=2s AVAP_HTTP_GRACE=15s" ;;
	esac
}

role_of() { case $1 in nats*) echo nats ;; exec*) echo executor ;; edge*) echo edge ;; esac; }
http_of() { node_env "$1" | tr ' ' '\n' | sed -n 's/^AVAP_HTTP_ADDR=//p'; }

wait_ready() { # NAME: /readyz 200 within 30 s
	local addr; addr=$(http_of "$1")
	for _ in $(seq 300); do
		if curl -fsS -o /dev/null "http://$addr/readyz" 2>/dev/null; then return 0; fi
		kill -0 "$(cat "$DIR/$1.pid")" 2>/dev/null || die "$1 exited; see $DIR/$1.log"
		sleep 0.1
	done
	die "$1 not ready after 30s; see $DIR/$1.log"
}

start() { # NAME
	mkdir -p "$DIR/$1"
	# shellcheck disable=SC2046
	env $(node_env "$1") "$BIN" "$(role_of "$1")" >>"$DIR/$1.log" 2>&1 &
	echo $! >"$DIR/$1.pid"
}

stop() { # NAME: SIGTERM, wait for the drain to finish
	local pid; pid=$(cat "$DIR/$1.pid" 2>/dev/null) || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for _ in $(seq 600); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
	die "$1 (pid $pid) still running 60s after SIGTERM"
}

NODES_NATS="nats1 nats2 nats3"
NODES_EXEC="exec1 exec2 exec3"
NODES_EDGE="edge1 edge2"

case ${1:-} in
up)
	[ -x "$BIN" ] || die "no avap binary at $BIN (task build, or set AVAP_BIN)"
	mkdir -p "$DIR"
	for n in $NODES_NATS; do start "$n"; done
	for n in $NODES_NATS; do wait_ready "$n"; done
	for n in $NODES_EXEC $NODES_EDGE; do start "$n"; done
	for n in $NODES_EXEC $NODES_EDGE; do wait_ready "$n"; done
	echo "up: edges on http://127.0.0.1:$((BASE+80)) and http://127.0.0.1:$((BASE+81)); NATS $NATS_URL"
	;;
roll)
	# Executors: SIGTERM drains the queue-group subscriptions (peers take
	# new work), in-flight runs finish, queued ones are answered
	# AVAP_SHUTTING_DOWN and the edge re-sends them elsewhere. One at a
	# time, each back and ready before the next goes.
	for n in $NODES_EXEC; do
		echo "rolling $n"; stop "$n"; start "$n"; wait_ready "$n"
	done
	# Edges: readiness turns 503 at once, the listener stays open
	# http.shutdown_delay (the balancer stops sending), in-flight requests
	# finish within http.grace.
	for n in $NODES_EDGE; do
		echo "rolling $n"; stop "$n"; start "$n"; wait_ready "$n"; sleep 1
	done
	echo "rolled: every executor and edge restarted"
	;;
roll-nats)
	# NATS nodes one at a time: lame-duck mode moves the clients to the
	# other nodes; JetStream R3 keeps a quorum with one node down.
	for n in $NODES_NATS; do
		echo "rolling $n"; stop "$n"; start "$n"; wait_ready "$n"; sleep 2
	done
	;;
status)
	for n in $NODES_NATS $NODES_EXEC $NODES_EDGE; do
		pid=$(cat "$DIR/$n.pid" 2>/dev/null || echo -)
		if [ "$pid" != - ] && kill -0 "$pid" 2>/dev/null; then s=running; else s=stopped; fi
		printf '%-6s %-8s pid %-8s http %s\n' "$n" "$s" "$pid" "$(http_of "$n")"
	done
	AVAP_NATS_URL=$NATS_URL "$BIN" mesh || true
	;;
down)
	for n in $NODES_EDGE $NODES_EXEC $NODES_NATS; do stop "$n"; done
	echo down
	;;
*)
	sed -n '2,16p' "$0"; exit 2 ;;
esac
