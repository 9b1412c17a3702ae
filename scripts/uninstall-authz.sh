#!/usr/bin/env bash
# Removes docker-authz, in the order that keeps Docker working: first dockerd stops consulting the
# plugin (daemon.json + reload), then the plugin is stopped, then its files go. Run as root.
# Also the break-glass tool when the plugin is broken (see docs/operations.md).
set -euo pipefail
umask 022

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/authz-lib.sh
. "$SCRIPT_DIR/authz-lib.sh"

usage() {
  cat <<EOF
usage: uninstall-authz.sh [--dry-run] [--purge]

  1. removes "$PLUGIN_NAME" from "authorization-plugins" in dockerd's daemon.json (other keys and
     plugins are kept; the key goes when the list becomes empty) and reloads dockerd (systemctl
     reload docker, or SIGHUP to the pid in $DOCKER_PIDFILE), then checks that dockerd no longer
     consults the plugin. If that check fails, nothing else is touched.
  2. stops the plugin's supervision (systemd units, or the pm2 app and the start at boot the
     installer set up for it);
  3. removes $APP_DIR, $BIN_DIR/docker-authz and $SPEC_FILE.

Kept unless --purge: $CONF_DIR (policy, authz.env), $STATE_DIR (who said hello),
the daemon.json backups the installer made and the pm2 log files.

Options:
  --dry-run   print every change (files as diffs, commands) instead of making it
  --purge     also remove what is kept above
  -h, --help  this text
EOF
}

PURGE=0
SUPERVISOR=""

parse_args() {
  while (($#)); do
    case $1 in
      -h | --help) usage; exit 0 ;;
      --dry-run) DRY_RUN=1 ;;
      --purge) PURGE=1 ;;
      *) usage >&2; die "unknown option $1" ;;
    esac
    shift
  done
}

# What the installer recorded, and where dockerd is.
inspect() {
  if ((EUID != 0)) && ! ((DRY_RUN)); then die "run this as root (sudo $0)"; fi
  record_load
  SUPERVISOR=$(record_get SUPERVISOR)
  CREATED_DAEMON_JSON=$(record_get CREATED_DAEMON_JSON 0)
  find_node
  inspect_dockerd
  # dockerd is not running: it cannot say which file it reads, the installer's record can.
  local recorded
  recorded=$(record_get DAEMON_JSON)
  if [[ -n $recorded && $DAEMON_JSON == "$DEFAULT_DAEMON_JSON" && -z $DOCKERD_PID ]]; then DAEMON_JSON=$recorded; fi
  if [[ -n $DOCKERD_PID ]]; then
    note "dockerd pid $DOCKERD_PID, configuration $DAEMON_JSON"
  else
    note "dockerd is not running; configuration $DAEMON_JSON"
  fi
  if [[ -z $SUPERVISOR ]]; then
    # No record (a partial install): look for the units.
    if [[ -e $SYSTEMD_DIR/docker-authz.service || -e $SYSTEMD_DIR/docker-authz.socket ]]; then SUPERVISOR=systemd; else SUPERVISOR=pm2; fi
  fi
}

# === 1. dockerd stops consulting the plugin ========================================================

disable_in_dockerd() {
  say "1. dockerd stops consulting the plugin"
  if [[ -e $DAEMON_JSON ]]; then
    helper json-check "$DAEMON_JSON" || die "$DAEMON_JSON is not valid: fix it by hand (remove \"$PLUGIN_NAME\" from authorization-plugins), then reload dockerd"
  fi
  local changed=0
  if update_daemon_json remove; then changed=1; else note "$DAEMON_JSON does not list \"$PLUGIN_NAME\""; fi
  dockerd_reachable || return 0
  if ((changed)); then reload_dockerd; fi
  if ((DRY_RUN)); then
    note "would check that dockerd no longer consults the plugin"
    return 0
  fi
  local result
  result=$(verify_dockerd off "$SUPERVISOR") ||
    die "dockerd still consults docker-authz ($result); the plugin was left running so Docker keeps working." \
      "Check dockerd's log for the reload, and that $DAEMON_JSON does not list \"$PLUGIN_NAME\"."
  note "$result"
}

# === 2. supervision ================================================================================

stop_supervision() {
  say "2. supervision"
  if [[ $SUPERVISOR == systemd ]]; then stop_systemd; else stop_pm2; fi
}

stop_systemd() {
  local unit removed=0
  if systemd_is_init; then
    for unit in docker-authz.service docker-authz.socket; do
      if systemctl is-enabled --quiet "$unit" 2>/dev/null || systemctl is-active --quiet "$unit" 2>/dev/null; then
        act systemctl disable --now "$unit"
      fi
    done
  fi
  for unit in docker-authz.service docker-authz.socket; do
    if [[ -e $SYSTEMD_DIR/$unit ]]; then
      act rm -f "$SYSTEMD_DIR/$unit"
      removed=1
    fi
  done
  if ((removed)) && systemd_is_init; then act systemctl daemon-reload; fi
}

stop_pm2() {
  local pm2=(env "PM2_HOME=$(pm2_home)" pm2)
  if command -v pm2 >/dev/null && pm2_has_app; then
    act_quiet "${pm2[@]}" delete "$APP_NAME" || die "pm2 delete $APP_NAME failed"
    act_quiet "${pm2[@]}" save --force || die "pm2 save failed"
  else
    note "no pm2 app $APP_NAME (PM2_HOME $(pm2_home))"
  fi
  # pm2's start at boot: undone only if the installer set it up and pm2 has nothing else to run.
  local startup others
  startup=$(record_get PM2_STARTUP)
  if [[ -n $startup ]]; then
    others=$(pm2_app_names | grep -vxF "$APP_NAME" || true)
    if [[ -n $others ]]; then
      note "kept pm2's start at boot ($startup): pm2 also runs $(echo "$others" | paste -sd, -)"
    else
      act_quiet "${pm2[@]}" unstartup "$startup" || warn "pm2 unstartup $startup failed; remove pm2's init script by hand"
    fi
  fi
  if [[ -e $PM2_ORDER_DROPIN ]]; then
    act rm -f "$PM2_ORDER_DROPIN"
    if [[ -d ${PM2_ORDER_DROPIN%/*} ]] && [[ -z $(ls -A "${PM2_ORDER_DROPIN%/*}") ]]; then act rmdir "${PM2_ORDER_DROPIN%/*}"; fi
    if systemd_is_init; then act systemctl daemon-reload; fi
  fi
}

# === 3. files ======================================================================================

remove_files() {
  say "3. files"
  remove_file "$SPEC_FILE"
  if [[ -d $SPEC_DIR ]] && [[ -z $(ls -A "$SPEC_DIR") ]]; then act rmdir "$SPEC_DIR"; fi
  if [[ -S $PLUGIN_SOCKET ]]; then act rm -f "$PLUGIN_SOCKET"; fi
  if [[ -L $BIN_DIR/docker-authz && $(readlink "$BIN_DIR/docker-authz") == "$APP_DIR/bin/docker-authz" ]]; then
    act rm -f "$BIN_DIR/docker-authz"
  fi
  remove_tree "$APP_DIR"
  if ((PURGE)); then
    remove_tree "$CONF_DIR"
    remove_tree "$STATE_DIR"
    local f logs
    for f in "$DAEMON_JSON".bak-docker-authz-*; do remove_file "$f"; done
    logs=$(pm2_home)/logs
    for f in "$logs/$APP_NAME"-out*.log "$logs/$APP_NAME"-error*.log; do remove_file "$f"; done
  else
    if [[ -e $CONF_DIR ]]; then note "kept $CONF_DIR (policy, authz.env); --purge removes it"; fi
    if [[ -e $STATE_DIR ]]; then note "kept $STATE_DIR (who said hello); --purge removes it"; fi
  fi
}

main() {
  parse_args "$@"
  make_workdir
  if ((DRY_RUN)); then say "docker-authz uninstaller (dry run: nothing is changed)"; else say "docker-authz uninstaller"; fi
  inspect
  disable_in_dockerd # 1
  stop_supervision   # 2
  remove_files       # 3
  say ""
  if ((DRY_RUN)); then say "dry run finished"; else say "docker-authz is uninstalled; dockerd runs without it."; fi
}

main "$@"
