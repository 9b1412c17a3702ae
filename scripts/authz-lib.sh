# shellcheck shell=bash
# Shared by install-authz.sh and uninstall-authz.sh (sourced, not run). Paths are fixed: they are
# what dockerd, the systemd units and the pm2 process file expect.

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
readonly MIN_NODE=20.19.0

DRY_RUN=0
CHANGED=0

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

# Runs a command that changes the system, or only prints it with --dry-run.
act() {
  CHANGED=1
  if ((DRY_RUN)); then
    printf '  would run: %s\n' "$*"
  else
    printf '  + %s\n' "$*"
    "$@"
  fi
}

# install_content DEST MODE < content: writes DEST atomically when its content or mode differs.
# Returns 0 when it changed (or would change) something, 1 when DEST was already right.
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
    if [[ -e $dest ]]; then
      printf '  would update %s:\n' "$dest"
      diff -u "$dest" "$tmp" | sed 's/^/    /' || true
    else
      printf '  would create %s (mode %s, %s bytes)\n' "$dest" "$mode" "$(wc -c <"$tmp")"
    fi
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

# remove_tree DIR: removes DIR and everything in it; a DIR that is a mount point stays, empty.
remove_tree() {
  [[ -e $1 || -L $1 ]] || return 0
  act find "$1" -mindepth 1 -delete
  if ((DRY_RUN)); then return 0; fi
  if ! rmdir "$1" 2>/dev/null; then note "kept the empty directory $1 (a mount point?)"; fi
}

# ensure_dir DIR MODE
ensure_dir() {
  if [[ -d $1 ]]; then return 0; fi
  act install -d -m "$2" "$1"
}

# --- node --------------------------------------------------------------------------------------

HELPER=""   # set by the scripts: path of install-helper.mjs
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

systemd_is_init() { [[ -d /run/systemd/system ]]; }
systemd_runs_docker() { systemd_is_init && systemctl is-active --quiet docker.service 2>/dev/null; }

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

# Prints the log sources holding the plugin's decision lines (for the helper's verify).
decision_log_sources() {
  case $1 in
    systemd) echo "journal:$APP_NAME.service" ;;
    pm2)
      local out
      out=$(pm2_cmd jlist 2>/dev/null | "$NODE_BIN" -e '
        let t = ""; process.stdin.on("data", (d) => (t += d)).on("end", () => {
          try {
            const list = JSON.parse(t.slice(t.indexOf("[")));
            const app = list.find((p) => p.name === process.argv[1]);
            if (app && app.pm2_env && app.pm2_env.pm_out_log_path) console.log(app.pm2_env.pm_out_log_path);
          } catch {}
        });' "$APP_NAME" || true)
      [[ -n $out ]] && echo "file:$out"
      # A pm2 cluster worker whose logger writes to fd 1 directly (not through process.stdout)
      # ends up in the pm2 daemon's own log.
      echo "file:$(pm2_home)/pm2.log"
      ;;
  esac
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
