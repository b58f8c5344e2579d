#!/usr/bin/env bash
# Stop the single-node test cluster started by start_slurm.sh and remove its state directory
# (SKELETON_SLURM_DIR, default /tmp/skeleton-steering-slurm). Jobs still queued or running are
# cancelled first. Installed packages are left in place. Safe to run when nothing is running.
#
#   tests/cluster/stop_slurm.sh [--keep-state]   # --keep-state: stop daemons, keep logs/state
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$HERE/common.sh"

keep_state=0
case ${1:-} in
"") ;;
--keep-state) keep_state=1 ;;
*)
    log "usage: $0 [--keep-state]"
    exit 2
    ;;
esac

if [[ ! -e $SLURM_DIR ]]; then
    log "nothing to stop: $SLURM_DIR does not exist"
    exit 0
fi
if [[ ! -e $MARKER ]]; then
    log "ERROR: $SLURM_DIR was not made by start_slurm.sh; leaving it alone"
    exit 1
fi

stop_all_daemons

failed=0
for name in "${DAEMONS[@]}"; do
    if [[ -n $(live_pid "$name") ]]; then
        log "ERROR: $name is still running (pid $(live_pid "$name"))"
        failed=1
    fi
done
[[ $failed -eq 0 ]] || exit 1

if [[ -L $SYSTEM_SLURM_CONF && $(readlink "$SYSTEM_SLURM_CONF") == "$SLURM_DIR"/* ]]; then
    rm -f "$SYSTEM_SLURM_CONF"
    log "removed the link $SYSTEM_SLURM_CONF"
fi

if [[ $keep_state -eq 1 ]]; then
    log "daemons stopped; state kept in $SLURM_DIR"
else
    rm -rf -- "$SLURM_DIR"
    log "daemons stopped; removed $SLURM_DIR"
fi
