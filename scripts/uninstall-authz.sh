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
usage: uninstall-authz.sh [--dry-run] [--purge] [--keep-users] [--restart-daemon]

  1. removes "$PLUGIN_NAME" from "authorization-plugins" in dockerd's daemon.json (other keys and
     plugins are kept; the key goes when the list becomes empty) and reloads dockerd (systemctl
     reload docker, or SIGHUP to the pid in $DOCKER_PIDFILE), then checks that dockerd no longer
     consults the plugin. If that check fails, nothing else is touched.
     With the users (install-authz.sh --users), the same change puts daemon.json's listeners and
     TLS settings back as they were, and the drop-in for docker.service goes; dockerd drops its
     TLS listener when it restarts (see --restart-daemon).
  2. stops the supervision of the user gateway and the plugin (systemd units, or the pm2 apps and
     the start at boot the installer set up for them);
  3. removes $APP_DIR, $BIN_DIR/docker-authz, $SPEC_FILE and, unless --keep-users, the
     users' certificates (the docker-authz CA, dockerd's server certificate, one per user).

Kept unless --purge: $CONF_DIR (policy, authz.env), $STATE_DIR (who said hello),
the daemon.json backups the installer made and the pm2 log files.

Options:
  --dry-run          print every change (files as diffs, commands) instead of making it
  --purge            also remove what is kept above
  --keep-users       keep the users' certificates (the PKI directory) for a later install --users
  --restart-daemon   restart dockerd (systemctl restart docker) to close the users' TLS listener;
                     without it the uninstaller asks on a terminal, and otherwise leaves the
                     listener until dockerd's next restart
  -h, --help         this text
EOF
}

PURGE=0
KEEP_USERS=0
SUPERVISOR=""
USERS=0
USERS_PKI_DIR=""
USERS_ADDRESS=""
USERS_DAEMON_JSON=""
USERS_LISTENING=0 # dockerd serves the users' TLS listener: only a restart closes it
USERS_ADVICE=()

parse_args() {
  while (($#)); do
    case $1 in
      -h | --help) usage; exit 0 ;;
      --dry-run) DRY_RUN=1 ;;
      --purge) PURGE=1 ;;
      --keep-users) KEEP_USERS=1 ;;
      --restart-daemon) RESTART_DAEMON=1 ;;
      *) usage >&2; die "unknown option $1" ;;
    esac
    shift
  done
  if ((PURGE && KEEP_USERS)); then die "--purge removes $CONF_DIR, the users' certificates too: it cannot be combined with --keep-users"; fi
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
  USERS=$(record_get USERS 0)
  if ((USERS)); then inspect_users; fi
}

# The users' part of the install: what daemon.json had before, the PKI, and whether dockerd serves
# the TLS listener now (closing it takes a restart, which is said and agreed to up front).
inspect_users() {
  USERS_PKI_DIR=$(record_get USERS_PKI_DIR)
  USERS_ADDRESS=$(record_get USERS_ADDRESS)
  USERS_DAEMON_JSON=$(record_get USERS_DAEMON_JSON)
  note "users: dockerd's TLS listener ${USERS_ADDRESS:-?}, PKI ${USERS_PKI_DIR:-?}"
  [[ -n $USERS_ADDRESS ]] || return 0
  if helper tls-probe "$USERS_ADDRESS" "$USERS_PKI_DIR/ca.pem" 0 >/dev/null 2>&1; then USERS_LISTENING=1; else return 0; fi
  restart_notice "Closing the users' TLS listener ($USERS_ADDRESS)"
  if systemd_runs_docker; then
    if ((DRY_RUN)); then
      note "(a real run restarts dockerd with --restart-daemon, or after a yes on a terminal)"
    elif confirm_restart; then
      note "dockerd will be restarted once it no longer consults the plugin"
    else
      note "dockerd will not be restarted (no --restart-daemon): it keeps the TLS listener until its next restart"
    fi
  else
    note "dockerd is not run by systemd here: you restart it (this run ends by saying how)"
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

# The drop-in that took -H off docker.service goes (daemon.json no longer has "hosts" from the
# install); dockerd closes the TLS listener when it restarts.
users_disable_in_dockerd() {
  if [[ -e $DOCKER_DROPIN ]]; then
    act rm -f "$DOCKER_DROPIN"
    if [[ -d ${DOCKER_DROPIN%/*} ]] && [[ -z $(ls -A "${DOCKER_DROPIN%/*}") ]]; then act rmdir "${DOCKER_DROPIN%/*}"; fi
    if systemd_is_init; then act systemctl daemon-reload; fi
  fi
  ((USERS_LISTENING)) || return 0
  if systemd_runs_docker && ((RESTART_DAEMON)); then
    note "restarting dockerd to close its TLS listener on $USERS_ADDRESS"
    if restart_dockerd; then
      ((DRY_RUN)) || note "dockerd restarted (pid $DOCKERD_PID)"
    else
      warn "systemctl restart docker failed: look at journalctl -u docker -n 50 (its configuration is as before docker-authz)"
    fi
    return 0
  fi
  local how="systemctl restart docker"
  systemd_runs_docker || how="restart it the way this host starts it (rc-service docker restart, service docker restart, ...)"
  USERS_ADVICE+=("dockerd still listens on $USERS_ADDRESS until it restarts (only clients with a certificate of the docker-authz CA"
    "can use it$( ((KEEP_USERS)) || echo ', and they are deleted with it')). To close it: $how.")
}

# === 2. supervision ================================================================================

stop_supervision() {
  say "2. supervision"
  if [[ $SUPERVISOR == systemd ]]; then stop_systemd; else stop_pm2; fi
}

# The gateway first (its users' connections end), then the plugin.
stop_systemd() {
  local unit removed=0
  if systemd_is_init; then
    for unit in "$GATEWAY_UNIT" docker-authz.service docker-authz.socket; do
      if systemctl is-enabled --quiet "$unit" 2>/dev/null || systemctl is-active --quiet "$unit" 2>/dev/null; then
        act systemctl disable --now "$unit"
      fi
    done
  fi
  for unit in "$GATEWAY_UNIT" docker-authz.service docker-authz.socket; do
    if [[ -e $SYSTEMD_DIR/$unit ]]; then
      act rm -f "$SYSTEMD_DIR/$unit"
      removed=1
    fi
  done
  if ((removed)) && systemd_is_init; then act systemctl daemon-reload; fi
}

stop_pm2() {
  local pm2=(env "PM2_HOME=$(pm2_home)" pm2) app deleted=0
  for app in "$GATEWAY_APP" "$APP_NAME"; do
    if command -v pm2 >/dev/null && pm2_running && pm2_cmd describe "$app" >/dev/null 2>&1; then
      act_quiet "${pm2[@]}" delete "$app" || die "pm2 delete $app failed"
      deleted=1
    elif [[ $app == "$APP_NAME" ]]; then
      note "no pm2 app $APP_NAME (PM2_HOME $(pm2_home))"
    fi
  done
  if ((deleted)); then act_quiet "${pm2[@]}" save --force || die "pm2 save failed"; fi
  # pm2's start at boot: undone only if the installer set it up and pm2 has nothing else to run.
  local startup others
  startup=$(record_get PM2_STARTUP)
  if [[ -n $startup ]]; then
    others=$(pm2_app_names | grep -vxF -e "$APP_NAME" -e "$GATEWAY_APP" || true)
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
  # What the gateway left in its runtime directory (under systemd, systemd removes it): empty
  # directories; a file there is not the gateway's, and stays.
  if [[ -d $GATEWAY_RUN_DIR ]] && [[ -z $(find "$GATEWAY_RUN_DIR" ! -type d ! -type s -print -quit) ]]; then remove_tree "$GATEWAY_RUN_DIR"; fi
  if ((USERS)); then remove_users_pki; fi
  if ((PURGE)); then
    remove_tree "$CONF_DIR"
    remove_tree "$STATE_DIR"
    local f logs
    for f in "$DAEMON_JSON".bak-docker-authz-*; do remove_file "$f"; done
    logs=$(pm2_home)/logs
    for f in "$logs/$APP_NAME"-out*.log "$logs/$APP_NAME"-error*.log "$logs/$GATEWAY_APP"-out*.log "$logs/$GATEWAY_APP"-error*.log; do remove_file "$f"; done
  else
    if [[ -e $CONF_DIR ]]; then note "kept $CONF_DIR (policy, authz.env); --purge removes it"; fi
    if [[ -e $STATE_DIR ]]; then note "kept $STATE_DIR (who said hello); --purge removes it"; fi
  fi
}

# The users' certificates and keys, the CA and dockerd's server certificate: removed unless
# --keep-users (the names are printed: users add NAME makes them again after a new install).
remove_users_pki() {
  local dir=$USERS_PKI_DIR names
  # The record names the directory; only one that looks like the PKI is removed.
  [[ $dir == /?* && -f $dir/ca.pem ]] || return 0
  names=$(find "$dir/users" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null | sort | paste -sd' ' -)
  if ((KEEP_USERS)); then
    note "kept the users' certificates in $dir (--keep-users)${names:+: $names}"
    return 0
  fi
  remove_tree "$dir"
  if [[ -n $names ]]; then note "removed the certificates of: $names"; fi
}

main() {
  parse_args "$@"
  make_workdir
  if ((DRY_RUN)); then say "docker-authz uninstaller (dry run: nothing is changed)"; else say "docker-authz uninstaller"; fi
  inspect
  disable_in_dockerd # 1
  if ((USERS)); then users_disable_in_dockerd; fi
  stop_supervision   # 2
  remove_files       # 3
  say ""
  if ((DRY_RUN)); then say "dry run finished"; else say "docker-authz is uninstalled; dockerd runs without it."; fi
  local line
  if ((${#USERS_ADVICE[@]})); then
    say ""
    for line in "${USERS_ADVICE[@]}"; do say "$line"; done
  fi
}

main "$@"
