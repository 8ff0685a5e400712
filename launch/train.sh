#!/usr/bin/env bash
# The default training job (`make train`): 4 ranks emulating 2 nodes x 2 ranks on this host.
# Usage: launch/train.sh [BUILD_DIR] [extra switchyard arguments...]
set -euo pipefail
build=${1:-build}
shift || true
config=examples/configs/default.pbtxt
bin="$build/launch/switchyard"

"$bin" config validate "$config" --world-size 4 "$@"
echo
echo "switchyard: the trainer is not built yet (issue: 'Trainer and the main job')."
echo "The default config above is valid; 'make train' will run it on 4 ranks once the trainer lands."
