#!/usr/bin/env bash
# The SLURM profile against a live Slurm: brings up the one-node cluster (cluster/slurm-up.sh) if
# none answers, then runs tests/test_cluster_slurm.py in a fresh clone of this repository's HEAD
# (every Slurm job re-reads the workflow, so the files must not change under a running test):
#   the smoke DAG through profiles/slurm, every rule a Slurm job, outputs equal to a local run;
#   each job's CPUs, memory, time limit and GPUs in sacct equal to the config's resources;
#   teacher shards as parallel jobs, merged; a teacher job killed at its time limit, retried,
#   resuming from its .partial file.
#
#   sudo bash cluster/test-slurm.sh            # with the project's Python environment active
#   STEPER_SLURM_DOWN=1 ...                    # tear the cluster down afterwards
# Needs root for the cluster (apt-get, daemons). About 20 minutes on 2 busy cores; not part of CI.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(git -C "$HERE/.." rev-parse --show-toplevel)"
PYTHON="${PYTHON:-python3}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/steper-slurm-test.XXXXXX")"

"$PYTHON" -c "import snakemake_executor_plugin_slurm, steper" 2>/dev/null || {
  echo "test-slurm: $PYTHON lacks steper or the SLURM executor: pip install -e '.[test,cluster]'" >&2; exit 1; }
if ! scontrol ping 2>/dev/null | grep -q UP; then
  STEPER_SLURM_NICE="${STEPER_SLURM_NICE:-10}" bash "$HERE/slurm-up.sh"
fi

git clone -q "$REPO" "$WORK/steper"
cd "$WORK/steper"
echo "test-slurm: testing $(git rev-parse --short HEAD) in $WORK/steper" >&2
status=0
# PYTHONPATH: the clone's package, not the editable install's checkout, runs inside every job.
STEPER_SLURM_TEST=1 PYTHONPATH="$WORK/steper" "$PYTHON" -m pytest tests/test_cluster_slurm.py -m slurm -v -p no:cacheprovider || status=$?
if [[ -n "${STEPER_SLURM_DOWN:-}" ]]; then
  bash "$HERE/slurm-down.sh"
fi
exit "$status"
