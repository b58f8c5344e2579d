#!/usr/bin/env bash
# Start a single-node SLURM cluster on this machine for the workflow's cluster tests.
#
#   eval "$(tests/cluster/start_slurm.sh)"    # starts it (or finds it running) and sets SLURM_CONF
#   tests/cluster/stop_slurm.sh               # stops it and removes its state
#
# Daemons: munged, MariaDB, slurmdbd, slurmctld, slurmd, all started by hand (no systemd), all
# state, logs and configuration under SKELETON_SLURM_DIR (default /tmp/skeleton-steering-slurm),
# plus a symlink /etc/slurm/slurm.conf to its slurm.conf (only where no slurm.conf exists).
# slurmdbd + MariaDB give a real accounting database, so `sacct` (what the Snakemake SLURM
# executor polls for job status) and `sacctmgr` (what it uses to check the account) answer as
# on a production site. Debian's slurm-wlm, slurmdbd, munge and mariadb-server are installed
# with apt-get when missing.
#
# Progress goes to stderr; stdout carries only the `export ...` lines for the cluster's
# environment. Running the script again keeps a healthy cluster as it is.
# Exit codes: 0 ready; 77 prerequisites unavailable (not root, or packages cannot be
# installed); 1 any other failure (the daemon logs' tails are printed).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$HERE/common.sh"

T0=$SECONDS
EXIT_UNAVAILABLE=77

die() {
    log "ERROR: $*"
    local f
    for f in "$LOGS"/*.log; do
        [[ -f $f ]] || continue
        printf '\n----- last lines of %s -----\n' "$f" >&2
        tail -n 25 "$f" >&2
    done
    exit 1
}

unavailable() {
    log "UNAVAILABLE: $*"
    exit "$EXIT_UNAVAILABLE"
}

# ---------------------------------------------------------------------------------------------
# 1. packages

REQUIRED_COMMANDS=(munged mungekey slurmctld slurmd slurmdbd sbatch sacct sacctmgr srun
    mariadbd mariadb-install-db mariadb)
PACKAGES=(slurmctld slurmd slurm-client slurmdbd munge mariadb-server)

install_packages() {
    local missing=() c
    for c in "${REQUIRED_COMMANDS[@]}"; do
        command -v "$c" >/dev/null 2>&1 || missing+=("$c")
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    log "missing commands: ${missing[*]}; installing ${PACKAGES[*]} with apt-get"
    [[ $EUID -eq 0 ]] || unavailable "installing packages needs root (running as $(id -un))"
    command -v apt-get >/dev/null 2>&1 || unavailable "apt-get not found; install ${PACKAGES[*]} by hand"

    # Keep package scripts from starting the system's own munge/MariaDB services: this cluster
    # runs its own instances. A policy-rc.d that already exists is left alone.
    local policy=/usr/sbin/policy-rc.d added_policy=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        added_policy=1
    fi
    local apt_log="$SLURM_DIR/apt.log" ok=0
    mkdir -p "$SLURM_DIR"
    export DEBIAN_FRONTEND=noninteractive
    if apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" >"$apt_log" 2>&1; then
        ok=1
    else
        log "apt-get install failed; running apt-get update and trying again"
        if apt-get update -q >>"$apt_log" 2>&1 &&
            apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" >>"$apt_log" 2>&1; then
            ok=1
        fi
    fi
    [[ $added_policy -eq 1 ]] && rm -f "$policy"
    if [[ $ok -ne 1 ]]; then
        tail -n 20 "$apt_log" >&2
        unavailable "apt-get could not install ${PACKAGES[*]} (log: $apt_log)"
    fi
    for c in "${REQUIRED_COMMANDS[@]}"; do
        command -v "$c" >/dev/null 2>&1 || die "'$c' still missing after installing ${PACKAGES[*]}"
    done
    log "packages installed ($((SECONDS - T0)) s)"
}

# ---------------------------------------------------------------------------------------------
# 2. configuration

NODE_NAME=$(hostname -s)
CPUS=$(nproc)
MEM_TOTAL_MB=$(free -m | awk '/^Mem:/ {print $2}')
# Leave room for the OS and the daemons: 5 % of memory, at least 512 MB.
MEM_MARGIN_MB=$((MEM_TOTAL_MB / 20 > 512 ? MEM_TOTAL_MB / 20 : 512))
REAL_MEMORY_MB=$((MEM_TOTAL_MB - MEM_MARGIN_MB))

write_slurm_conf() {
    cat <<EOF
# Single-node test cluster written by tests/cluster/start_slurm.sh; regenerated on each start.
ClusterName=$CLUSTER_NAME
SlurmctldHost=localhost
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET
CredType=cred/munge
StateSaveLocation=$SLURM_DIR/ctld
SlurmdSpoolDir=$SLURM_DIR/spool/%n
SlurmctldPidFile=$(pid_file slurmctld)
SlurmdPidFile=$(pid_file slurmd)
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MailProg=/bin/true
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# Jobs that ask for no memory get this much per CPU, so two can share the node.
DefMemPerCPU=1024
ReturnToService=2
SlurmdTimeout=120
InactiveLimit=0
# Seconds between SIGTERM and SIGKILL on scancel / time limit: room to write a checkpoint.
KillWait=30
# Finished jobs stay visible to squeue/scontrol this long (sacct keeps them for good).
MinJobAge=300
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=$DBD_PORT
# For slurmdbd connections this names the munge socket (the default is the system's).
AccountingStoragePass=$MUNGE_SOCKET
# Keep sbatch --comment (the executor writes rule and wildcards there) for sacct.
AccountingStoreFlags=job_comment
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
JobCompType=jobcomp/none
NodeName=$NODE_NAME NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$REAL_MEMORY_MB State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE_NAME Default=YES MaxTime=INFINITE State=UP
EOF
}

write_dbd_conf() {
    cat <<EOF
# Accounting daemon of the test cluster, written by tests/cluster/start_slurm.sh.
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET
DbdHost=localhost
DbdPort=$DBD_PORT
SlurmUser=root
LogFile=$LOGS/slurmdbd.log
PidFile=$(pid_file slurmdbd)
DebugLevel=info
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=$(cat "$ETC/db.pass")
StorageLoc=slurm_acct_db
EOF
}

# Write the configuration; print "changed" when it differs from what is on disk.
prepare_config() {
    mkdir -p "$ETC" "$RUN" "$LOGS" "$SLURM_DIR/ctld" "$SLURM_DIR/spool"
    touch "$MARKER"
    if [[ ! -s $ETC/db.pass ]]; then
        (umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$ETC/db.pass")
    fi
    local changed=0 new
    new=$(write_slurm_conf)
    if [[ ! -f $SLURM_CONF_FILE ]] || [[ $new != "$(cat "$SLURM_CONF_FILE")" ]]; then
        printf '%s\n' "$new" >"$SLURM_CONF_FILE"
        changed=1
    fi
    new=$(write_dbd_conf)
    if [[ ! -f $DBD_CONF_FILE ]] || [[ $new != "$(cat "$DBD_CONF_FILE")" ]]; then
        (umask 077 && printf '%s\n' "$new" >"$DBD_CONF_FILE")
        changed=1
    fi
    chmod 600 "$DBD_CONF_FILE"
    [[ $changed -eq 1 ]] && echo changed
    return 0
}

# SLURM's commands find the configuration through SLURM_CONF or at /etc/slurm/slurm.conf. The
# Snakemake SLURM job step drops every SLURM_* variable (SLURM_CONF included) before its inner
# `srun`, so that `srun` needs the default path, as on a site cluster: link it to ours. A
# slurm.conf there that is not this cluster's link is never touched.
link_system_conf() {
    local target
    if [[ -L $SYSTEM_SLURM_CONF ]]; then
        target=$(readlink "$SYSTEM_SLURM_CONF")
        [[ $target == "$SLURM_CONF_FILE" ]] && return 0
        [[ $target == "$SLURM_DIR"/* ]] || die "$SYSTEM_SLURM_CONF links to $target," \
            "not to this test cluster; remove it or run on a machine without SLURM"
    elif [[ -e $SYSTEM_SLURM_CONF ]]; then
        die "$SYSTEM_SLURM_CONF already exists (a site SLURM configuration?); this test" \
            "cluster will not replace it. Run it on a machine without a SLURM setup."
    fi
    mkdir -p "$(dirname "$SYSTEM_SLURM_CONF")"
    ln -sfn "$SLURM_CONF_FILE" "$SYSTEM_SLURM_CONF"
    log "linked $SYSTEM_SLURM_CONF -> $SLURM_CONF_FILE"
}

# ---------------------------------------------------------------------------------------------
# 3. daemons

# Start a command detached from this shell (own session, stdio to its log), so callers that
# capture this script's output never wait on a daemon.
spawn() {
    local name=$1
    shift
    setsid "$@" </dev/null >>"$LOGS/$name.stdout" 2>&1 &
}

# wait_for WHAT SECONDS CMD...: retry CMD (each try limited to 10 s) until it succeeds.
wait_for() {
    local what=$1 timeout=$2
    shift 2
    local deadline=$((SECONDS + timeout))
    while ((SECONDS < deadline)); do
        if timeout 10 "$@" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.5
    done
    die "$what not ready after $timeout s"
}

start_munged() {
    [[ -n $(live_pid munged) ]] && return 0
    mkdir -p "$MUNGE_DIR"
    # Other users reach the socket through this directory; the key itself stays 0600.
    chmod 755 "$MUNGE_DIR"
    if [[ ! -s $MUNGE_DIR/munge.key ]]; then
        mungekey --create --keyfile="$MUNGE_DIR/munge.key" >/dev/null 2>&1 ||
            die "mungekey could not create $MUNGE_DIR/munge.key"
        chmod 600 "$MUNGE_DIR/munge.key"
    fi
    rm -f "$MUNGE_SOCKET"
    log "starting munged"
    # --force: munged runs as root here, which it otherwise refuses.
    spawn munged munged --force --key-file="$MUNGE_DIR/munge.key" --socket="$MUNGE_SOCKET" \
        --pid-file="$(pid_file munged)" --log-file="$LOGS/munged.log" \
        --seed-file="$MUNGE_DIR/munged.seed"
    wait_for munged 20 bash -c "munge -n -S '$MUNGE_SOCKET' | unmunge -S '$MUNGE_SOCKET'"
}

db() { mariadb --no-defaults --socket="$DB_SOCKET" -u root "$@"; }

start_mariadb() {
    [[ -n $(live_pid mariadbd) ]] && return 0
    mkdir -p "$DB_DIR"
    if [[ ! -d $DB_DIR/data/mysql ]]; then
        log "initialising the MariaDB data directory"
        mariadb-install-db --no-defaults --user=root --datadir="$DB_DIR/data" \
            --auth-root-authentication-method=socket --skip-test-db \
            >"$LOGS/mariadb-install.log" 2>&1 || die "mariadb-install-db failed"
    fi
    log "starting MariaDB on 127.0.0.1:$DB_PORT"
    # Small buffers keep it light; buffer pool and lock wait timeout as slurmdbd recommends.
    spawn mariadbd mariadbd --no-defaults --user=root --datadir="$DB_DIR/data" \
        --socket="$DB_SOCKET" --port="$DB_PORT" --bind-address=127.0.0.1 --skip-name-resolve \
        --pid-file="$(pid_file mariadbd)" --log-error="$LOGS/mariadbd.log" \
        --innodb-buffer-pool-size=128M --innodb-log-file-size=64M \
        --innodb-lock-wait-timeout=900 --performance-schema=OFF --max-connections=50
    wait_for MariaDB 60 mariadb --no-defaults --socket="$DB_SOCKET" -u root -e 'SELECT 1'
    local pass
    pass=$(cat "$ETC/db.pass")
    db -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
           CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$pass';
           ALTER USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$pass';
           GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';" ||
        die "could not create the slurm database user"
}

start_slurmdbd() {
    [[ -n $(live_pid slurmdbd) ]] && return 0
    log "starting slurmdbd on port $DBD_PORT"
    # slurmdbd reads slurmdbd.conf from the directory of SLURM_CONF.
    SLURM_CONF=$SLURM_CONF_FILE spawn slurmdbd slurmdbd
    wait_for slurmdbd 60 sacctmgr -n list cluster
}

# Accounting records: the cluster, one account, and the submitting users in it, so that
# `sacctmgr list user $USER` (the executor's account check) answers.
register_accounting() {
    if [[ -z $(timeout 30 sacctmgr -n -P list cluster "$CLUSTER_NAME" format=cluster) ]]; then
        timeout 30 sacctmgr -i add cluster "$CLUSTER_NAME" >/dev/null || die "sacctmgr add cluster failed"
    fi
    if [[ -z $(timeout 30 sacctmgr -n -P list account "$ACCOUNT" format=account) ]]; then
        timeout 30 sacctmgr -i add account "$ACCOUNT" Cluster="$CLUSTER_NAME" \
            Description="SkeletonSteering test account" Organization=skeleton-steering \
            >/dev/null || die "sacctmgr add account failed"
    fi
    local users=(root) u
    [[ -n ${SUDO_USER:-} && ${SUDO_USER} != root ]] && users+=("$SUDO_USER")
    for u in "${users[@]}"; do
        if [[ -z $(timeout 30 sacctmgr -n -P list assoc user="$u" account="$ACCOUNT" format=user) ]]; then
            timeout 30 sacctmgr -i add user "$u" Account="$ACCOUNT" Cluster="$CLUSTER_NAME" \
                >/dev/null || die "sacctmgr add user $u failed"
        fi
        if [[ $(timeout 30 sacctmgr -n -P list user "$u" format=defaultaccount) != "$ACCOUNT" ]]; then
            timeout 30 sacctmgr -i modify user "$u" set DefaultAccount="$ACCOUNT" >/dev/null ||
                die "sacctmgr could not set the default account of $u"
        fi
    done
}

start_slurmctld() {
    [[ -n $(live_pid slurmctld) ]] && return 0
    log "starting slurmctld on port $CTLD_PORT"
    spawn slurmctld slurmctld -f "$SLURM_CONF_FILE"
    wait_for slurmctld 60 scontrol ping
}

start_slurmd() {
    [[ -n $(live_pid slurmd) ]] && return 0
    log "starting slurmd ($NODE_NAME: $CPUS CPUs, RealMemory=$REAL_MEMORY_MB MB)"
    spawn slurmd slurmd -f "$SLURM_CONF_FILE" -N "$NODE_NAME"
}

node_state() { timeout 10 sinfo -h -N -n "$NODE_NAME" -o %t 2>/dev/null | head -n 1; }

wait_node_idle() {
    local state="" deadline=$((SECONDS + START_TIMEOUT))
    while ((SECONDS < deadline)); do
        state=$(node_state || true)
        case $state in
        idle | mix | alloc) return 0 ;;
        down | drain | fail | down\* | drain\* | fail\*)
            # ReturnToService=2 brings a registered node back; resume it if it sits down anyway.
            timeout 10 scontrol update NodeName="$NODE_NAME" State=RESUME >/dev/null 2>&1 || true
            ;;
        esac
        sleep 0.5
    done
    die "node $NODE_NAME not idle after $START_TIMEOUT s (state: '${state:-none}');" \
        "scontrol says: $(timeout 10 scontrol show node "$NODE_NAME" 2>&1 | grep -E 'State|Reason' | tr -s ' ')"
}

# The controller registers with slurmdbd a moment after it starts; sacct answers after that.
wait_accounting() {
    wait_for "slurmctld registration with slurmdbd" 60 \
        bash -c "sacctmgr -n -P list cluster '$CLUSTER_NAME' format=controlhost | grep -q ."
    wait_for sacct 30 sacct -n -X --starttime now-1minutes
}

healthy() {
    local name
    for name in "${DAEMONS[@]}"; do
        [[ -n $(live_pid "$name") ]] || return 1
    done
    [[ $(node_state) =~ ^(idle|mix|alloc)$ ]] || return 1
    timeout 10 sacct -n -X --starttime now-1minutes >/dev/null 2>&1
}

print_env() {
    cat <<EOF
export SLURM_CONF=$SLURM_CONF_FILE
export USER=${USER:-$(id -un)}
EOF
}

# ---------------------------------------------------------------------------------------------

main() {
    if [[ $EUID -ne 0 ]]; then
        unavailable "the test cluster runs its daemons as root; running as $(id -un)"
    fi
    if [[ -e $SLURM_DIR && ! -e $MARKER && -n $(ls -A "$SLURM_DIR" 2>/dev/null) ]]; then
        die "$SLURM_DIR exists and was not made by this script; set SKELETON_SLURM_DIR"
    fi
    install_packages
    export SLURM_CONF=$SLURM_CONF_FILE

    local changed
    changed=$(prepare_config)
    link_system_conf
    if [[ $changed == changed ]]; then
        local running=0 name
        for name in "${DAEMONS[@]}"; do
            [[ -n $(live_pid "$name") ]] && running=1
        done
        if [[ $running -eq 1 ]]; then
            log "configuration changed; restarting the cluster"
            stop_all_daemons
        fi
    elif healthy; then
        log "cluster already running and healthy ($SLURM_DIR)"
        print_env
        return 0
    fi

    start_munged
    start_mariadb
    start_slurmdbd
    register_accounting
    start_slurmctld
    start_slurmd
    wait_node_idle
    wait_accounting
    log "cluster '$CLUSTER_NAME' ready in $((SECONDS - T0)) s: $(sinfo --version)," \
        "node $NODE_NAME ($CPUS CPUs, ${REAL_MEMORY_MB} MB), partition '$PARTITION'," \
        "account '$ACCOUNT'; state and logs in $SLURM_DIR"
    print_env
}

main "$@"
