# shellcheck shell=bash disable=SC2034,SC2016
# scripts/lib.sh — shared helpers for the service scripts in scripts/.
#
# Sourced by scripts/kafka, scripts/s3, scripts/glue. Not executable on its own.
#
# Conventions every service script follows:
#   - progress and errors go to stderr; stdout carries only `export NAME=VALUE`
#     lines, so a caller can do `eval "$(scripts/s3 start)"`;
#   - state (pid file, log, data) lives in $SL_STATE_DIR/<service>-<port>;
#   - downloads and builds are cached in $SL_CACHE_DIR.
#
# Environment:
#   STOCKLAKE_SERVICE_DIR  state root (default /tmp/stocklake-services)
#   STOCKLAKE_CACHE_DIR    download cache (default ~/.cache/stocklake)
#   STOCKLAKE_START_TIMEOUT  seconds start waits for a service to answer (default 120)

SL_STATE_DIR="${STOCKLAKE_SERVICE_DIR:-/tmp/stocklake-services}"
SL_CACHE_DIR="${STOCKLAKE_CACHE_DIR:-${HOME:-/root}/.cache/stocklake}"
SL_START_TIMEOUT="${STOCKLAKE_START_TIMEOUT:-120}"
SL_STOP_TIMEOUT="${STOCKLAKE_STOP_TIMEOUT:-30}"

# SL_NAME is set by the sourcing script before any helper is used.
: "${SL_NAME:=service}"

sl_log() { printf '%s: %s\n' "$SL_NAME" "$*" >&2; }

sl_die() {
  printf '%s: error: %s\n' "$SL_NAME" "$*" >&2
  exit 1
}

# sl_tail_log FILE [N]: print the last N (default 40) lines of FILE to stderr.
sl_tail_log() {
  local f=$1 n=${2:-40}
  if [[ -s $f ]]; then
    printf '%s: ---- last %s lines of %s ----\n' "$SL_NAME" "$n" "$f" >&2
    tail -n "$n" "$f" >&2 || true
    printf '%s: ---- end of log ----\n' "$SL_NAME" >&2
  else
    printf '%s: (log %s is empty or missing)\n' "$SL_NAME" "$f" >&2
  fi
}

# sl_check_port VALUE: die unless VALUE is a TCP port number.
sl_check_port() {
  if ! [[ $1 =~ ^[0-9]+$ ]] || (($1 < 1 || $1 > 65535)); then
    sl_die "invalid port '$1'"
  fi
}

# sl_port_open HOST PORT: true if something accepts TCP connections there.
sl_port_open() {
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

# sl_http_answers URL: true if an HTTP server answers at URL (any status code).
sl_http_answers() {
  local code
  code=$(curl -s -o /dev/null -m 3 -w '%{http_code}' "$1" 2>/dev/null) || true
  [[ -n $code && $code != 000 ]]
}

# sl_pid_of PIDFILE MARKER: print the pid in PIDFILE if that process is alive
# and its command line contains MARKER (guards against reused pids).
sl_pid_of() {
  local pidfile=$1 marker=$2 pid
  [[ -r $pidfile ]] || return 1
  pid=$(<"$pidfile")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  # A zombie still passes kill -0; treat it as gone.
  [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$marker" || return 1
  printf '%s\n' "$pid"
}

# sl_lock DIR: take an exclusive lock for DIR (held until the script exits),
# so two concurrent `start`/`stop` calls for one instance do not race.
sl_lock() {
  mkdir -p "$1"
  exec 9>"$1/.lock"
  flock -w 900 9 || sl_die "timed out waiting for lock $1/.lock"
}

# sl_spawn PIDFILE LOGFILE CMD...: run CMD detached (own session, stdin from
# /dev/null, stdout+stderr appended to LOGFILE) and write its pid to PIDFILE.
# The pid written is CMD's own (bash execs into it).
sl_spawn() {
  local pidfile=$1 logfile=$2
  shift 2
  rm -f "$pidfile"
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" </dev/null >>"$logfile" 2>&1 9>&- &
  local i
  for ((i = 0; i < 50; i++)); do
    [[ -s $pidfile ]] && return 0
    sleep 0.1
  done
  sl_die "process did not start (no pid file $pidfile)"
}

# sl_wait_ready TIMEOUT PIDFILE MARKER LOGFILE CHECK...: poll CHECK (a command)
# every 0.5 s until it succeeds. Fails with the log tail if the process dies
# or TIMEOUT seconds pass.
sl_wait_ready() {
  local timeout=$1 pidfile=$2 marker=$3 logfile=$4
  shift 4
  local deadline=$((SECONDS + timeout))
  while :; do
    if "$@"; then
      return 0
    fi
    if ! sl_pid_of "$pidfile" "$marker" >/dev/null; then
      sl_tail_log "$logfile"
      sl_die "process exited before it answered; full log: $logfile"
    fi
    if ((SECONDS >= deadline)); then
      sl_tail_log "$logfile"
      sl_die "not answering after ${timeout}s (still running, pid $(<"$pidfile")); full log: $logfile"
    fi
    sleep 0.5
  done
}

# sl_stop PIDFILE MARKER HOST PORT: stop the process in PIDFILE (SIGTERM, then
# SIGKILL after $SL_STOP_TIMEOUT s), wait for it to exit and the port to close.
# Safe to call when nothing runs.
sl_stop() {
  local pidfile=$1 marker=$2 host=$3 port=$4 pid
  if ! pid=$(sl_pid_of "$pidfile" "$marker"); then
    rm -f "$pidfile"
    if sl_port_open "$host" "$port"; then
      sl_log "not running (no live pid file), but something else listens on $host:$port; left alone"
    else
      sl_log "not running"
    fi
    return 0
  fi
  sl_log "stopping pid $pid"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + SL_STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      sl_log "pid $pid did not exit after ${SL_STOP_TIMEOUT}s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      # Its session (started by sl_spawn) has the same id; kill any leftovers.
      kill -KILL -- "-$pid" 2>/dev/null || true
      deadline=$((SECONDS + 10))
      while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
      break
    fi
    sleep 0.2
  done
  kill -0 "$pid" 2>/dev/null && sl_die "pid $pid is still alive"
  rm -f "$pidfile"
  local i
  for ((i = 0; i < 50; i++)); do
    sl_port_open "$host" "$port" || break
    sleep 0.2
  done
  sl_log "stopped"
}

# sl_status PIDFILE MARKER HOST PORT LOGFILE: report state; exit code 0 if
# running and the port answers, 3 if not running (like LSB status).
sl_status() {
  local pidfile=$1 marker=$2 host=$3 port=$4 logfile=$5 pid
  if pid=$(sl_pid_of "$pidfile" "$marker"); then
    if sl_port_open "$host" "$port"; then
      sl_log "running (pid $pid) on $host:$port; log $logfile"
      return 0
    fi
    sl_log "process running (pid $pid) but $host:$port does not answer yet; log $logfile"
    return 1
  fi
  if sl_port_open "$host" "$port"; then
    sl_log "not started by this script, but something listens on $host:$port"
  else
    sl_log "not running"
  fi
  return 3
}

# sl_java: print the java binary to use (Java 17+).
sl_java() {
  local j
  for j in "${JAVA_HOME:+$JAVA_HOME/bin/java}" /usr/lib/jvm/java-17-openjdk-amd64/bin/java \
    /usr/lib/jvm/temurin-25-jdk-amd64/bin/java "$(command -v java 2>/dev/null || true)"; do
    [[ -n $j && -x $j ]] && { printf '%s\n' "$j"; return 0; }
  done
  sl_die "no java found: install Java 17+ or set JAVA_HOME"
}

# sl_java_at_least MIN HOME...: print the java binary of the first HOME
# (empty ones skipped) whose Java is version MIN or newer; fail (status 1,
# nothing printed) if none is.
sl_java_at_least() {
  local min=$1 home j major
  shift
  for home in "$@"; do
    j="$home/bin/java"
    [[ -n $home && -x $j ]] || continue
    major=$("$j" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = \([0-9]*\).*/\1/p')
    if [[ -n $major ]] && ((major >= min)); then
      printf '%s\n' "$j"
      return 0
    fi
  done
  return 1
}

# sl_usage: standard usage line.
sl_usage() {
  printf 'usage: %s start|stop|status|env\n' "$SL_NAME" >&2
  exit 2
}
