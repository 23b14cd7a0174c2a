#!/usr/bin/env bash
# Tear down the single-node cluster of cluster/slurm-up.sh: cancel jobs, stop slurmd, slurmctld,
# slurmdbd, munged and MariaDB by their pid files, and delete Slurm's state (job records stay in
# the database) unless --keep-state is given.
set -uo pipefail

STATE="${STEPER_SLURM_STATE:-/var/lib/steper-slurm}"
log() { printf '[slurm-down] %s\n' "$*" >&2; }

stop_pidfile() {  # stop_pidfile <name> <pidfile>: TERM, then wait up to 30 s for the process to leave
  local name=$1 file=$2 pid
  [[ -s $file ]] || return 0
  pid=$(<"$file")
  kill -0 "$pid" 2>/dev/null || { rm -f "$file"; return 0; }
  log "stopping $name ($pid)"
  kill -TERM "$pid"
  for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  rm -f "$file"
}

if scontrol ping >/dev/null 2>&1; then
  scancel --user root --full >/dev/null 2>&1 || true
  [[ -n "${SUDO_USER:-}" ]] && scancel --user "$SUDO_USER" --full >/dev/null 2>&1
fi
stop_pidfile slurmd /run/slurm/slurmd.pid
stop_pidfile slurmctld /run/slurm/slurmctld.pid
stop_pidfile slurmdbd /run/slurm/slurmdbd.pid
stop_pidfile munged /run/munge/munged.pid
if [[ -x /etc/init.d/mariadb ]] && /etc/init.d/mariadb status >/dev/null 2>&1; then
  log "stopping mariadb"
  /etc/init.d/mariadb stop >/dev/null
fi
if [[ ${1:-} != --keep-state ]]; then
  rm -rf "$STATE"
fi
log "down"
