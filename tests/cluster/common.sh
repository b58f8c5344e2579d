# shellcheck shell=bash disable=SC2034  # settings used by the scripts that source this file
# Shared settings for start_slurm.sh and stop_slurm.sh (sourced, not run).
#
# Everything the test cluster writes lives under SKELETON_SLURM_DIR, except the symlink
# /etc/slurm/slurm.conf -> $SKELETON_SLURM_DIR/etc/slurm.conf (see start_slurm.sh). Override
# any of these in the environment before calling the scripts.

SLURM_DIR=${SKELETON_SLURM_DIR:-/tmp/skeleton-steering-slurm}
CLUSTER_NAME=${SKELETON_SLURM_CLUSTER:-skeleton}
PARTITION=${SKELETON_SLURM_PARTITION:-debug}
ACCOUNT=${SKELETON_SLURM_ACCOUNT:-skeleton}
# Four consecutive TCP ports on 127.0.0.1: slurmctld, slurmd, slurmdbd, MariaDB.
PORT_BASE=${SKELETON_SLURM_PORT_BASE:-6817}
START_TIMEOUT=${SKELETON_SLURM_START_TIMEOUT:-120}

CTLD_PORT=$PORT_BASE
SLURMD_PORT=$((PORT_BASE + 1))
DBD_PORT=$((PORT_BASE + 2))
DB_PORT=$((PORT_BASE + 3))

MARKER="$SLURM_DIR/.skeleton-steering-slurm"
ETC="$SLURM_DIR/etc"
RUN="$SLURM_DIR/run"
LOGS="$SLURM_DIR/log"
SLURM_CONF_FILE="$ETC/slurm.conf"
DBD_CONF_FILE="$ETC/slurmdbd.conf"
MUNGE_DIR="$SLURM_DIR/munge"
MUNGE_SOCKET="$MUNGE_DIR/munge.socket.2"
DB_DIR="$SLURM_DIR/mysql"
DB_SOCKET="$DB_DIR/mysqld.sock"
# The one path outside SLURM_DIR: a symlink to our slurm.conf, made only where none exists.
SYSTEM_SLURM_CONF=/etc/slurm/slurm.conf

# daemon name -> pid file, in start order
DAEMONS=(munged mariadbd slurmdbd slurmctld slurmd)
pid_file() { echo "$RUN/$1.pid"; }

log() { printf '[slurm-test-cluster] %s\n' "$*" >&2; }

# Pid from a daemon's pid file if that process is alive and is that daemon, else nothing.
live_pid() {
    local name=$1 file pid
    file=$(pid_file "$name")
    [[ -s $file ]] || return 0
    pid=$(tr -dc '0-9' <"$file")
    [[ -n $pid && -r /proc/$pid/cmdline ]] || return 0
    if tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$name"; then
        echo "$pid"
    fi
}

# Stop one daemon by its pid file: SIGTERM, wait, then SIGKILL.
stop_daemon() {
    local name=$1 pid i
    pid=$(live_pid "$name")
    if [[ -z $pid ]]; then
        rm -f "$(pid_file "$name")"
        return 0
    fi
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        [[ -d /proc/$pid ]] || break
        sleep 0.1
    done
    if [[ -d /proc/$pid ]]; then
        log "$name did not stop in 10 s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.5
    fi
    rm -f "$(pid_file "$name")"
}

# Cancel every job of the test cluster so no slurmstepd outlives the daemons.
cancel_all_jobs() {
    local ids i
    [[ -n $(live_pid slurmctld) ]] || return 0
    ids=$(SLURM_CONF=$SLURM_CONF_FILE squeue -h -o %i 2>/dev/null || true)
    [[ -n $ids ]] || return 0
    log "cancelling jobs: $(echo "$ids" | tr '\n' ' ')"
    # shellcheck disable=SC2086
    SLURM_CONF=$SLURM_CONF_FILE scancel $ids 2>/dev/null || true
    for ((i = 0; i < 45; i++)); do
        [[ -z $(SLURM_CONF=$SLURM_CONF_FILE squeue -h -o %i 2>/dev/null || true) ]] && return 0
        sleep 1
    done
    log "jobs still listed after 45 s: $(SLURM_CONF=$SLURM_CONF_FILE squeue -h -o '%i %T' | tr '\n' ' ')"
}

stop_all_daemons() {
    cancel_all_jobs
    local i
    for ((i = ${#DAEMONS[@]} - 1; i >= 0; i--)); do
        stop_daemon "${DAEMONS[i]}"
    done
}
