#!/usr/bin/env bash
# make demo: migrate, load the demo data, start a Celery worker and the web server on embedded
# defaults (SQLite under var/, filesystem broker). Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
PORT=${PORT:-8000}
export DEBUG=${DEBUG:-1}
export STATIC_MANIFEST=${STATIC_MANIFEST:-0}

"$PY" manage.py migrate --noinput -v0
"$PY" manage.py load_demo

mkdir -p var/log
# -B: the worker also runs Celery beat (marks silent robots offline, requeues lapsed agent leases).
"$PY" -m celery -A config worker -B --schedule var/celerybeat-schedule --loglevel=INFO --concurrency=2 >var/log/worker.log 2>&1 &
WORKER=$!
"$PY" manage.py runserver "127.0.0.1:$PORT" --noreload >var/log/web.log 2>&1 &
WEB=$!
stop() {
  kill -TERM "$WORKER" "$WEB" 2>/dev/null || true
  # Celery's warm shutdown can take a few seconds; don't leave it behind if it hangs.
  for _ in $(seq 1 50); do kill -0 "$WORKER" 2>/dev/null || break; sleep 0.2; done
  kill -KILL "$WORKER" "$WEB" 2>/dev/null || true
}
trap stop EXIT INT TERM

for _ in $(seq 1 100); do
  if "$PY" -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$PORT/healthz', timeout=1)" 2>/dev/null; then
    break
  fi
  sleep 0.2
done
for _ in $(seq 1 100); do grep -q "ready\." var/log/worker.log && break; sleep 0.2; done
grep -q "ready\." var/log/worker.log || { echo "worker failed to start; see var/log/worker.log"; exit 1; }
echo
echo "TrialBench is running:  http://127.0.0.1:$PORT/"
echo "  worker: pid $WORKER (log var/log/worker.log); web: pid $WEB (log var/log/web.log)"
echo "  log in with one of the demo users above. Ctrl-C stops everything."
wait $WEB
