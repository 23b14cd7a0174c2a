#!/usr/bin/env bash
# Rehearse the paper DAG on CPU: every rule of config/config.yaml's DAG, with the overlay
# config/rehearsal.yaml (tiny models, no GPU) and the official downloads served from small stand-ins
# in their real formats (cluster/rehearsal/fixtures.py) by `python -m http.server` on 127.0.0.1,
# so the download, checksum and unpacking code runs for real. Afterwards it lists, from
# `snakemake --summary`, each rule of the paper DAG and how many of its outputs exist.
#
#   bash cluster/rehearsal.sh [extra snakemake arguments, e.g. --cores 2]
set -euo pipefail

cd "$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)"
PORT=8765  # the port config/rehearsal*.yaml name
FIXTURES=results/rehearsal-fixtures
CONFIGS=(config/config.yaml config/rehearsal.yaml config/rehearsal-mirror.yaml)
mkdir -p logs/rehearsal

python cluster/rehearsal/fixtures.py --output "$FIXTURES" 2> logs/rehearsal/fixtures.log
python -m http.server "$PORT" --bind 127.0.0.1 --directory "$FIXTURES" > logs/rehearsal/http.log 2>&1 &
server=$!
trap 'kill "$server"' EXIT
for _ in $(seq 50); do
  python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$PORT/sha256.json', timeout=1)" 2>/dev/null && break
  sleep 0.2
done

status=0
start=$SECONDS
snakemake --cores all --keep-going --configfile "${CONFIGS[@]}" "$@" || status=$?
echo "snakemake: exit $status after $((SECONDS - start)) s (log: $(ls -t .snakemake/log/*.snakemake.log | head -1))"
snakemake --configfile "${CONFIGS[@]}" --summary > logs/rehearsal/summary.tsv
snakemake --configfile config/config.yaml -n --forceall --quiet rules > logs/rehearsal/paper-plan.txt
python - logs/rehearsal/summary.tsv logs/rehearsal/paper-plan.txt <<'PY'
import csv, re, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
# the job table is printed twice (before and after the plan): each rule once, in plan order
plan = list(dict.fromkeys(m.group(1) for line in open(sys.argv[2]) if (m := re.fullmatch(r"(\w+)\s+\d+", line.strip())) and m.group(1) not in {"total", "all"}))
done = {}
for row in rows:
    done.setdefault(row["rule"], [0, 0])[row["status"] == "ok"] += 1
print(f"{'paper DAG rule':<24} {'outputs ok':>10} {'missing':>8}")
for rule in plan:
    missing, ok = done.get(rule, [0, 0])
    print(f"{rule:<24} {ok:>10} {missing:>8}")
print("rules of the rehearsal not in the paper DAG:", ", ".join(sorted(set(done) - set(plan))) or "none")
print("paper DAG rules the rehearsal does not run:", ", ".join(rule for rule in plan if rule not in done) or "none")
PY
exit "$status"
