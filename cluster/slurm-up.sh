#!/usr/bin/env bash
# Bring up a single-node Slurm cluster on this machine (Debian 12: Slurm 22.05), as root:
# munge, MariaDB + slurmdbd (so `sacct` works: the Snakemake SLURM executor queries it),
# slurmctld and slurmd. The node declares the machine's real CPUs and memory (read now from
# `slurmd -C`) and a `gpu` GRES whose devices are /dev/null clones, so jobs that ask for GPUs are
# scheduled and their requests recorded, on a machine without GPUs.
#
#   sudo bash cluster/slurm-up.sh        # idempotent: a running cluster is restarted with a fresh config
#   sudo bash cluster/slurm-down.sh      # stops every daemon this script started
#
# Settings (environment): STEPER_SLURM_GPUS (GRES gpu count, default 4: the paper tier's largest
# request), STEPER_SLURM_PARTITION (default local), STEPER_SLURM_ACCOUNT (default steper),
# STEPER_SLURM_STATE (spool and state directory, default /var/lib/steper-slurm), STEPER_SLURM_NICE
# (niceness of slurmd and so of every job, default 0; 10 on a machine shared with others).
set -euo pipefail

GPUS="${STEPER_SLURM_GPUS:-4}"
PARTITION="${STEPER_SLURM_PARTITION:-local}"
ACCOUNT="${STEPER_SLURM_ACCOUNT:-steper}"
STATE="${STEPER_SLURM_STATE:-/var/lib/steper-slurm}"
NICE="${STEPER_SLURM_NICE:-0}"
CLUSTER=steper
DB_PASSWORD=steper-slurmdbd  # the database listens on localhost only
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

log() { printf '[slurm-up] %s\n' "$*" >&2; }

[[ $EUID -eq 0 ]] || { log "run as root (it installs packages and starts system daemons)"; exit 1; }

packages=(slurm-wlm slurmdbd munge mariadb-server)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# A clean start: stop whatever an earlier run of this script left running.
bash "$HERE/slurm-down.sh" --keep-state >/dev/null 2>&1 || true

log "munge"
install -d -o munge -g munge -m 0700 /etc/munge /var/lib/munge /var/log/munge
install -d -o munge -g munge -m 0755 /run/munge
[[ -s /etc/munge/munge.key ]] || mungekey --create --keyfile=/etc/munge/munge.key
chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
runuser -u munge -- /usr/sbin/munged
munge -n | unmunge >/dev/null

log "mariadb"
install -d -o mysql -g mysql /run/mysqld
/etc/init.d/mariadb start >/dev/null
mariadb -u root <<SQL
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$DB_PASSWORD';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
FLUSH PRIVILEGES;
SQL

log "configuration in /etc/slurm (node: $(slurmd -C | head -1))"
install -d -o slurm -g slurm "$STATE" "$STATE/ctld" "$STATE/d" /var/log/slurm /run/slurm
node_line="$(slurmd -C | head -1)"   # NodeName=<host> CPUs=.. Boards=.. ... RealMemory=..
host="$(hostname -s)"
cat >/etc/slurm/slurm.conf <<CONF
# Written by cluster/slurm-up.sh: a one-node cluster for testing the steper SLURM profile.
ClusterName=$CLUSTER
SlurmctldHost=$host
SlurmUser=slurm
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=/run/slurm/slurmctld.pid
SlurmdPidFile=/run/slurm/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
# No cgroups: this may run in a container.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
GresTypes=gpu
# Quick turnover for tests: time limits are checked and killed jobs leave promptly.
KillWait=5
MinJobAge=300
# Accounting: sacct reads slurmdbd; GPUs are a tracked TRES.
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=$host
AccountingStorageTRES=gres/gpu
AccountingStorageEnforce=associations
# The SLURM executor puts the rule and wildcards in the job comment: keep it for sacct.
AccountingStoreFlags=job_comment
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
JobCompType=jobcomp/none
$node_line Gres=gpu:$GPUS State=UNKNOWN
PartitionName=$PARTITION Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
# Slurm 22.05 drops a gpu GRES that has no File= ("Removing file-less GPU"), and wants character
# devices there: each "GPU" is a clone of /dev/null (c 1 3), so requests are scheduled and
# accounted and a job that opens its "device" reads nothing.
install -d "$STATE/gpu"
for ((i = 0; i < GPUS; i++)); do
  [[ -c "$STATE/gpu/nvidia$i" ]] || mknod -m 0666 "$STATE/gpu/nvidia$i" c 1 3
done
cat >/etc/slurm/gres.conf <<CONF
NodeName=$host Name=gpu File=$STATE/gpu/nvidia[0-$((GPUS - 1))]
CONF
cat >/etc/slurm/slurmdbd.conf <<CONF
AuthType=auth/munge
DbdHost=localhost
SlurmUser=slurm
PidFile=/run/slurm/slurmdbd.pid
LogFile=/var/log/slurm/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=$DB_PASSWORD
StorageLoc=slurm_acct_db
CONF
chown slurm:slurm /etc/slurm/slurmdbd.conf && chmod 0600 /etc/slurm/slurmdbd.conf
chmod 0644 /etc/slurm/slurm.conf /etc/slurm/gres.conf

wait_for() {  # wait_for <seconds> <what> <command...>
  local seconds=$1 what=$2; shift 2
  for ((i = 0; i < seconds; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done
  log "$what did not come up in ${seconds}s; see /var/log/slurm/"; return 1
}

log "slurmdbd"
/usr/sbin/slurmdbd
wait_for 60 slurmdbd sacctmgr -n show cluster

sacctmgr -i add cluster "$CLUSTER" >/dev/null 2>&1 || true
sacctmgr -i add account "$ACCOUNT" cluster="$CLUSTER" description="steper tests" >/dev/null 2>&1 || true
for user in root ${SUDO_USER:-}; do
  sacctmgr -i add user "$user" account="$ACCOUNT" cluster="$CLUSTER" >/dev/null 2>&1 || true
done

log "slurmctld, slurmd"
/usr/sbin/slurmctld
wait_for 60 slurmctld scontrol ping
nice -n "$NICE" /usr/sbin/slurmd
wait_for 60 "node $host" bash -c "sinfo -h -N -o %t | grep -q -E '^(idle|mix|alloc)'"

log "up: partition $PARTITION, account $ACCOUNT, $(sinfo -h -N -o '%c CPUs, %m MB, GRES %G')"
srun -p "$PARTITION" -A "$ACCOUNT" --gpus=1 --mem=100 -t 1 true
log "test job with --gpus=1 ran"
