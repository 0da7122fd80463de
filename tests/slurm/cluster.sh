#!/usr/bin/env bash
# A real single-node SLURM cluster with accounting (munge, MariaDB, slurmdbd, slurmctld,
# slurmd) for `make test-slurm`, following the recipe in docs/cluster.md ("A one-node test cluster").
#   tests/slurm/cluster.sh install   # Debian packages (root)
#   tests/slurm/cluster.sh up        # start every daemon; PIDs under $STATE
#   tests/slurm/cluster.sh down      # stop every daemon this script started, by PID
set -euo pipefail
STATE=${TIS_SLURM_STATE:-/tmp/tis-slurm}
CLUSTER=tis
PACKAGES="munge slurmctld slurmd slurm-client slurmdbd mariadb-server"

log() { echo "[cluster] $*"; }

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local seconds=$1 what=$2; shift 2
  for _ in $(seq "$((seconds * 2))"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
  log "timed out waiting for $what"; return 1
}

install() {
  local missing=()
  for package in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && { log "packages present"; return; }
  [ "$(id -u)" = 0 ] || { log "run as root to install: ${missing[*]}"; exit 1; }
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

write_configs() {
  local node; node=$(slurmd -C | head -1)
  mkdir -p /etc/slurm "$STATE"/{spool,state,log}
  cat > /etc/slurm/slurm.conf <<CONF
ClusterName=$CLUSTER
SlurmctldHost=$(hostname -s)
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=512
ReturnToService=2
MpiDefault=none
StateSaveLocation=$STATE/state
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
JobAcctGatherType=jobacct_gather/linux
AccountingStoreFlags=job_comment
$node State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
  cat > /etc/slurm/slurmdbd.conf <<CONF
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
PidFile=$STATE/slurmdbd.pid
LogFile=$STATE/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StorageUser=slurm
StoragePass=tis-slurm-test
StorageLoc=slurm_acct_db
CONF
  chmod 600 /etc/slurm/slurmdbd.conf
}

up() {
  install
  write_configs
  mkdir -p /run/munge /run/mysqld && chown munge:munge /run/munge && chown mysql:mysql /run/mysqld
  log "munge"
  runuser -u munge -- munged --force --pid-file=/run/munge/tis-test.pid
  wait_for 10 munged test -s /run/munge/tis-test.pid
  cp /run/munge/tis-test.pid "$STATE/munged.pid"  # munged (user munge) cannot write in $STATE
  log "mariadb"
  setsid mariadbd --user=mysql --bind-address=127.0.0.1 --pid-file=/run/mysqld/tis-test.pid \
    >"$STATE/log/mariadbd.log" 2>&1 < /dev/null &
  wait_for 60 mariadb mariadb -e "select 1"
  cp /run/mysqld/tis-test.pid "$STATE/mariadbd.pid"  # mariadbd (user mysql) cannot write in $STATE
  mariadb -e "create database if not exists slurm_acct_db;
    create user if not exists 'slurm'@'127.0.0.1' identified by 'tis-slurm-test';
    create user if not exists 'slurm'@'localhost' identified by 'tis-slurm-test';
    grant all on slurm_acct_db.* to 'slurm'@'127.0.0.1';
    grant all on slurm_acct_db.* to 'slurm'@'localhost';"
  log "slurmdbd"
  slurmdbd
  wait_for 60 slurmdbd sacctmgr -n list cluster
  sacctmgr -i add cluster "$CLUSTER" >/dev/null || true
  sacctmgr -i add account tis Cluster="$CLUSTER" Description=tests Organization=tis >/dev/null || true
  sacctmgr -i add user root Account=tis >/dev/null || true
  log "slurmctld and slurmd"
  slurmctld
  slurmd
  wait_for 60 "an idle node" bash -c 'sinfo -h -o %t | grep -qx idle'
  sinfo
}

down() {
  for daemon in slurmd slurmctld slurmdbd mariadbd munged; do
    local pidfile="$STATE/$daemon.pid"
    [ -f "$pidfile" ] || continue
    local pid; pid=$(cat "$pidfile")
    if [ -n "$pid" ] && kill "$pid" 2>/dev/null; then
      log "stopped $daemon ($pid)"
      for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    fi
    rm -f "$pidfile"
  done
}

"${1:?usage: cluster.sh install|up|down}"
