#!/usr/bin/env bash
# Installs docker-authz in front of this host's dockerd. Run as root. Safe to run again: a second
# run with the same source changes nothing. See docs/operations.md.
set -euo pipefail
umask 022

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/authz-lib.sh
. "$SCRIPT_DIR/authz-lib.sh"
HELPER=$SCRIPT_DIR/install-helper.mjs

usage() {
  cat <<EOF
usage: install-authz.sh [--dry-run] [--supervisor systemd|pm2] [--no-enable] [--source DIR]

Installs docker-authz and puts it in front of this host's dockerd, without restarting dockerd:

  1. checks Node.js (>= $MIN_NODE), the daemon's configuration and that dockerd is not using the
     --authorization-plugin flag (nothing is changed if a check fails);
  2. installs a production build under $APP_DIR (releases/<version>-<hash>, "current" points at
     the one in use), the docker-authz command in $BIN_DIR, $ENV_FILE and
     $POLICY_FILE (never overwritten once they exist) and the state directory $STATE_DIR;
  3. registers the plugin: $SPEC_FILE -> unix://$PLUGIN_SOCKET;
  4. starts it under supervision (systemd socket + service, or pm2 in cluster mode) and waits
     until it answers on its socket;
  5. adds "$PLUGIN_NAME" to "authorization-plugins" in the daemon's daemon.json (other keys and
     plugins are kept, the old file is backed up), reloads dockerd (systemctl reload docker, or
     SIGHUP to the pid in $DOCKER_PIDFILE) and checks that dockerd now consults the plugin.

Options:
  --dry-run                  print every change instead of making it
  --supervisor systemd|pm2   default: systemd when it is PID 1, otherwise pm2 (installed with npm
                             if missing; respects PM2_HOME)
  --no-enable                install and start the plugin but leave dockerd's configuration alone
  --source DIR               the docker-authz checkout or package to install (default: the
                             directory above this script; also AUTHZ_SOURCE_DIR). Built there
                             in a temporary copy if it has no up-to-date dist/.
  -h, --help                 this text

Environment: NODE (node binary to use), PM2_HOME, DOCKER_HOST (unix:// socket of the daemon, for the
final check; default: the daemon's -H unix:// socket or /var/run/docker.sock), DOCKER_PIDFILE.
Undo with $APP_DIR/current/scripts/uninstall-authz.sh (or scripts/uninstall-authz.sh).
EOF
}

SUPERVISOR=""
ENABLE=1
SOURCE_DIR=${AUTHZ_SOURCE_DIR:-$(cd "$SCRIPT_DIR/.." && pwd)}
while (($#)); do
  case $1 in
    -h | --help) usage; exit 0 ;;
    --dry-run) DRY_RUN=1 ;;
    --no-enable) ENABLE=0 ;;
    --supervisor) SUPERVISOR=${2:-}; shift ;;
    --supervisor=*) SUPERVISOR=${1#*=} ;;
    --source) SOURCE_DIR=${2:-}; shift ;;
    --source=*) SOURCE_DIR=${1#*=} ;;
    *) usage >&2; die "unknown option $1" ;;
  esac
  shift
done

# ================================================================================================
if ((DRY_RUN)); then say "docker-authz installer (dry run: nothing is changed)"; else say "docker-authz installer"; fi
say "checking (no changes yet)"

if ((EUID != 0)); then
  ((DRY_RUN)) && warn "not running as root: the dry run may not see everything" || die "run this as root (sudo $0)"
fi

find_node
NPM_BIN=$(command -v npm || true)
[[ -n $NPM_BIN ]] || node_help "node $("$NODE_BIN" --version) is there but npm is not"
note "node $("$NODE_BIN" --version) at $NODE_BIN"

SOURCE_DIR=$(cd "$SOURCE_DIR" 2>/dev/null && pwd) || die "source directory ${SOURCE_DIR} does not exist"
[[ -f $SOURCE_DIR/package.json && -f $SOURCE_DIR/package-lock.json && -f $SOURCE_DIR/policy/default.yaml ]] ||
  die "$SOURCE_DIR does not look like a docker-authz checkout (package.json, package-lock.json, policy/default.yaml)"
[[ $("$NODE_BIN" -p "require('$SOURCE_DIR/package.json').name") == docker-authz ]] || die "$SOURCE_DIR/package.json is not docker-authz"
VERSION=$("$NODE_BIN" -p "require('$SOURCE_DIR/package.json').version")
note "source $SOURCE_DIR (docker-authz $VERSION)"

if [[ -z $SUPERVISOR ]]; then
  if [[ $(cat /proc/1/comm 2>/dev/null) == systemd ]] && systemd_is_init; then SUPERVISOR=systemd; else SUPERVISOR=pm2; fi
fi
case $SUPERVISOR in
  systemd) systemd_is_init || die "--supervisor systemd: systemd is not running as init on this host" ;;
  pm2) ;;
  *) die "--supervisor must be systemd or pm2, not '$SUPERVISOR'" ;;
esac
note "supervisor: $SUPERVISOR"

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

if [[ -e $INSTALL_RECORD ]]; then
  # shellcheck disable=SC1090
  PREVIOUS_SUPERVISOR=$(. "$INSTALL_RECORD" && echo "${SUPERVISOR:-}")
  if [[ -n $PREVIOUS_SUPERVISOR && $PREVIOUS_SUPERVISOR != "$SUPERVISOR" ]]; then
    die "docker-authz is installed under $PREVIOUS_SUPERVISOR; uninstall it first to switch to $SUPERVISOR" \
      "($APP_DIR/current/scripts/uninstall-authz.sh keeps your policy and state)"
  fi
fi

# A checkout needs a build; a package (npm pack) already has dist/.
NEEDS_BUILD=0
if [[ ! -f $SOURCE_DIR/dist/cli.js ]]; then
  NEEDS_BUILD=1
elif [[ -d $SOURCE_DIR/src ]] && [[ -n $(find "$SOURCE_DIR/src" "$SOURCE_DIR/package-lock.json" -newer "$SOURCE_DIR/dist/cli.js" -type f -print -quit) ]]; then
  NEEDS_BUILD=1
  note "dist/ is older than src/: building a fresh copy"
fi
if ((NEEDS_BUILD)) && [[ ! -d $SOURCE_DIR/src ]]; then die "$SOURCE_DIR has neither dist/cli.js nor src/ to build it from"; fi

# ================================================================================================
say "installing files"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

BUILD_DIR=$SOURCE_DIR
if ((NEEDS_BUILD)); then
  BUILD_DIR=$WORK/build
  if ((DRY_RUN)); then
    note "would build: npm ci && npm run build in a temporary copy of $SOURCE_DIR"
    BUILD_DIR=$SOURCE_DIR
  else
    mkdir -p "$BUILD_DIR"
    (cd "$SOURCE_DIR" && cp -a src policy scripts package.json package-lock.json tsconfig.json tsconfig.build.json "$BUILD_DIR"/)
    note "+ npm ci && npm run build (in $BUILD_DIR)"
    (cd "$BUILD_DIR" && "$NPM_BIN" ci --prefer-offline --no-audit --no-fund --loglevel=error >"$WORK/build.log" 2>&1 &&
      "$NPM_BIN" run build >>"$WORK/build.log" 2>&1) || {
      cat "$WORK/build.log" >&2
      die "building docker-authz failed (nothing was installed)"
    }
  fi
fi

# The release: everything the running plugin needs, minus node_modules, hashed to name it.
STAGE=$WORK/release
mkdir -p "$STAGE/scripts" "$STAGE/systemd" "$STAGE/docs"
if [[ -d $BUILD_DIR/dist ]]; then cp -a "$BUILD_DIR/dist" "$STAGE/"; fi
cp -a "$SOURCE_DIR/policy" "$SOURCE_DIR/package.json" "$SOURCE_DIR/package-lock.json" "$STAGE/"
cp -a "$SOURCE_DIR/ecosystem.config.js" "$SOURCE_DIR/ecosystem.config.cjs" "$STAGE/"
cp -a "$SCRIPT_DIR/install-authz.sh" "$SCRIPT_DIR/uninstall-authz.sh" "$SCRIPT_DIR/authz-lib.sh" "$SCRIPT_DIR/install-helper.mjs" "$STAGE/scripts/"
cp -a "$SOURCE_DIR/systemd/." "$STAGE/systemd/"
if [[ -f $SOURCE_DIR/docs/operations.md ]]; then cp -a "$SOURCE_DIR/docs/operations.md" "$STAGE/docs/"; fi
RELEASE_ID=$VERSION-$(cd "$STAGE" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-12)
RELEASE=$APP_DIR/releases/$RELEASE_ID
CURRENT_BEFORE=$(readlink "$APP_DIR/current" 2>/dev/null || true)

ensure_dir "$APP_DIR" 0755
ensure_dir "$APP_DIR/releases" 0755
if [[ -f $RELEASE/.complete ]]; then
  note "release $RELEASE_ID is already installed"
else
  note "release $RELEASE_ID: production dependencies (npm ci --omit=dev)"
  if ((DRY_RUN)); then
    note "would create $RELEASE (npm ci --omit=dev --ignore-scripts)"
    CHANGED=1
  else
    CHANGED=1
    rm -rf "$RELEASE" "$RELEASE.partial"
    cp -a "$STAGE" "$RELEASE.partial"
    (cd "$RELEASE.partial" && "$NPM_BIN" ci --omit=dev --ignore-scripts --prefer-offline --no-audit --no-fund --loglevel=error >"$WORK/npm.log" 2>&1) || {
      cat "$WORK/npm.log" >&2
      rm -rf "$RELEASE.partial"
      die "npm ci --omit=dev failed (nothing was switched; the running plugin, if any, is untouched)"
    }
    touch "$RELEASE.partial/.complete"
    mv "$RELEASE.partial" "$RELEASE"
    note "created $RELEASE"
  fi
fi
RELEASE_CHANGED=0
if [[ $CURRENT_BEFORE != "releases/$RELEASE_ID" ]]; then
  RELEASE_CHANGED=1
  # Atomic switch: a new symlink renamed over the old one.
  act ln -sfn "releases/$RELEASE_ID" "$APP_DIR/current.new"
  act mv -T "$APP_DIR/current.new" "$APP_DIR/current"
fi

# The command: a launcher that reads the same configuration as the service.
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

# Configuration: written once; an operator's edits are never overwritten.
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
else
  install_content "$POLICY_FILE" 0644 <"$SOURCE_DIR/policy/default.yaml" || true
fi
ensure_dir "$STATE_DIR" 0700

# Registration: dockerd finds the plugin by name through the spec file (and the socket itself).
ensure_dir "$SPEC_DIR" 0755
install_content "$SPEC_FILE" 0644 <<<"unix://$PLUGIN_SOCKET" || true

if ! ((DRY_RUN)); then
  note "+ docker-authz check $POLICY_FILE"
  "$APP_DIR/bin/docker-authz" check "$POLICY_FILE" | sed 's/^/    /' ||
    die "the policy $POLICY_FILE is invalid; fix it (docker-authz check) and run this again" \
      "dockerd's configuration was not touched"
fi

# ================================================================================================
say "supervision ($SUPERVISOR)"
if [[ $SUPERVISOR == systemd ]]; then
  UNITS_CHANGED=0
  for unit in docker-authz.socket docker-authz.service; do
    if install_content "$SYSTEMD_DIR/$unit" 0644 <"$STAGE/systemd/$unit"; then UNITS_CHANGED=1; fi
  done
  if ((UNITS_CHANGED)); then act systemctl daemon-reload; fi
  if ! { systemctl is-enabled --quiet docker-authz.socket && systemctl is-enabled --quiet docker-authz.service; } 2>/dev/null; then
    act systemctl enable docker-authz.socket docker-authz.service
  fi
  if ! systemctl is-active --quiet docker-authz.socket; then act systemctl start docker-authz.socket; fi
  if ! systemctl is-active --quiet docker-authz.service; then
    act systemctl start docker-authz.service
  elif ((RELEASE_CHANGED || UNITS_CHANGED)); then
    # systemd holds the socket: calls arriving during the restart wait in its backlog.
    act systemctl restart docker-authz.service
  fi
else
  if ! command -v pm2 >/dev/null; then
    act "$NPM_BIN" install -g pm2@7
    ((DRY_RUN)) || command -v pm2 >/dev/null || die "pm2 was installed but is not on PATH ($("$NPM_BIN" prefix -g)/bin)"
  fi
  note "pm2 at $(command -v pm2 || echo '(to be installed)'), PM2_HOME $(pm2_home)"
  ECOSYSTEM=$APP_DIR/current/ecosystem.config.js
  if pm2_has_app; then
    EXEC_PATH=$(pm2_cmd jlist 2>/dev/null | "$NODE_BIN" -e '
      let t = ""; process.stdin.on("data", (d) => (t += d)).on("end", () => {
        const app = JSON.parse(t.slice(t.indexOf("["))).find((p) => p.name === process.argv[1]);
        console.log(app ? app.pm2_env.pm_exec_path : "");
      });' "$APP_NAME")
    [[ $EXEC_PATH == "$APP_DIR/current/dist/cli.js" ]] ||
      die "a pm2 app named $APP_NAME already runs $EXEC_PATH, not the installed plugin" \
        "remove it (pm2 delete $APP_NAME) and run this again"
    if ((RELEASE_CHANGED)); then
      # Cluster mode: the new worker takes over the shared socket before the old one stops.
      act env "PM2_HOME=$(pm2_home)" pm2 reload "$ECOSYSTEM" --update-env
      act env "PM2_HOME=$(pm2_home)" pm2 save
    else
      note "pm2 already runs $APP_NAME"
    fi
  else
    act env "PM2_HOME=$(pm2_home)" pm2 start "$ECOSYSTEM"
    act env "PM2_HOME=$(pm2_home)" pm2 save
  fi
fi

if ((DRY_RUN)); then
  note "would wait until the plugin answers on $PLUGIN_SOCKET"
else
  note "waiting for the plugin on $PLUGIN_SOCKET"
  helper wait-plugin "$PLUGIN_SOCKET" 30 | sed 's/^/    /' || die "the plugin is not answering on $PLUGIN_SOCKET; dockerd's configuration was NOT changed" \
    "look at its log: $([[ $SUPERVISOR == systemd ]] && echo 'journalctl -u docker-authz' || echo 'pm2 logs docker-authz')"
fi

# Old releases go once the new one serves.
if ! ((DRY_RUN)); then
  for old in "$APP_DIR"/releases/*; do
    if [[ -e $old && $old != "$RELEASE" ]]; then act rm -rf "$old"; fi
  done
fi

# What uninstall-authz.sh needs to know.
CREATED_DAEMON_JSON=0
if [[ -e $INSTALL_RECORD ]]; then
  # shellcheck disable=SC1090
  CREATED_DAEMON_JSON=$(. "$INSTALL_RECORD" && echo "${CREATED_DAEMON_JSON:-0}")
fi
if ((ENABLE)) && [[ ! -e $DAEMON_JSON ]]; then CREATED_DAEMON_JSON=1; fi

# ================================================================================================
if ! ((ENABLE)); then
  install_content "$INSTALL_RECORD" 0644 <<EOF || true
SUPERVISOR=$SUPERVISOR
PM2_HOME=$(pm2_home)
CREATED_DAEMON_JSON=$CREATED_DAEMON_JSON
EOF
  say "installed; dockerd was left alone (--no-enable). To enable docker-authz:"
  note "add \"authorization-plugins\": [\"$PLUGIN_NAME\"] to $DAEMON_JSON, then: systemctl reload docker (or kill -HUP \$(cat $DOCKER_PIDFILE))"
  note "or run this script again without --no-enable"
  exit 0
fi

say "enabling it in dockerd"
DAEMON_JSON_CHANGED=0
BACKUP=""
if helper json-edit add "$DAEMON_JSON" "$PLUGIN_NAME" "$WORK/daemon.json"; then
  DAEMON_JSON_CHANGED=1
  CHANGED=1
  if ((DRY_RUN)); then
    if [[ -e $DAEMON_JSON ]]; then
      note "would update $DAEMON_JSON (backup first):"
      diff -u "$DAEMON_JSON" "$WORK/daemon.json" | sed 's/^/    /' || true
    else
      note "would create $DAEMON_JSON:"
      sed 's/^/    /' "$WORK/daemon.json"
    fi
  else
    if [[ -e $DAEMON_JSON ]]; then
      BACKUP=$DAEMON_JSON.bak-docker-authz-$(date -u +%Y%m%dT%H%M%SZ)
      cp -a "$DAEMON_JSON" "$BACKUP"
      note "backup $BACKUP"
      chmod --reference="$DAEMON_JSON" "$WORK/daemon.json"
    else
      mkdir -p "$(dirname "$DAEMON_JSON")"
      chmod 0644 "$WORK/daemon.json"
    fi
    cp "$WORK/daemon.json" "$DAEMON_JSON.docker-authz-new"
    mv -f "$DAEMON_JSON.docker-authz-new" "$DAEMON_JSON"
    note "added \"$PLUGIN_NAME\" to authorization-plugins in $DAEMON_JSON"
  fi
else
  rc=$?
  ((rc == 3)) || die "could not edit $DAEMON_JSON"
  note "$DAEMON_JSON already lists \"$PLUGIN_NAME\""
fi

install_content "$INSTALL_RECORD" 0644 <<EOF || true
SUPERVISOR=$SUPERVISOR
PM2_HOME=$(pm2_home)
CREATED_DAEMON_JSON=$CREATED_DAEMON_JSON
DAEMON_JSON=$DAEMON_JSON
EOF

if [[ -z $DOCKERD_PID ]] && ! systemd_runs_docker; then
  if ((DRY_RUN)); then say "dry run finished (dockerd is not running)"; exit 0; fi
  say "dockerd is not running: it will consult docker-authz when it starts."
  note "the plugin must be running before dockerd starts, or dockerd refuses to start (see docs/operations.md)"
  exit 0
fi

if ((DAEMON_JSON_CHANGED)); then
  reload_dockerd
fi
if ((DRY_RUN)); then
  note "would check that dockerd consults the plugin (GET /_ping on $DAEMON_SOCKET shows up in its decision log)"
  say "dry run finished$( ((CHANGED)) || echo ': nothing to change')"
  exit 0
fi

note "checking that dockerd consults the plugin"
mapfile -t SOURCES < <(decision_log_sources "$SUPERVISOR")
if ! RESULT=$(helper verify on "$DAEMON_SOCKET" "$PLUGIN_SOCKET" 60 "${SOURCES[@]}" 2>&1); then
  if ((DAEMON_JSON_CHANGED)); then
    warn "dockerd does not consult docker-authz ($RESULT); restoring its configuration"
    if [[ -n $BACKUP ]]; then cp -a "$BACKUP" "$DAEMON_JSON"; else rm -f "$DAEMON_JSON"; fi
    reload_dockerd || true
  fi
  die "dockerd did not start consulting the plugin: $RESULT" \
    "check dockerd's log for the reload (\"Reloaded configuration\" or an error)"
fi
note "$RESULT"

say ""
say "docker-authz is installed and dockerd consults it$( ((CHANGED)) || echo ' (nothing changed)')."
say "Next:"
note "docker run hello-world          say hello: until then, docker commands other than that are refused"
note "$POLICY_FILE   the policy; saved changes are reloaded automatically (or: docker-authz reload)"
note "docker-authz hello status       who has said hello"
note "$([[ $SUPERVISOR == systemd ]] && echo 'journalctl -u docker-authz -f' || echo 'pm2 logs docker-authz')      one JSON line per decision"
note "uninstall: $APP_DIR/current/scripts/uninstall-authz.sh   (keeps policy and state unless --purge)"
