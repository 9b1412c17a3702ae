# shellcheck shell=bash
# Shared by install-authz.sh and uninstall-authz.sh (sourced, not run). Paths are fixed: they are
# what dockerd, the systemd units and the pm2 process file expect.
# The constants are used by the scripts that source this file:
# shellcheck disable=SC2034

readonly PLUGIN_NAME=authz
readonly APP_NAME=docker-authz
readonly PLUGIN_SOCKET=/run/docker/plugins/authz.sock
readonly SPEC_DIR=/etc/docker/plugins
readonly SPEC_FILE=$SPEC_DIR/authz.spec
readonly APP_DIR=/opt/docker-authz
readonly CONF_DIR=/etc/docker-authz
readonly ENV_FILE=$CONF_DIR/authz.env
readonly POLICY_FILE=$CONF_DIR/policy.yaml
readonly STATE_DIR=/var/lib/docker-authz
readonly BIN_DIR=/usr/local/bin
readonly SYSTEMD_DIR=/etc/systemd/system
readonly DEFAULT_DAEMON_JSON=/etc/docker/daemon.json
readonly DOCKER_PIDFILE=${DOCKER_PIDFILE:-/var/run/docker.pid}
readonly INSTALL_RECORD=$APP_DIR/installed.env
readonly RECORD_KEYS=(SUPERVISOR PM2_HOME PM2_STARTUP CREATED_DAEMON_JSON DAEMON_JSON USERS USERS_PKI_DIR USERS_ADDRESS USERS_DAEMON_JSON)
readonly MIN_NODE=20.19.0
# pm2's own unit is ordered before dockerd through this drop-in (see pm2_boot in install-authz.sh).
readonly PM2_UNIT=pm2-root.service
readonly PM2_ORDER_DROPIN=$SYSTEMD_DIR/$PM2_UNIT.d/docker-authz.conf
# The user gateway (--users): its pm2 app and systemd unit, its runtime directory (sockets), and the
# drop-in that moves docker.service's -H flags into daemon.json.
readonly GATEWAY_APP=docker-authz-gateway
readonly GATEWAY_UNIT=docker-authz-gateway.service
readonly GATEWAY_RUN_DIR=/run/docker-authz
readonly DOCKER_DROPIN=$SYSTEMD_DIR/docker.service.d/docker-authz-users.conf
readonly DEFAULT_TLS_ADDRESS=127.0.0.1:2376
readonly DEFAULT_PKI_DIR=$CONF_DIR/pki
LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly LIB_DIR
readonly HELPER=$LIB_DIR/install-helper.mjs

DRY_RUN=0
CHANGED=0
WORK=""

say() { printf '%s\n' "$*"; }
note() { printf '  %s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() {
  printf '\nerror: %s\n' "$1" >&2
  shift
  local line
  for line in "$@"; do printf '  %s\n' "$line" >&2; done
  exit 1
}
indent() { sed 's/^/    /'; }

# A private scratch directory, removed on exit.
make_workdir() {
  WORK=$(mktemp -d)
  trap 'rm -rf "$WORK"' EXIT
}

# act CMD...: runs a command that changes the system, or only prints it with --dry-run.
act() {
  CHANGED=1
  if ((DRY_RUN)); then
    printf '  would run: %s\n' "$*"
  else
    printf '  + %s\n' "$*"
    "$@"
  fi
}

# act_quiet CMD...: act, with the command's own output (pm2's banners and tables, npm's progress)
# kept out of ours; it is shown only when the command fails.
act_quiet() {
  CHANGED=1
  if ((DRY_RUN)); then
    printf '  would run: %s\n' "$*"
    return 0
  fi
  printf '  + %s\n' "$*"
  local log rc=0
  log=$(mktemp)
  "$@" >"$log" 2>&1 || rc=$?
  if ((rc != 0)); then
    indent <"$log" >&2
    warn "$1 exited with $rc"
  fi
  rm -f "$log"
  return "$rc"
}

# perform DESCRIPTION CMD...: a change too large to print as a command (a build, a release):
# does CMD, or with --dry-run says "would DESCRIPTION".
perform() {
  local what=$1
  shift
  CHANGED=1
  if ((DRY_RUN)); then
    note "would $what"
  else
    "$@"
  fi
}

# install_content DEST MODE < content: writes DEST atomically when its content or mode differs;
# with --dry-run shows the change as a diff. Returns 0 when it changed (or would change) something,
# 1 when DEST was already right.
install_content() {
  local dest=$1 mode=$2 tmp
  tmp=$(mktemp)
  cat >"$tmp"
  if [[ -f $dest && ! -L $dest ]] && cmp -s "$tmp" "$dest" && [[ $(stat -c %a "$dest") == "${mode#0}" ]]; then
    rm -f "$tmp"
    return 1
  fi
  CHANGED=1
  if ((DRY_RUN)); then
    show_change "$dest" "$tmp" "mode $mode"
    rm -f "$tmp"
    return 0
  fi
  printf '  %s %s\n' "$([[ -e $dest ]] && echo updated || echo created)" "$dest"
  mkdir -p "$(dirname "$dest")"
  local staged
  staged=$(mktemp "$(dirname "$dest")/.$(basename "$dest").XXXXXX")
  cat "$tmp" >"$staged"
  chmod "$mode" "$staged"
  mv -f "$staged" "$dest"
  rm -f "$tmp"
  return 0
}

# show_change DEST NEW [WHAT]: what --dry-run prints for a file: a diff, or the new file's content.
show_change() {
  local dest=$1 new=$2 what=${3:-}
  if [[ -e $dest ]]; then
    printf '  would update %s:\n' "$dest"
    diff -u "$dest" "$new" | indent || true
  else
    printf '  would create %s (%s%s bytes):\n' "$dest" "${what:+$what, }" "$(wc -c <"$new")"
    local lines
    lines=$(wc -l <"$new")
    head -n 25 "$new" | indent
    if ((lines > 25)); then printf '    ... (%s more lines)\n' "$((lines - 25))"; fi
  fi
}

# remove_tree DIR: removes DIR and everything in it; a DIR that is a mount point stays, empty.
remove_tree() {
  [[ -e $1 || -L $1 ]] || return 0
  act find "$1" -mindepth 1 -delete
  if ((DRY_RUN)); then return 0; fi
  if ! rmdir "$1" 2>/dev/null; then note "kept the empty directory $1 (a mount point?)"; fi
}

# remove_file FILE: removes FILE if it is there.
remove_file() {
  if [[ -e $1 || -L $1 ]]; then act rm -f "$1"; fi
}

# ensure_dir DIR MODE
ensure_dir() {
  if [[ -d $1 ]]; then return 0; fi
  act install -d -m "$2" "$1"
}

# --- the install record --------------------------------------------------------------------------
# $INSTALL_RECORD: what the uninstaller (and the next install) must know about this one, as plain
# KEY=value lines. It is parsed, never sourced or evaluated: a value is everything after the first
# "=", and only the keys in RECORD_KEYS are read.

declare -A RECORD=()

# record_load: reads $INSTALL_RECORD into RECORD (empty when there is none). The recorded PM2_HOME
# applies unless PM2_HOME is set: both scripts then talk to the pm2 daemon the install used.
record_load() {
  RECORD=()
  if [[ -r $INSTALL_RECORD ]]; then
    local line key k
    while IFS= read -r line || [[ -n $line ]]; do
      [[ $line =~ ^([A-Z0-9_]+)=(.*)$ ]] || continue
      key=${BASH_REMATCH[1]}
      for k in "${RECORD_KEYS[@]}"; do
        if [[ $k == "$key" ]]; then RECORD[$key]=${BASH_REMATCH[2]}; fi
      done
    done <"$INSTALL_RECORD"
  fi
  # Used as a number: anything but 0 or 1 would be evaluated as an arithmetic expression.
  if [[ ! ${RECORD[CREATED_DAEMON_JSON]:-0} =~ ^[01]$ ]]; then RECORD[CREATED_DAEMON_JSON]=0; fi
  if [[ ! ${RECORD[USERS]:-0} =~ ^[01]$ ]]; then RECORD[USERS]=0; fi
  if [[ -z ${PM2_HOME:-} && -n ${RECORD[PM2_HOME]:-} ]]; then export PM2_HOME=${RECORD[PM2_HOME]}; fi
}

# record_get KEY [DEFAULT]
record_get() { printf '%s' "${RECORD[$1]:-${2:-}}"; }

# record_write KEY=value...: writes the record (only when it changes).
record_write() {
  local pair
  for pair in "$@"; do
    [[ $pair != *$'\n'* ]] || die "cannot record a value with a line break: $pair"
  done
  printf '%s\n' "$@" | install_content "$INSTALL_RECORD" 0644 || true
}

# --- node --------------------------------------------------------------------------------------

NODE_BIN=""

node_help() {
  cat >&2 <<EOF
docker-authz needs Node.js >= $MIN_NODE and npm ($1).
Install them, then run this script again:
  - Debian/Ubuntu (NodeSource):  curl -fsSL https://deb.nodesource.com/setup_22.x | bash - && apt-get install -y nodejs
  - RHEL/Fedora (NodeSource):    curl -fsSL https://rpm.nodesource.com/setup_22.x | bash - && dnf install -y nodejs
  - any Linux:                   https://nodejs.org/en/download (official binaries; put node and npm on root's PATH)
If node is installed but not on root's PATH, point the installer at it: NODE=/path/to/bin/node $0
EOF
  exit 1
}

find_node() {
  NODE_BIN=${NODE:-$(command -v node || true)}
  [[ -n $NODE_BIN && -x $NODE_BIN ]] || node_help "no node found on PATH"
  NODE_BIN=$(readlink -f "$NODE_BIN")
  "$NODE_BIN" "$HELPER" version-ok "$MIN_NODE" || node_help "found $("$NODE_BIN" --version) at $NODE_BIN"
}

helper() { "$NODE_BIN" "$HELPER" "$@"; }

# --- dockerd ------------------------------------------------------------------------------------

DOCKERD_PID=""
DOCKERD_ARGS=()
DAEMON_JSON=$DEFAULT_DAEMON_JSON
DAEMON_SOCKET=/var/run/docker.sock
CREATED_DAEMON_JSON=0
DAEMON_JSON_BACKUP=""

systemd_is_init() { [[ -d /run/systemd/system ]]; }
systemd_runs_docker() { systemd_is_init && systemctl is-active --quiet docker.service 2>/dev/null; }
dockerd_reachable() { [[ -n $DOCKERD_PID ]] || systemd_runs_docker; }

# Finds the running dockerd (pidfile, or systemd's main pid), its config file and API socket.
inspect_dockerd() {
  local pid=""
  if systemd_runs_docker; then
    pid=$(systemctl show -p MainPID --value docker.service 2>/dev/null || true)
    [[ $pid == 0 ]] && pid=""
  fi
  if [[ -z $pid && -r $DOCKER_PIDFILE ]]; then
    pid=$(tr -dc '0-9' <"$DOCKER_PIDFILE")
  fi
  if [[ -n $pid && -r /proc/$pid/cmdline ]]; then
    DOCKERD_PID=$pid
    mapfile -d '' -t DOCKERD_ARGS <"/proc/$pid/cmdline"
  fi
  local i a next
  for ((i = 0; i < ${#DOCKERD_ARGS[@]}; i++)); do
    a=${DOCKERD_ARGS[i]}
    next=${DOCKERD_ARGS[i + 1]:-}
    case $a in
      --config-file) DAEMON_JSON=$next ;;
      --config-file=*) DAEMON_JSON=${a#*=} ;;
      -H | --host) [[ $next == unix://* && $DAEMON_SOCKET == /var/run/docker.sock ]] && DAEMON_SOCKET=${next#unix://} ;;
      -H=unix://* | --host=unix://*) [[ $DAEMON_SOCKET == /var/run/docker.sock ]] && DAEMON_SOCKET=${a#*=unix://} ;;
    esac
  done
  # No -H unix:// on the command line: dockerd listens where daemon.json's "hosts" says.
  if [[ $DAEMON_SOCKET == /var/run/docker.sock ]] && ! printf '%s\n' "${DOCKERD_ARGS[@]}" | grep -qE '^(-H|--host)'; then
    local from_json
    from_json=$(helper daemon-socket "$DAEMON_JSON" 2>/dev/null || true)
    if [[ -n $from_json ]]; then DAEMON_SOCKET=$from_json; fi
  fi
  if [[ ${DOCKER_HOST:-} == unix://* ]]; then DAEMON_SOCKET=${DOCKER_HOST#unix://}; fi
  return 0
}

# The flag form cannot be combined with daemon.json, and a config reload silently drops it.
check_no_flag() {
  local where=() a
  for a in "${DOCKERD_ARGS[@]}"; do
    [[ $a == --authorization-plugin || $a == --authorization-plugin=* ]] && where+=("the running dockerd (pid $DOCKERD_PID) was started with $a")
  done
  if systemd_is_init && systemctl cat docker.service >/dev/null 2>&1; then
    if systemctl cat docker.service 2>/dev/null | grep -v '^\s*#' | grep -q -- '--authorization-plugin'; then
      where+=("docker.service (systemctl cat docker.service) passes --authorization-plugin")
    fi
  fi
  local f
  for f in /etc/default/docker /etc/sysconfig/docker; do
    if [[ -r $f ]] && grep -v '^\s*#' "$f" | grep -q -- '--authorization-plugin'; then
      where+=("$f passes --authorization-plugin")
    fi
  done
  if ((${#where[@]})); then
    die "dockerd is configured with the --authorization-plugin flag; refusing to continue." \
      "${where[@]}" \
      "With the flag, a configuration reload (SIGHUP, systemctl reload docker) silently turns" \
      "authorization OFF, and adding the daemon.json key as well makes every reload fail." \
      "Move the plugin list to \"authorization-plugins\" in $DAEMON_JSON, remove the flag," \
      "restart dockerd once, then run this script again."
  fi
}

# update_daemon_json add|remove: puts "$PLUGIN_NAME" into (or takes it out of) the
# "authorization-plugins" list in $DAEMON_JSON, keeping every other key and plugin (see
# replace_daemon_json). On remove, the keys --users set ($USERS_DAEMON_JSON) go back to what they
# were before the install, in the same change. Returns 0 when it changed (or would change) the
# file, 1 when there was nothing to do.
update_daemon_json() {
  local op=$1 src=$DAEMON_JSON changed=0 rc=0
  helper json-edit "$op" "$DAEMON_JSON" "$PLUGIN_NAME" "$WORK/daemon.json.authz" || rc=$?
  case $rc in
    0) src=$WORK/daemon.json.authz changed=1 ;;
    3) ;;
    *) die "could not edit $DAEMON_JSON (nothing was changed)" ;;
  esac
  if [[ $op == remove && -n ${USERS_DAEMON_JSON:-} ]]; then
    rc=0
    helper users-undo "$src" "$USERS_DAEMON_JSON" "$WORK/daemon.json.users" | indent || rc=$?
    case $rc in
      0) src=$WORK/daemon.json.users changed=1 ;;
      3) ;;
      *) die "could not put back the keys --users set in $DAEMON_JSON (nothing was changed)" ;;
    esac
  fi
  ((changed)) || return 1
  local what="added \"$PLUGIN_NAME\" to authorization-plugins in $DAEMON_JSON"
  if [[ $op == remove ]]; then
    what="removed \"$PLUGIN_NAME\" from authorization-plugins in $DAEMON_JSON"
    if [[ $src == "$WORK/daemon.json.users" ]]; then what="$what; the listeners and TLS settings are as before the install"; fi
  fi
  replace_daemon_json "$src" "$what" "$([[ $op == remove ]] && echo 1 || echo 0)"
}

# replace_daemon_json NEW WHAT [MAY_DROP]: makes NEW the daemon's configuration. The old file is
# backed up first ($DAEMON_JSON_BACKUP) and replaced atomically with the old file's mode; with
# --dry-run the change is shown as a diff. With MAY_DROP, a daemon.json the installer created
# ($CREATED_DAEMON_JSON) that would be left empty is removed instead.
replace_daemon_json() {
  local new=$1 what=$2 drop=0
  if [[ ${3:-0} == 1 ]] && ((CREATED_DAEMON_JSON)) && [[ $(tr -d ' \n' <"$new") == '{}' ]]; then drop=1; fi
  CHANGED=1
  if ((DRY_RUN)); then
    if ((drop)); then note "would remove $DAEMON_JSON (the installer created it; nothing else is in it)"; else show_change "$DAEMON_JSON" "$new"; fi
    return 0
  fi
  DAEMON_JSON_BACKUP=""
  if [[ -e $DAEMON_JSON ]]; then
    DAEMON_JSON_BACKUP=$DAEMON_JSON.bak-docker-authz-$(date -u +%Y%m%dT%H%M%SZ)
    local n=1 base=$DAEMON_JSON_BACKUP
    while [[ -e $DAEMON_JSON_BACKUP ]]; do DAEMON_JSON_BACKUP=$base.$((n++)); done
    cp -a "$DAEMON_JSON" "$DAEMON_JSON_BACKUP"
    note "backup $DAEMON_JSON_BACKUP"
    chmod --reference="$DAEMON_JSON" "$new"
  else
    mkdir -p "$(dirname "$DAEMON_JSON")"
    chmod 0644 "$new"
  fi
  if ((drop)); then
    rm -f "$DAEMON_JSON"
    note "removed $DAEMON_JSON (the installer created it; nothing else is in it)"
    return 0
  fi
  cp "$new" "$DAEMON_JSON.docker-authz-new"
  mv -f "$DAEMON_JSON.docker-authz-new" "$DAEMON_JSON"
  note "$what"
}

# restore_daemon_json: undoes the last update_daemon_json (the backup back, or no file).
restore_daemon_json() {
  if [[ -n $DAEMON_JSON_BACKUP ]]; then
    cp -a "$DAEMON_JSON_BACKUP" "$DAEMON_JSON"
  else
    rm -f "$DAEMON_JSON"
  fi
}

# Applies daemon.json without restarting dockerd (containers keep running).
reload_dockerd() {
  if systemd_runs_docker; then
    act systemctl reload docker.service
  elif [[ -n $DOCKERD_PID ]]; then
    act kill -HUP "$DOCKERD_PID"
  else
    return 1
  fi
}

# --- restarting dockerd (--users) -----------------------------------------------------------------
# dockerd reads its listeners and TLS settings only when it starts: adding the user gateway's TLS
# listener, and taking it away, need a restart. The scripts restart dockerd only where systemd runs
# it, and only with --restart-daemon or a "yes" on a terminal; anywhere else they say what to do.

RESTART_DAEMON=0

# True when systemd manages dockerd (docker.service exists), running or not.
systemd_manages_docker() {
  systemd_is_init && [[ -n $(systemctl show -p FragmentPath --value docker.service 2>/dev/null) ]]
}

# True when dockerd keeps containers running while it is down ("live-restore").
live_restore_on() {
  local a
  for a in "${DOCKERD_ARGS[@]}"; do
    case $a in --live-restore | --live-restore=true | --live-restore=1) return 0 ;; esac
  done
  [[ $(helper json-get "$DAEMON_JSON" live-restore 2>/dev/null) == true ]]
}

# restart_notice WHAT: what a restart of dockerd does to running containers, said up front.
restart_notice() {
  say ""
  say "NOTE: $1 needs a RESTART of dockerd: it reads its listeners and TLS settings only when it starts"
  say "(a configuration reload cannot add or remove them). For the few seconds of the restart docker"
  say "commands fail, and open attach, exec and logs -f sessions are cut."
  if live_restore_on; then
    note "live-restore is on: running containers keep running through the restart (while dockerd is down"
    note "their output is not read, so a container that writes a lot may block until dockerd is back)."
  else
    note "live-restore is off: the restart STOPS every running container. Those with a restart policy"
    note "(always, unless-stopped, on-failure) are started again; the others stay stopped. To keep them"
    note "running, set \"live-restore\": true in $DAEMON_JSON and reload dockerd (no restart) first."
  fi
  say ""
}

# confirm_restart: true when the operator agrees to a restart of dockerd: --restart-daemon, or "yes"
# on a terminal.
confirm_restart() {
  if ((RESTART_DAEMON)); then return 0; fi
  if ((DRY_RUN)) || [[ ! -t 0 ]]; then return 1; fi
  local answer=""
  read -r -p "Restart dockerd now? [y/N] " answer || return 1
  [[ $answer == [yY] || $answer == [yY][eE][sS] ]] || return 1
  RESTART_DAEMON=1
}

# restart_dockerd: systemctl restart docker (it returns once dockerd says it is ready), then finds
# the new dockerd.
restart_dockerd() {
  act systemctl restart docker.service || return 1
  if ((DRY_RUN)); then return 0; fi
  DOCKERD_PID=""
  DOCKERD_ARGS=()
  inspect_dockerd
  [[ -n $DOCKERD_PID ]]
}

# Prints the log sources holding the plugin's decision lines (for the helper's verify).
decision_log_sources() {
  case $1 in
    systemd) echo "journal:$APP_NAME.service" ;;
    pm2)
      local out
      out=$(pm2_cmd jlist 2>/dev/null | helper pm2-jlist pm_out_log_path "$APP_NAME" || true)
      if [[ -n $out ]]; then echo "file:$out"; fi
      # A pm2 cluster worker whose logger writes to fd 1 directly (not through process.stdout)
      # ends up in the pm2 daemon's own log.
      echo "file:$(pm2_home)/pm2.log"
      ;;
  esac
}

# verify_dockerd on|off SUPERVISOR: prints how dockerd was seen to consult (or no longer consult)
# the plugin; fails with the reason.
verify_dockerd() {
  local sources
  mapfile -t sources < <(decision_log_sources "$2")
  helper verify "$1" "$DAEMON_SOCKET" "$PLUGIN_SOCKET" 60 "${sources[@]}" 2>&1
}

# --- pm2 ----------------------------------------------------------------------------------------

pm2_home() { echo "${PM2_HOME:-${HOME:-/root}/.pm2}"; }
pm2_cmd() { PM2_HOME=$(pm2_home) pm2 "$@"; }

# True when the pm2 daemon for this PM2_HOME is running (asking pm2 itself would start one).
pm2_running() {
  local pid
  pid=$(cat "$(pm2_home)/pm2.pid" 2>/dev/null || true)
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null
}

pm2_has_app() { pm2_running && pm2_cmd describe "$APP_NAME" >/dev/null 2>&1; }

# The names of the apps pm2 runs (none when its daemon is not running).
pm2_app_names() {
  if pm2_running; then pm2_cmd jlist 2>/dev/null | helper pm2-jlist name || true; fi
}

# The init system pm2 can hook into for start at boot, in `pm2 startup`'s words; empty when there is
# none this script knows (e.g. a container whose PID 1 is not an init system). pm2 itself guesses
# from which tools are installed, which is wrong where systemctl exists but systemd is not PID 1.
pm2_init_system() {
  if systemd_is_init; then echo systemd; return; fi
  local init
  init=$(cat /proc/1/comm 2>/dev/null || true)
  case $init in
    init | openrc-init)
      if [[ -d /run/openrc ]] && command -v rc-update >/dev/null; then
        echo openrc
      elif command -v update-rc.d >/dev/null; then
        echo upstart # pm2's name for an LSB init script enabled with update-rc.d
      elif command -v chkconfig >/dev/null; then
        echo systemv
      fi
      ;;
  esac
}

# The file `pm2 startup INIT` writes for root.
pm2_startup_file() {
  case $1 in
    systemd) echo "$SYSTEMD_DIR/$PM2_UNIT" ;;
    openrc) echo /etc/init.d/pm2 ;;
    upstart | systemv) echo /etc/init.d/pm2-root ;;
  esac
}
