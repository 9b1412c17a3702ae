#!/usr/bin/env bash
# Installs docker-authz in front of this host's dockerd. Run as root. Safe to run again: a second
# run with the same source changes nothing. See docs/operations.md.
set -euo pipefail
umask 022

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/authz-lib.sh
. "$SCRIPT_DIR/authz-lib.sh"

usage() {
  cat <<EOF
usage: install-authz.sh [--dry-run] [--supervisor systemd|pm2] [--no-enable] [--source DIR]
                        [--audit] [--users [--restart-daemon]]

Installs docker-authz and puts it in front of this host's dockerd, without restarting dockerd
(--users excepted):

  1. checks Node.js (>= $MIN_NODE), the daemon's configuration and that dockerd is not using the
     --authorization-plugin flag (nothing is changed if a check fails);
  2. installs a production build under $APP_DIR (releases/<version>-<hash>, "current" points at
     the one in use), the docker-authz command in $BIN_DIR, $ENV_FILE and
     $POLICY_FILE (never overwritten once they exist) and the state directory $STATE_DIR;
  3. registers the plugin: $SPEC_FILE -> unix://$PLUGIN_SOCKET;
  4. starts it under supervision (systemd socket + service, or pm2 in cluster mode, started at
     boot where pm2 can hook into the init system) and waits until it answers on its socket;
  5. adds "$PLUGIN_NAME" to "authorization-plugins" in the daemon's daemon.json (other keys and
     plugins are kept, the old file is backed up), reloads dockerd (systemctl reload docker, or
     SIGHUP to the pid in $DOCKER_PIDFILE) and checks that dockerd now consults the plugin.
  6. with --users: dockerd gets a TLS listener on 127.0.0.1 (tlsverify, the docker-authz CA, made
     by docker-authz users init) next to its unix socket, in daemon.json; under systemd a drop-in
     takes -H off docker.service's command line (dockerd refuses -H flags with "hosts" in
     daemon.json). This needs a RESTART of dockerd (see --restart-daemon);
  7. with --users: the user gateway (docker-authz-gateway, under the same supervisor). Then
     "docker-authz users add NAME" gives a Unix user a Docker socket of their own.

Options:
  --dry-run                  print every change (files as diffs, commands) instead of making it
  --supervisor systemd|pm2   default: the one an existing install uses, else systemd when it is
                             PID 1, otherwise pm2 (installed with npm if missing; respects PM2_HOME)
  --no-enable                install and start the plugin but leave dockerd's configuration alone
  --source DIR               the docker-authz checkout or package to install (default: the
                             directory above this script; also AUTHZ_SOURCE_DIR). Built there
                             in a temporary copy if it has no up-to-date dist/.
  --audit                    install the policy in audit mode ("mode: audit"): what the rules and
                             the hello gate would deny is logged and let through. Applies to a new
                             $POLICY_FILE; an existing one is never changed.
  --users                    local users with identities of their own (steps 6 and 7). Where the
                             TLS listener goes: AUTHZ_DAEMON_TLS_ADDRESS in $ENV_FILE
                             (default $DEFAULT_TLS_ADDRESS). Kept by later runs without --users.
  --restart-daemon           agree to the restart of dockerd that --users needs (systemd runs it
                             with: systemctl restart docker). Without it the installer asks on a
                             terminal, and stops before changing anything otherwise. Elsewhere
                             dockerd is configured and you restart it.
  -h, --help                 this text

Environment: NODE (node binary to use), PM2_HOME, DOCKER_HOST (unix:// socket of the daemon, for the
final check; default: the daemon's -H unix:// socket or /var/run/docker.sock), DOCKER_PIDFILE.
Undo with $APP_DIR/current/scripts/uninstall-authz.sh (or scripts/uninstall-authz.sh).
EOF
}

SUPERVISOR=""
ENABLE=1
SOURCE_DIR=${AUTHZ_SOURCE_DIR:-$(cd "$SCRIPT_DIR/.." && pwd)}
NPM_BIN=""
VERSION=""
BUILD_DIR=""      # where dist/ and a built node_modules come from: the source, or a temporary build
NEEDS_BUILD=0
RELEASE_ID=""
RELEASE=""
RELEASE_CHANGED=0 # "current" now points at another release: the running plugin must be swapped
PM2_STARTUP=""    # the init system the installer set pm2's start at boot up for (install record)
BOOT_ADVICE=()    # what the operator must still do for start at boot, repeated at the end
AUDIT=0           # --audit: a new policy file in audit mode
USERS=0           # --users, or an install that has them: dockerd's TLS listener and the gateway
USERS_RECORDED=0  # the install record has the users (USERS=1 and what goes with it)
USERS_PKI_DIR=""
USERS_ADDRESS=""
USERS_DAEMON_JSON="" # what --users set in daemon.json, before and after (install record)
USERS_GATEWAY_SOCKET=""
USERS_LISTENING=0 # dockerd already serves the TLS listener with the docker-authz CA
USERS_RESTART=0   # dockerd must restart for its TLS listener
USERS_ADVICE=()   # what the operator must still do for it, repeated at the end

parse_args() {
  while (($#)); do
    case $1 in
      -h | --help) usage; exit 0 ;;
      --dry-run) DRY_RUN=1 ;;
      --no-enable) ENABLE=0 ;;
      --supervisor) SUPERVISOR=${2:-}; shift ;;
      --supervisor=*) SUPERVISOR=${1#*=} ;;
      --source) SOURCE_DIR=${2:-}; shift ;;
      --source=*) SOURCE_DIR=${1#*=} ;;
      --audit) AUDIT=1 ;;
      --users) USERS=1 ;;
      --restart-daemon) RESTART_DAEMON=1 ;;
      *) usage >&2; die "unknown option $1" ;;
    esac
    shift
  done
}

# === 1. checks: nothing is changed before they all pass ===========================================

check_host() {
  say "checking (no changes yet)"
  if ((EUID != 0)); then
    if ((DRY_RUN)); then warn "not running as root: the dry run may not see everything"; else die "run this as root (sudo $0)"; fi
  fi

  find_node
  NPM_BIN=$(command -v npm || true)
  [[ -n $NPM_BIN ]] || node_help "node $("$NODE_BIN" --version) is there but npm is not"
  note "node $("$NODE_BIN" --version) at $NODE_BIN"

  check_source
  record_load
  choose_supervisor
  local previous
  previous=$(record_get SUPERVISOR)
  if [[ -n $previous && $previous != "$SUPERVISOR" ]]; then
    die "docker-authz is installed under $previous; uninstall it first to switch to $SUPERVISOR" \
      "($APP_DIR/current/scripts/uninstall-authz.sh keeps your policy and state; --keep-users keeps the users' certificates)"
  fi

  inspect_dockerd
  if [[ -n $DOCKERD_PID ]]; then
    note "dockerd pid $DOCKERD_PID, configuration $DAEMON_JSON, API unix://$DAEMON_SOCKET"
  else
    note "dockerd is not running (no live pid in $DOCKER_PIDFILE); configuration $DAEMON_JSON"
  fi
  check_no_flag
  if ((ENABLE)); then
    helper json-check "$DAEMON_JSON" || die "stopping: $DAEMON_JSON must be fixed before docker-authz can be enabled (nothing was changed)"
  fi
  # Remembered for the uninstaller: a daemon.json the installer creates is removed again.
  CREATED_DAEMON_JSON=$(record_get CREATED_DAEMON_JSON 0)
  if ((ENABLE)) && [[ ! -e $DAEMON_JSON ]]; then CREATED_DAEMON_JSON=1; fi
  USERS_DAEMON_JSON=$(record_get USERS_DAEMON_JSON)
  USERS_RECORDED=$(record_get USERS 0)
  if ((USERS_RECORDED)); then USERS=1; fi
  if ((USERS)); then check_users; fi
}

# --users: where the PKI and the listener go, whether dockerd can be given the listener, and
# whether that needs a restart (which the operator must agree to before anything is changed).
check_users() {
  ((ENABLE)) || die "--users changes dockerd's configuration: it cannot be combined with --no-enable"
  local settings
  settings=$(helper env-get "$ENV_FILE" "AUTHZ_PKI_DIR=$DEFAULT_PKI_DIR" "AUTHZ_DAEMON_TLS_ADDRESS=$DEFAULT_TLS_ADDRESS" \
    "AUTHZ_GATEWAY_SOCKET=$GATEWAY_RUN_DIR/gateway.sock") || die "cannot read $ENV_FILE"
  { read -r USERS_PKI_DIR; read -r USERS_ADDRESS; read -r USERS_GATEWAY_SOCKET; } <<<"$settings"
  note "users: dockerd's TLS listener $USERS_ADDRESS, PKI $USERS_PKI_DIR (AUTHZ_DAEMON_TLS_ADDRESS, AUTHZ_PKI_DIR in $ENV_FILE)"
  users_plan "$WORK/users-check" || die "stopping: dockerd cannot be given the user gateway's TLS listener as it is configured (nothing was changed)"
  local probe rc=0
  probe=$(helper tls-probe "$USERS_ADDRESS" "$USERS_PKI_DIR/ca.pem" 0) || rc=$?
  case $rc in
    0) USERS_LISTENING=1 ;;
    3) ;;
    *)
      # dockerd itself, with another CA (a new one was made) or an old configuration, is restarted;
      # anything else is in the way.
      if ! users_planned_listener; then
        die "$probe" "dockerd's TLS listener for the user gateway needs $USERS_ADDRESS: choose a free port with" \
          "AUTHZ_DAEMON_TLS_ADDRESS=127.0.0.1:PORT in $ENV_FILE, then run this again (nothing was changed)"
      fi
      note "$probe: dockerd must restart to use the docker-authz CA"
      ;;
  esac
  if ! dockerd_reachable; then return 0; fi
  if [[ $(<"$WORK/users-check/changed") == 1 ]] || ! users_dropin_current "$WORK/users-check" || ! ((USERS_LISTENING)); then USERS_RESTART=1; fi
  ((USERS_RESTART)) || return 0
  restart_notice "--users"
  if ! systemd_runs_docker; then
    note "dockerd is not run by systemd here: the installer configures it, and you restart it (this run ends by saying how)."
  elif ((DRY_RUN)); then
    note "(a real run restarts dockerd with --restart-daemon, or after a yes on a terminal)"
  elif confirm_restart; then
    note "dockerd will be restarted (step 6)"
  else
    die "stopping: --users restarts dockerd. Run this again with --restart-daemon to go ahead (nothing was changed)." \
      "--dry-run shows every change first."
  fi
}

# True when dockerd is already configured for the listener (daemon.json has it; only a restart is missing).
users_planned_listener() {
  local want
  want=$(helper json-get "$WORK/users-check/daemon.json" hosts)
  [[ $(<"$WORK/users-check/changed") == 0 && -n $want && $(helper json-get "$DAEMON_JSON" hosts) == "$want" ]]
}

# users_dropin_current DIR: the drop-in for docker.service is what the plan in DIR says (or absent, as it says).
users_dropin_current() {
  if [[ -f $1/dropin ]]; then cmp -s "$1/dropin" "$DOCKER_DROPIN"; else [[ ! -e $DOCKER_DROPIN ]]; fi
}

# users_plan DIR: the daemon side of --users, computed into DIR by the helper (daemon.json, the
# record, the drop-in, notes; "changed" says whether daemon.json changes). Fails with the reason.
users_plan() {
  local dir=$1 f l key value
  rm -rf "$dir"
  mkdir -p "$dir"
  local -a opts=(--daemon-json "$DAEMON_JSON" --address "$USERS_ADDRESS" --pki "$USERS_PKI_DIR" --out "$dir")
  if [[ -n $USERS_DAEMON_JSON ]]; then opts+=(--record "$USERS_DAEMON_JSON"); fi
  if [[ -n $DOCKERD_PID && -r /proc/$DOCKERD_PID/cmdline ]]; then opts+=(--cmdline "/proc/$DOCKERD_PID/cmdline"); fi
  if systemd_manages_docker; then
    # docker.service and its drop-ins, in the order systemd applies them, without ours.
    local fragment="" dropins=""
    while IFS='=' read -r key value; do
      case $key in
        FragmentPath) fragment=$value ;;
        DropInPaths) dropins=$value ;;
      esac
    done < <(systemctl show -p FragmentPath -p DropInPaths docker.service 2>/dev/null)
    for f in $fragment $dropins; do
      if [[ $f != "$DOCKER_DROPIN" && -r $f ]]; then opts+=(--unit "$f"); fi
    done
    while IFS= read -r l; do
      if [[ -n $l ]]; then opts+=(--listen "$l"); fi
    done < <(systemctl show -p Listen --value docker.socket 2>/dev/null || true)
  fi
  helper users-plan "${opts[@]}" >"$dir/notes" || return 1
}

check_source() {
  SOURCE_DIR=$(cd "$SOURCE_DIR" 2>/dev/null && pwd) || die "source directory ${SOURCE_DIR} does not exist"
  [[ -f $SOURCE_DIR/package.json && -f $SOURCE_DIR/package-lock.json && -f $SOURCE_DIR/policy/default.yaml ]] ||
    die "$SOURCE_DIR does not look like a docker-authz checkout (package.json, package-lock.json, policy/default.yaml)"
  [[ $(helper package-field "$SOURCE_DIR" name) == docker-authz ]] || die "$SOURCE_DIR/package.json is not docker-authz"
  VERSION=$(helper package-field "$SOURCE_DIR" version)
  note "source $SOURCE_DIR (docker-authz $VERSION)"

  # A checkout needs a build; a package (npm pack) already has dist/.
  if [[ ! -f $SOURCE_DIR/dist/cli.js ]]; then
    NEEDS_BUILD=1
  elif [[ -d $SOURCE_DIR/src ]] && [[ -n $(find "$SOURCE_DIR/src" "$SOURCE_DIR/package-lock.json" -newer "$SOURCE_DIR/dist/cli.js" -type f -print -quit) ]]; then
    NEEDS_BUILD=1
    note "dist/ is older than src/: building a fresh copy"
  fi
  if ((NEEDS_BUILD)) && [[ ! -d $SOURCE_DIR/src ]]; then die "$SOURCE_DIR has neither dist/cli.js nor src/ to build it from"; fi
}

# --supervisor, else the one the installed copy uses, else systemd where it is PID 1, else pm2.
choose_supervisor() {
  if [[ -z $SUPERVISOR ]]; then SUPERVISOR=$(record_get SUPERVISOR); fi
  if [[ -z $SUPERVISOR ]]; then
    if [[ $(cat /proc/1/comm 2>/dev/null) == systemd ]] && systemd_is_init; then SUPERVISOR=systemd; else SUPERVISOR=pm2; fi
  fi
  case $SUPERVISOR in
    systemd) systemd_is_init || die "--supervisor systemd: systemd is not running as init on this host" ;;
    pm2) ;;
    *) die "--supervisor must be systemd or pm2, not '$SUPERVISOR'" ;;
  esac
  note "supervisor: $SUPERVISOR"
}

# === 2. files ======================================================================================

install_files() {
  say "installing files"
  BUILD_DIR=$SOURCE_DIR
  if ((NEEDS_BUILD)); then perform "build: npm ci && npm run build in a temporary copy of $SOURCE_DIR" build_source; fi
  stage_release
  ensure_dir "$APP_DIR" 0755
  ensure_dir "$APP_DIR/releases" 0755
  if [[ -f $RELEASE/.complete ]]; then
    note "release $RELEASE_ID is already installed"
  else
    perform "create $RELEASE (production dependencies from the build or npm ci --omit=dev; native addons checked)" create_release
  fi
  switch_current
  install_command
  install_config
}

# Builds the checkout in a temporary copy (the checkout itself is left as it is).
build_source() {
  BUILD_DIR=$WORK/build
  mkdir -p "$BUILD_DIR"
  (cd "$SOURCE_DIR" && cp -a src policy scripts package.json package-lock.json tsconfig.json tsconfig.build.json "$BUILD_DIR"/)
  note "+ npm ci && npm run build (in $BUILD_DIR)"
  (cd "$BUILD_DIR" && "$NPM_BIN" ci --prefer-offline --no-audit --no-fund --loglevel=error >"$WORK/build.log" 2>&1 &&
    "$NPM_BIN" run build >>"$WORK/build.log" 2>&1) || {
    cat "$WORK/build.log" >&2
    die "building docker-authz failed (nothing was installed)"
  }
}

# The release: everything the running plugin needs, minus node_modules, hashed to name it.
stage_release() {
  local stage=$WORK/release
  mkdir -p "$stage/scripts" "$stage/systemd" "$stage/docs"
  if [[ -d $BUILD_DIR/dist ]]; then cp -a "$BUILD_DIR/dist" "$stage/"; fi
  cp -a "$SOURCE_DIR/policy" "$SOURCE_DIR/package.json" "$SOURCE_DIR/package-lock.json" "$SOURCE_DIR/ecosystem.config.js" "$stage/"
  cp -a "$SCRIPT_DIR/install-authz.sh" "$SCRIPT_DIR/uninstall-authz.sh" "$SCRIPT_DIR/authz-lib.sh" "$HELPER" "$stage/scripts/"
  cp -a "$SOURCE_DIR/systemd/." "$stage/systemd/"
  if [[ -f $SOURCE_DIR/docs/operations.md ]]; then cp -a "$SOURCE_DIR/docs/operations.md" "$stage/docs/"; fi
  RELEASE_ID=$VERSION-$(cd "$stage" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-12)
  RELEASE=$APP_DIR/releases/$RELEASE_ID
}

# The staged release plus its production dependencies, moved into place only once complete.
create_release() {
  local partial=$RELEASE.partial why
  rm -rf "$RELEASE" "$partial"
  cp -a "$WORK/release" "$partial"
  if why=$(copy_dependencies "$partial"); then
    note "$why"
  else
    note "$why"
    note "+ npm ci --omit=dev --ignore-scripts (in $partial)"
    (cd "$partial" && "$NPM_BIN" ci --omit=dev --ignore-scripts --prefer-offline --no-audit --no-fund --loglevel=error >"$WORK/npm.log" 2>&1) || {
      cat "$WORK/npm.log" >&2
      rm -rf "$partial"
      die "npm ci --omit=dev failed (nothing was switched; the running plugin, if any, is untouched)"
    }
  fi
  build_native_addons "$partial"
  touch "$partial/.complete"
  mv "$partial" "$RELEASE"
  note "created $RELEASE"
}

# The build directory has the dependencies installed (and native ones compiled): when it holds every
# production package at the locked version, the release gets copies (no network, no compiler).
copy_dependencies() {
  local out
  if [[ ! -d $BUILD_DIR/node_modules ]]; then
    echo "$BUILD_DIR has no node_modules to take the dependencies from"
    return 1
  fi
  out=$(helper copy-deps "$BUILD_DIR" "$1" 2>&1) || {
    echo "not taking the dependencies from $BUILD_DIR/node_modules: $out"
    return 1
  }
  echo "production dependencies copied from $BUILD_DIR/node_modules (the locked versions)"
}

# Dependencies with native code (better-sqlite3) must load in the node that runs the plugin. If the
# release's copy does not (installed with --ignore-scripts, or built for another node ABI,
# process.versions.modules), the build directory's compiled addon is reused when it is the same
# version and loads here; otherwise it is compiled (npm rebuild: a few minutes).
build_native_addons() {
  local dir=$1 pkg name why abi
  local -a natives
  mapfile -t natives < <(helper native-deps "$dir")
  abi=$("$NODE_BIN" -p process.versions.modules)
  for pkg in "${natives[@]}"; do
    name=${pkg#node_modules/}
    if helper native-check "$dir" "$pkg" >/dev/null 2>&1; then
      note "$name: its native addon loads in node $("$NODE_BIN" --version) (ABI $abi)"
      continue
    fi
    if why=$(reuse_native_addon "$dir" "$pkg"); then
      note "$why"
      continue
    fi
    note "$name: no build to reuse ($why)"
    note "+ npm rebuild $name (compiles it for node $("$NODE_BIN" --version); this takes a few minutes)"
    (cd "$dir" && "$NPM_BIN" rebuild "$name" --foreground-scripts --no-audit --no-fund >"$WORK/rebuild.log" 2>&1) || {
      tail -n 40 "$WORK/rebuild.log" >&2
      rm -rf "$dir"
      die "building $name failed (it needs python3, make and a C++ compiler; nothing was switched)"
    }
    why=$(helper native-check "$dir" "$pkg" 2>&1) || {
      rm -rf "$dir"
      die "$name was built but does not load: $why" "(nothing was switched)"
    }
  done
}

# reuse_native_addon DIR PKG: copies PKG's addon from the build directory; prints what it did, or why not.
reuse_native_addon() {
  local dir=$1 pkg=$2 out
  [[ -d $BUILD_DIR/node_modules ]] || { echo "$BUILD_DIR has no node_modules"; return 1; }
  out=$(helper native-reuse "$BUILD_DIR" "$dir" "$pkg" 2>&1) || { echo "$out"; return 1; }
  helper native-check "$dir" "$pkg" >/dev/null 2>&1 || { echo "the copied addon does not load"; return 1; }
  echo "$out"
}

# Points "current" at the release: a new symlink renamed over the old one (atomic).
switch_current() {
  if [[ $(readlink "$APP_DIR/current" 2>/dev/null || true) == "releases/$RELEASE_ID" ]]; then return 0; fi
  RELEASE_CHANGED=1
  act ln -sfn "releases/$RELEASE_ID" "$APP_DIR/current.new"
  act mv -T "$APP_DIR/current.new" "$APP_DIR/current"
}

# The command: a launcher that reads the same configuration as the service.
install_command() {
  ensure_dir "$APP_DIR/bin" 0755
  install_content "$APP_DIR/bin/docker-authz" 0755 <<EOF || true
#!/bin/sh
# docker-authz command (written by install-authz.sh): the configuration the service uses, then the CLI.
if [ -r $ENV_FILE ]; then set -a; . $ENV_FILE; set +a; fi
exec $NODE_BIN $APP_DIR/current/dist/cli.js "\$@"
EOF
  if [[ $(readlink "$BIN_DIR/docker-authz" 2>/dev/null) != "$APP_DIR/bin/docker-authz" ]]; then
    if [[ -e $BIN_DIR/docker-authz && ! -L $BIN_DIR/docker-authz ]]; then die "$BIN_DIR/docker-authz exists and is not ours; move it away first"; fi
    ensure_dir "$BIN_DIR" 0755
    act ln -sfn "$APP_DIR/bin/docker-authz" "$BIN_DIR/docker-authz"
  fi
}

# Configuration: written once; an operator's edits are never overwritten.
install_config() {
  ensure_dir "$CONF_DIR" 0755
  if [[ -e $ENV_FILE ]]; then
    note "kept $ENV_FILE"
  else
    install_content "$ENV_FILE" 0644 <<EOF || true
# docker-authz configuration: plain KEY=value lines (read by systemd, the pm2 process file and the
# docker-authz command). Apply changes with: systemctl restart docker-authz
# or: pm2 reload $APP_DIR/current/ecosystem.config.js --update-env
#
# The socket's file name is the plugin's name in daemon.json ("authorization-plugins": ["authz"]);
# keep it in step with $SPEC_FILE and the systemd socket unit.
AUTHZ_SOCKET=$PLUGIN_SOCKET
AUTHZ_POLICY=$POLICY_FILE
AUTHZ_STATE_DIR=$STATE_DIR
AUTHZ_LOG_LEVEL=info
EOF
  fi
  if [[ -e $POLICY_FILE ]]; then
    note "kept $POLICY_FILE"
    if ((AUDIT)) && [[ $(policy_mode) == enforce ]]; then
      warn "--audit: $POLICY_FILE exists and is not in audit mode; it is kept as it is." \
        "To audit with it, set \"mode: audit\" at its top level, then: docker-authz reload"
    fi
  elif ((AUDIT)); then
    helper audit-policy "$SOURCE_DIR/policy/default.yaml" "$WORK/policy.yaml"
    install_content "$POLICY_FILE" 0644 <"$WORK/policy.yaml" || true
  else
    install_content "$POLICY_FILE" 0644 <"$SOURCE_DIR/policy/default.yaml" || true
  fi
  ensure_dir "$STATE_DIR" 0700
}

# The installed policy's top-level mode (enforce or audit), read with a release's YAML parser;
# nothing when it cannot be read.
policy_mode() {
  local dir
  for dir in "$APP_DIR/current" "$RELEASE" "$BUILD_DIR" "$SOURCE_DIR"; do
    if [[ -n $dir && -d $dir/node_modules/yaml ]]; then
      helper policy-mode "$dir" "$POLICY_FILE" 2>/dev/null || true
      return 0
    fi
  done
}

# === 3. registration ===============================================================================

# dockerd finds the plugin by name through the spec file (and the socket itself).
register_plugin() {
  ensure_dir "$SPEC_DIR" 0755
  install_content "$SPEC_FILE" 0644 <<<"unix://$PLUGIN_SOCKET" || true
  if ((DRY_RUN)); then return 0; fi
  note "+ docker-authz check $POLICY_FILE"
  "$APP_DIR/bin/docker-authz" check "$POLICY_FILE" | indent ||
    die "the policy $POLICY_FILE is invalid; fix it (docker-authz check) and run this again" \
      "dockerd's configuration was not touched"
}

# === 4. supervision ================================================================================

start_supervised() {
  say "supervision ($SUPERVISOR)"
  if [[ $SUPERVISOR == systemd ]]; then systemd_supervise; else pm2_supervise; fi
  if ((DRY_RUN)); then
    note "would wait until the plugin answers on $PLUGIN_SOCKET"
  else
    note "waiting for the plugin on $PLUGIN_SOCKET"
    helper wait-plugin "$PLUGIN_SOCKET" 30 | indent || die "the plugin is not answering on $PLUGIN_SOCKET; dockerd's configuration was NOT changed" \
      "look at its log: $(log_command)"
    if [[ $SUPERVISOR == pm2 ]]; then pm2_fd_limit; fi
  fi
  # Old releases go once the new one serves.
  local old
  for old in "$APP_DIR"/releases/*; do
    if [[ -e $old && $old != "$RELEASE" ]]; then act rm -rf "$old"; fi
  done
}

log_command() { if [[ $SUPERVISOR == systemd ]]; then echo 'journalctl -u docker-authz -f'; else echo 'pm2 logs docker-authz'; fi; }

systemd_supervise() {
  local unit units_changed=0
  for unit in docker-authz.socket docker-authz.service; do
    if install_content "$SYSTEMD_DIR/$unit" 0644 <"$WORK/release/systemd/$unit"; then units_changed=1; fi
  done
  if ((units_changed)); then act systemctl daemon-reload; fi
  if ! { systemctl is-enabled --quiet docker-authz.socket && systemctl is-enabled --quiet docker-authz.service; } 2>/dev/null; then
    act systemctl enable docker-authz.socket docker-authz.service
  fi
  if ! systemctl is-active --quiet docker-authz.socket; then act systemctl start docker-authz.socket; fi
  if ! systemctl is-active --quiet docker-authz.service; then
    act systemctl start docker-authz.service
  elif ((RELEASE_CHANGED || units_changed)); then
    # systemd holds the socket: calls arriving during the restart wait in its backlog.
    act systemctl restart docker-authz.service
  fi
}

pm2_supervise() {
  if ! command -v pm2 >/dev/null; then
    act_quiet "$NPM_BIN" install -g pm2@7 || die "npm install -g pm2@7 failed"
    ((DRY_RUN)) || command -v pm2 >/dev/null || die "pm2 was installed but is not on PATH ($("$NPM_BIN" prefix -g)/bin)"
  fi
  note "pm2 at $(command -v pm2 || echo '(to be installed)'), PM2_HOME $(pm2_home)"
  local ecosystem=$APP_DIR/current/ecosystem.config.js pm2=(env "PM2_HOME=$(pm2_home)" pm2)
  if pm2_has_app; then
    local exec_path
    exec_path=$(pm2_cmd jlist 2>/dev/null | helper pm2-jlist pm_exec_path "$APP_NAME")
    [[ $exec_path == "$APP_DIR/current/dist/cli.js" ]] ||
      die "a pm2 app named $APP_NAME already runs $exec_path, not the installed plugin" \
        "remove it (pm2 delete $APP_NAME) and run this again"
    if ((RELEASE_CHANGED)); then
      # Cluster mode: the new worker takes over the shared socket before the old one stops.
      act_quiet "${pm2[@]}" reload "$ecosystem" --update-env || die "pm2 reload failed" "look at its log: pm2 logs $APP_NAME"
      act_quiet "${pm2[@]}" save || die "pm2 save failed"
    else
      note "pm2 already runs $APP_NAME"
    fi
  else
    act_quiet "${pm2[@]}" start "$ecosystem" || die "pm2 start failed; dockerd's configuration was NOT changed" "look at its log: pm2 logs $APP_NAME"
    act_quiet "${pm2[@]}" save || die "pm2 save failed"
  fi
  pm2_boot
}

# Under pm2 the plugin's open-file limit is the hard limit of whatever started the pm2 daemon (node
# raises its soft limit to the hard one; pm2 has no setting for it): say what it is.
pm2_fd_limit() {
  local pid limit
  pid=$(pm2_cmd jlist 2>/dev/null | helper pm2-jlist pid "$APP_NAME" | head -n 1)
  limit=$(awk '/^Max open files/ { print $4 }' "/proc/$pid/limits" 2>/dev/null || true)
  [[ $limit =~ ^[0-9]+$ ]] || return 0
  note "the plugin (pid $pid) may open $limit files (see docs/operations.md, File descriptors)"
  if ((limit < 4096)); then
    warn "an open-file limit of $limit is low for a plugin every Docker call goes through;" \
      "raise the hard limit pm2 starts with (docs/operations.md, File descriptors)"
  fi
}

# dockerd refuses to start while a configured authorization plugin cannot be reached, so pm2 must
# start at boot, before dockerd: `pm2 startup` installs pm2's init script (it runs `pm2 resurrect`,
# which starts what `pm2 save` stored).
pm2_boot() {
  local init file pm2=(env "PM2_HOME=$(pm2_home)" pm2)
  init=$(pm2_init_system)
  PM2_STARTUP=$(record_get PM2_STARTUP)
  if [[ -z $init ]]; then
    note "pm2 cannot be set up to start at boot here: no init system found (PID 1 is $(cat /proc/1/comm 2>/dev/null || echo unknown))"
    BOOT_ADVICE+=("pm2 does not start at boot on this host. Make what starts this host's services run, BEFORE dockerd:"
      "  PM2_HOME=$(pm2_home) $(command -v pm2 || echo pm2) resurrect"
      "(it starts what pm2 save stored). Until then, after a reboot dockerd refuses to start: see docs/operations.md, Break-glass.")
    return 0
  fi
  file=$(pm2_startup_file "$init")
  if [[ -e $file ]]; then
    note "pm2 starts at boot ($file)"
  else
    act_quiet "${pm2[@]}" startup "$init" -u root || die "pm2 startup $init failed" "set up pm2's start at boot by hand (pm2 startup), then run this again"
    PM2_STARTUP=$init
  fi
  if [[ $init == systemd ]]; then
    if install_content "$PM2_ORDER_DROPIN" 0644 <<EOF; then act systemctl daemon-reload; fi
# Written by docker-authz's installer: pm2 runs the docker-authz plugin, and dockerd refuses to
# start while its authorization plugin cannot be reached.
[Unit]
Before=docker.service
EOF
  else
    BOOT_ADVICE+=("pm2 starts at boot through $file; make sure it starts BEFORE dockerd"
      "(openrc: rc_need=\"pm2\" in /etc/conf.d/docker; LSB init scripts: pm2-root in the Should-Start line of /etc/init.d/docker).")
  fi
}

# === 5. enable in dockerd ==========================================================================

write_record() {
  local -a users=()
  if ((USERS_RECORDED)); then
    users=("USERS=1" "USERS_PKI_DIR=$USERS_PKI_DIR" "USERS_ADDRESS=$USERS_ADDRESS" "USERS_DAEMON_JSON=$USERS_DAEMON_JSON")
  fi
  record_write "SUPERVISOR=$SUPERVISOR" "PM2_HOME=$(pm2_home)" "PM2_STARTUP=$PM2_STARTUP" \
    "CREATED_DAEMON_JSON=$CREATED_DAEMON_JSON" "DAEMON_JSON=$DAEMON_JSON" "${users[@]}"
}

enable_in_dockerd() {
  say "enabling it in dockerd"
  local changed=0
  if update_daemon_json add; then changed=1; else note "$DAEMON_JSON already lists \"$PLUGIN_NAME\""; fi

  if ! dockerd_reachable; then
    note "dockerd is not running: it will consult docker-authz when it starts."
    note "the plugin must be running before dockerd starts, or dockerd refuses to start (see docs/operations.md)"
    return 0
  fi
  if ((changed)); then reload_dockerd; fi
  if ((DRY_RUN)); then
    note "would check that dockerd consults the plugin (GET /_ping on $DAEMON_SOCKET shows up in its decision log)"
    return 0
  fi

  note "checking that dockerd consults the plugin"
  local result
  if ! result=$(verify_dockerd on "$SUPERVISOR"); then
    if ((changed)); then
      warn "dockerd does not consult docker-authz ($result); restoring its configuration"
      restore_daemon_json
      reload_dockerd || true
    fi
    die "dockerd did not start consulting the plugin: $result" \
      "check dockerd's log for the reload (\"Reloaded configuration\" or an error)"
  fi
  note "$result"
}

# === 6. users: dockerd's TLS listener ==============================================================

users_daemon() {
  say "users: dockerd's TLS listener on $USERS_ADDRESS"
  # The CA and dockerd's server certificate (kept when they are there and good).
  if ((DRY_RUN)); then
    note "would run: docker-authz users init   (the CA and dockerd's server certificate in $USERS_PKI_DIR, unless they are there)"
  else
    local out
    out=$("$APP_DIR/bin/docker-authz" users init --json) || die "docker-authz users init failed; dockerd's configuration was not changed for --users"
    if [[ $out == *'"ca"'* ]]; then note "created the users' CA in $USERS_PKI_DIR"; fi
    if [[ $out == *'"server"'* ]]; then
      note "issued dockerd's server certificate ($USERS_PKI_DIR/server-cert.pem)$( ((USERS_LISTENING)) && echo ': dockerd uses it from its next restart')"
    fi
  fi
  users_plan "$WORK/users" || die "dockerd cannot be given the TLS listener (nothing was changed for --users)"
  indent <"$WORK/users/notes"
  local daemon_changed dropin_changed=0 restart=0
  daemon_changed=$(<"$WORK/users/changed")
  users_dropin_current "$WORK/users" || dropin_changed=1
  if ((daemon_changed || dropin_changed)) || ! ((USERS_LISTENING)); then restart=1; fi
  if ((restart)) && systemd_runs_docker && ! ((RESTART_DAEMON || DRY_RUN)); then
    die "dockerd must restart for its TLS listener; run this again with --restart-daemon (nothing was changed for --users)"
  fi

  # Recorded first: the uninstaller can undo whatever part of this is done when something fails.
  local recorded_before=$USERS_RECORDED daemon_json_before=$USERS_DAEMON_JSON
  USERS_DAEMON_JSON=$(<"$WORK/users/record")
  USERS_RECORDED=1
  write_record

  local backup=""
  if ((daemon_changed)); then
    replace_daemon_json "$WORK/users/daemon.json" "TLS listener $USERS_ADDRESS and TLS settings (the docker-authz CA) in $DAEMON_JSON"
    backup=${DAEMON_JSON_BACKUP:-none}
  fi
  if ((dropin_changed)); then
    if [[ -e $DOCKER_DROPIN ]]; then cp -a "$DOCKER_DROPIN" "$WORK/dropin.before"; fi
    if [[ -f $WORK/users/dropin ]]; then
      install_content "$DOCKER_DROPIN" 0644 <"$WORK/users/dropin" || true
    else
      act rm -f "$DOCKER_DROPIN"
    fi
    act systemctl daemon-reload
  fi

  if ! dockerd_reachable; then
    note "dockerd is not running: it listens on $USERS_ADDRESS when it starts"
    return 0
  fi
  if ! ((restart)); then
    note "dockerd already listens on $USERS_ADDRESS with the docker-authz CA"
    return 0
  fi
  if ! systemd_runs_docker; then
    if ((DRY_RUN)); then return 0; fi
    USERS_ADVICE+=("dockerd must be RESTARTED to listen on $USERS_ADDRESS (its configuration is in $DAEMON_JSON): restart it the way"
      "this host starts it (rc-service docker restart, service docker restart, ...). Until then the users' docker commands fail with"
      "\"nothing listens on the Docker daemon's TLS listener\". Root's unix socket works as before.")
    return 0
  fi

  note "restarting dockerd for its TLS listener"
  local result probe
  if restart_dockerd; then
    if ((DRY_RUN)); then
      note "would check that dockerd consults the plugin and listens on $USERS_ADDRESS with the docker-authz CA"
      return 0
    fi
    if result=$(verify_dockerd on "$SUPERVISOR") && probe=$(helper tls-probe "$USERS_ADDRESS" "$USERS_PKI_DIR/ca.pem" 30); then
      note "$result"
      note "$probe"
      return 0
    fi
  else
    result="systemctl restart docker failed"
  fi
  warn "dockerd did not come back as expected (${probe:-$result}); putting its configuration back and restarting it again"
  if [[ -n $backup ]]; then
    if [[ $backup == none ]]; then rm -f "$DAEMON_JSON"; else cp -a "$backup" "$DAEMON_JSON"; fi
  fi
  if ((dropin_changed)); then
    if [[ -e $WORK/dropin.before ]]; then cp -a "$WORK/dropin.before" "$DOCKER_DROPIN"; else rm -f "$DOCKER_DROPIN"; fi
    systemctl daemon-reload || true
  fi
  USERS_RECORDED=$recorded_before
  USERS_DAEMON_JSON=$daemon_json_before
  write_record
  systemctl restart docker.service || warn "dockerd does not start again either: see journalctl -u docker, and docs/operations.md (Break-glass)"
  die "dockerd did not start with the user gateway's TLS listener: ${probe:-$result}" \
    "its configuration is as before --users; look at its log: journalctl -u docker -n 50"
}

# === 7. users: the gateway =========================================================================

users_gateway() {
  say "users: the gateway ($SUPERVISOR)"
  if [[ $SUPERVISOR == systemd ]]; then
    local unit_changed=0
    if install_content "$SYSTEMD_DIR/$GATEWAY_UNIT" 0644 <"$WORK/release/systemd/$GATEWAY_UNIT"; then
      unit_changed=1
      act systemctl daemon-reload
    fi
    if ! systemctl is-enabled --quiet "$GATEWAY_UNIT" 2>/dev/null; then act systemctl enable "$GATEWAY_UNIT"; fi
    if ! systemctl is-active --quiet "$GATEWAY_UNIT"; then
      act systemctl start "$GATEWAY_UNIT"
    elif ((RELEASE_CHANGED || unit_changed)); then
      act systemctl restart "$GATEWAY_UNIT"
    fi
  else
    local pm2=(env "PM2_HOME=$(pm2_home)" pm2)
    # The process file lists the gateway once the install record says USERS=1; a new release
    # was reloaded with the plugin (pm2 reload of the whole file).
    if pm2_running && pm2_cmd describe "$GATEWAY_APP" >/dev/null 2>&1; then
      note "pm2 already runs $GATEWAY_APP"
    else
      act_quiet "${pm2[@]}" start "$APP_DIR/current/ecosystem.config.js" --only "$GATEWAY_APP" ||
        die "pm2 start $GATEWAY_APP failed" "look at its log: pm2 logs $GATEWAY_APP"
      act_quiet "${pm2[@]}" save || die "pm2 save failed"
    fi
  fi
  if ((DRY_RUN)); then
    note "would wait until the gateway answers on $USERS_GATEWAY_SOCKET"
    return 0
  fi
  helper wait-http "$USERS_GATEWAY_SOCKET" /status 30 "the gateway" >/dev/null ||
    die "the gateway is not answering on $USERS_GATEWAY_SOCKET" "look at its log: $(gateway_log_command)"
  note "the gateway answers on $USERS_GATEWAY_SOCKET"
}

gateway_log_command() { if [[ $SUPERVISOR == systemd ]]; then echo "journalctl -u $GATEWAY_APP -f"; else echo "pm2 logs $GATEWAY_APP"; fi; }

# The Unix users in the docker group can open dockerd's socket and skip the gateway.
docker_group_members() { getent group docker 2>/dev/null | cut -d: -f4 | tr ',' ' '; }

report_boot_advice() {
  local line
  if ((${#BOOT_ADVICE[@]})); then
    say ""
    for line in "${BOOT_ADVICE[@]}"; do say "$line"; done
  fi
}

report() {
  if ((DRY_RUN)); then
    say "dry run finished$( ((CHANGED)) || echo ': nothing to change')"
    return 0
  fi
  say ""
  if dockerd_reachable; then
    say "docker-authz is installed and dockerd consults it$( ((CHANGED)) || echo ' (nothing changed)')."
  else
    say "docker-authz is installed; dockerd is not running: it will consult docker-authz when it starts."
  fi
  report_boot_advice
  local line members
  if ((${#USERS_ADVICE[@]})); then
    say ""
    for line in "${USERS_ADVICE[@]}"; do say "$line"; done
  fi
  say ""
  if [[ $(policy_mode) == audit ]]; then
    say "The policy is in AUDIT mode: its rules and the hello gate refuse nothing; what they would refuse is"
    say "logged with \"audit\":true ($(log_command)) and counted (docker-authz status). To enforce, once the"
    say "log shows what you expect:"
    note "set \"mode: enforce\" in $POLICY_FILE (or remove its mode: line), then: docker-authz check && docker-authz reload"
    say ""
    say "Next:"
    note "docker run hello-world          say hello (in audit mode, callers who have not are logged, not refused)"
  else
    say "Next:"
    note "docker run hello-world          say hello: until then, docker commands other than that are refused"
  fi
  note "$POLICY_FILE   the policy; saved changes are reloaded automatically (or: docker-authz reload)"
  note "docker-authz hello status       who has said hello"
  note "$(log_command)      one JSON line per decision"
  if ((USERS)); then
    say ""
    say "Local users: root on dockerd's own socket is \"@anonymous\" to the plugin; each user added here gets a"
    say "socket of their own and is themselves (docs/operations.md, Local users):"
    note "docker-authz users add NAME [--group G]   a Docker socket for the Unix user NAME (prints their DOCKER_HOST line)"
    note "docker-authz users list                   who, their sockets, certificates and groups"
    note "docker-authz users remove NAME            closes NAME's socket and connections at once"
    note "$(gateway_log_command)      one JSON line per user connection"
    members=$(docker_group_members)
    if [[ -n ${members// /} ]]; then
      warn "in the docker group, so able to skip the gateway and use dockerd's socket as @anonymous: $members" \
        "(take them out: gpasswd -d NAME docker)"
    fi
    note "uninstall: $APP_DIR/current/scripts/uninstall-authz.sh   (keeps policy and state unless --purge, removes the users' certificates unless --keep-users)"
  else
    note "uninstall: $APP_DIR/current/scripts/uninstall-authz.sh   (keeps policy and state unless --purge)"
  fi
}

report_not_enabled() {
  say "installed; dockerd was left alone (--no-enable). To enable docker-authz:"
  note "add \"authorization-plugins\": [\"$PLUGIN_NAME\"] to $DAEMON_JSON, then: systemctl reload docker (or kill -HUP \$(cat $DOCKER_PIDFILE))"
  note "or run this script again without --no-enable"
  report_boot_advice
}

main() {
  parse_args "$@"
  make_workdir
  if ((DRY_RUN)); then say "docker-authz installer (dry run: nothing is changed)"; else say "docker-authz installer"; fi
  check_host        # 1
  install_files     # 2
  register_plugin   # 3
  start_supervised  # 4
  write_record
  if ! ((ENABLE)); then
    report_not_enabled
    return 0
  fi
  enable_in_dockerd # 5
  if ((USERS)); then
    users_daemon    # 6
    users_gateway   # 7
  fi
  report
}

main "$@"
