#!/usr/bin/env bash
# Builds .venv-lerobot: LeRobot 0.4.x with the torch its video decoding works with, apart from .venv
# (torch 2.13.0 only). Tests in tests/lerobot run their LeRobot side in it as a subprocess; without it
# they are skipped. Idempotent: a stamp file records the requirements it was built from.
# torchcodec loads FFmpeg's shared libraries: on Debian (as root) they are installed here.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${LEROBOT_VENV:-.venv-lerobot}
STAMP="$VENV/.installed"
WANT=$(cat requirements-lerobot.txt requirements-lerobot-nodeps.txt | sha256sum | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]; then
  echo "lerobot env: $VENV up to date"
  exit 0
fi
started=$(date +%s)
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && ! ldconfig -p | grep -q libavdevice.so.59; then
  apt-get install -y -qq libavcodec59 libavformat59 libavutil57 libswscale6 libswresample4 libavdevice59 libavfilter8 >/dev/null
fi
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
export PIP_DISABLE_PIP_VERSION_CHECK=1
pip_install() {  # pip's own status, without its warnings about this machine's empty local indexes
  local log; log=$(mktemp)
  if ! "$VENV/bin/pip" install -q "$@" >"$log" 2>&1; then cat "$log"; rm -f "$log"; return 1; fi
  grep -v "^WARNING: Location" "$log" || true; rm -f "$log"
}
# torch first, alone: every later install then finds it satisfied instead of resolving another build.
pip_install "$(grep -E '^torch==' requirements-lerobot.txt)"
pip_install -r requirements-lerobot.txt
pip_install --no-deps -r requirements-lerobot-nodeps.txt
"$VENV/bin/python" -c "import lerobot.datasets.lerobot_dataset, lerobot.policies.act.modeling_act, torchcodec.decoders"
echo "$WANT" > "$STAMP"
echo "lerobot env: built $VENV in $(( $(date +%s) - started )) s ($(du -sh "$VENV" | cut -f1))"
