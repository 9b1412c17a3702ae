#!/usr/bin/env bash
# Removes docker-authz, in the order that keeps Docker working: first dockerd stops consulting the
# plugin (daemon.json + reload), then the plugin is stopped, then its files go. Run as root.
# Also the break-glass tool when the plugin is broken (see docs/operations.md).
set -euo pipefail
umask 022

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/authz-lib.sh
. "$SCRIPT_DIR/authz-lib.sh"
HELPER=$SCRIPT_DIR/install-helper.mjs

usage() {
  cat <<EOF
usage: uninstall-authz.sh [--dry-run] [--purge]

  1. removes "$PLUGIN_NAME" from "authorization-plugins" in dockerd's daemon.json (other keys and
     plugins are kept; the key goes when the list becomes empty) and reloads dockerd (systemctl
     reload docker, or SIGHUP to the pid in $DOCKER_PIDFILE), then checks that dockerd no longer
     consults the plugin. If that check fails, nothing else is touched.
  2. stops the plugin's supervision (systemd units or the pm2 app);
  3. removes $APP_DIR, $BIN_DIR/docker-authz and $SPEC_FILE.

Kept unless --purge: $CONF_DIR (policy, authz.env), $STATE_DIR (who said hello),
the daemon.json backups the installer made and the pm2 log files.

Options:
  --dry-run   print every change instead of making it
  --purge     also remove what is kept above
  -h, --help  this text
EOF
}

PURGE=0
while (($#)); do
  case $1 in
    -h | --help) usage; exit 0 ;;
    --dry-run) DRY_RUN=1 ;;
    --purge) PURGE=1 ;;
    *) usage >&2; die "unknown option $1" ;;
  esac
  shift
done

if ((DRY_RUN)); then say "docker-authz uninstaller (dry run: nothing is changed)"; else say "docker-authz uninstaller"; fi
if ((EUID != 0)) && ! ((DRY_RUN)); then die "run this as root (sudo $0)"; fi

# The installer's record: supervisor, PM2_HOME, whether it created daemon.json.
SUPERVISOR=""
CREATED_DAEMON_JSON=0
RECORDED_DAEMON_JSON=""
if [[ -r $INSTALL_RECORD ]]; then
  # shellcheck disable=SC1090
  eval "$(. "$INSTALL_RECORD" && printf 'SUPERVISOR=%q\nREC_PM2_HOME=%q\nCREATED_DAEMON_JSON=%q\nRECORDED_DAEMON_JSON=%q\n' \
    "${SUPERVISOR:-}" "${PM2_HOME:-}" "${CREATED_DAEMON_JSON:-0}" "${DAEMON_JSON:-}")"
  if [[ -z ${PM2_HOME:-} && -n ${REC_PM2_HOME:-} ]]; then export PM2_HOME=$REC_PM2_HOME; fi
fi

find_node
inspect_dockerd
[[ -n $RECORDED_DAEMON_JSON && $DAEMON_JSON == "$DEFAULT_DAEMON_JSON" && -z $DOCKERD_PID ]] && DAEMON_JSON=$RECORDED_DAEMON_JSON
if [[ -n $DOCKERD_PID ]]; then
  note "dockerd pid $DOCKERD_PID, configuration $DAEMON_JSON"
else
  note "dockerd is not running; configuration $DAEMON_JSON"
fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# ================================================================================================
say "1. dockerd stops consulting the plugin"
DAEMON_JSON_CHANGED=0
if [[ -e $DAEMON_JSON ]]; then
  helper json-check "$DAEMON_JSON" || die "$DAEMON_JSON is not valid: fix it by hand (remove \"$PLUGIN_NAME\" from authorization-plugins), then reload dockerd"
fi
if helper json-edit remove "$DAEMON_JSON" "$PLUGIN_NAME" "$WORK/daemon.json"; then
  DAEMON_JSON_CHANGED=1
  EMPTY=0
  [[ $(tr -d ' \n' <"$WORK/daemon.json") == '{}' ]] && ((CREATED_DAEMON_JSON)) && EMPTY=1
  if ((DRY_RUN)); then
    if ((EMPTY)); then note "would remove $DAEMON_JSON (the installer created it; nothing else is in it)"; else
      note "would update $DAEMON_JSON:"
      diff -u "$DAEMON_JSON" "$WORK/daemon.json" | sed 's/^/    /' || true
    fi
  else
    BACKUP=$DAEMON_JSON.bak-docker-authz-$(date -u +%Y%m%dT%H%M%SZ)
    cp -a "$DAEMON_JSON" "$BACKUP"
    if ((EMPTY)); then
      rm -f "$DAEMON_JSON"
      note "removed $DAEMON_JSON (the installer created it; backup $BACKUP)"
    else
      chmod --reference="$DAEMON_JSON" "$WORK/daemon.json"
      cp "$WORK/daemon.json" "$DAEMON_JSON.docker-authz-new"
      mv -f "$DAEMON_JSON.docker-authz-new" "$DAEMON_JSON"
      note "removed \"$PLUGIN_NAME\" from $DAEMON_JSON (backup $BACKUP)"
    fi
  fi
else
  rc=$?
  ((rc == 3)) || die "could not edit $DAEMON_JSON"
  note "$DAEMON_JSON does not list \"$PLUGIN_NAME\""
fi

if [[ -n $DOCKERD_PID ]] || systemd_runs_docker; then
  if ((DAEMON_JSON_CHANGED)); then reload_dockerd; fi
  if ((DRY_RUN)); then
    note "would check that dockerd no longer consults the plugin"
  else
    mapfile -t SOURCES < <(decision_log_sources "${SUPERVISOR:-pm2}")
    RESULT=$(helper verify off "$DAEMON_SOCKET" "$PLUGIN_SOCKET" 60 "${SOURCES[@]}" 2>&1) ||
      die "dockerd still consults docker-authz ($RESULT); the plugin was left running so Docker keeps working." \
        "Check dockerd's log for the reload, and that $DAEMON_JSON does not list \"$PLUGIN_NAME\"."
    note "$RESULT"
  fi
fi

# ================================================================================================
say "2. supervision"
if [[ -z $SUPERVISOR ]]; then
  # No record (a partial install): look for both.
  if [[ -e $SYSTEMD_DIR/docker-authz.service || -e $SYSTEMD_DIR/docker-authz.socket ]]; then SUPERVISOR=systemd; else SUPERVISOR=pm2; fi
fi
if [[ $SUPERVISOR == systemd ]]; then
  if systemd_is_init; then
    for unit in docker-authz.service docker-authz.socket; do
      if systemctl is-enabled --quiet "$unit" 2>/dev/null || systemctl is-active --quiet "$unit" 2>/dev/null; then
        act systemctl disable --now "$unit"
      fi
    done
  fi
  REMOVED_UNITS=0
  for unit in docker-authz.service docker-authz.socket; do
    if [[ -e $SYSTEMD_DIR/$unit ]]; then act rm -f "$SYSTEMD_DIR/$unit"; REMOVED_UNITS=1; fi
  done
  if ((REMOVED_UNITS)) && systemd_is_init; then act systemctl daemon-reload; fi
else
  if command -v pm2 >/dev/null && pm2_has_app; then
    act env "PM2_HOME=$(pm2_home)" pm2 delete "$APP_NAME"
    act env "PM2_HOME=$(pm2_home)" pm2 save --force
  else
    note "no pm2 app $APP_NAME (PM2_HOME $(pm2_home))"
  fi
fi

# ================================================================================================
say "3. files"
if [[ -e $SPEC_FILE ]]; then act rm -f "$SPEC_FILE"; fi
if [[ -d $SPEC_DIR ]] && [[ -z $(ls -A "$SPEC_DIR") ]]; then act rmdir "$SPEC_DIR"; fi
if [[ -S $PLUGIN_SOCKET ]]; then act rm -f "$PLUGIN_SOCKET"; fi
if [[ -L $BIN_DIR/docker-authz && $(readlink "$BIN_DIR/docker-authz") == "$APP_DIR/bin/docker-authz" ]]; then
  act rm -f "$BIN_DIR/docker-authz"
fi
remove_tree "$APP_DIR"
if ((PURGE)); then
  remove_tree "$CONF_DIR"
  remove_tree "$STATE_DIR"
  for f in "$DAEMON_JSON".bak-docker-authz-*; do
    if [[ -e $f ]]; then act rm -f "$f"; fi
  done
  PM2_LOGS=$(pm2_home)/logs
  for f in "$PM2_LOGS/$APP_NAME"-out*.log "$PM2_LOGS/$APP_NAME"-error*.log; do
    if [[ -e $f ]]; then act rm -f "$f"; fi
  done
else
  if [[ -e $CONF_DIR ]]; then note "kept $CONF_DIR (policy, authz.env); --purge removes it"; fi
  if [[ -e $STATE_DIR ]]; then note "kept $STATE_DIR (who said hello); --purge removes it"; fi
fi

say ""
if ((DRY_RUN)); then
  say "dry run finished"
else
  say "docker-authz is uninstalled; dockerd runs without it."
fi
