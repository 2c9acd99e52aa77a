#!/bin/sh
# The layering rules on the sources (tests/e2e/layers.py, docs/architecture.md "Layers"):
# no include or call cycle outside the Vulkan runtime, the numerics and the runtime include no
# service header, `_gpu` files and only they record Vulkan work. Then the same checker on a
# copy with an include cycle, a call cycle, a service include and a misnamed file added, which it must reject.
set -eu
cd "$(dirname "$0")/../.."
python3 tests/e2e/layers.py .

copy=$(mktemp -d)
trap 'rm -rf "$copy"' EXIT
cp -r proto daemon client "$copy"/
expect_rejected() { # what: the checker must fail on the copy and name the problem
  if out=$(python3 tests/e2e/layers.py "$copy"); then
    echo "not rejected: $1"; exit 1
  fi
  echo "$out" | grep -q "$2" || { echo "rejected, but not for $1:"; echo "$out"; exit 1; }
  echo "ok - rejects $1"
}
# A cycle between two numerics modules: rollout_config.h -> rollout_gpu.h -> rollout_config.h.
sed -i 's|#include <stdint.h>|#include <stdint.h>\n#include "rollout_gpu.h"|' "$copy/daemon/num/rollout_config.h"
expect_rejected "an include cycle" "include cycle between .*daemon/num/rollout_config -> daemon/num/rollout_gpu"
cp daemon/num/rollout_config.h "$copy/daemon/num/rollout_config.h"
# A cycle inside the Vulkan runtime is allowed (its files call each other).
sed -i 's|#include "vk.h"|#include "vk.h"\n#include "vk_internal.h"|' "$copy/daemon/gpu/vk.h"
python3 tests/e2e/layers.py "$copy" > /dev/null
cp daemon/gpu/vk.h "$copy/daemon/gpu/vk.h"
echo "ok - allows a cycle inside the Vulkan runtime"
# The context including a part above it (the cycle struct daemon once made with every part).
printf '#include "jobs.h"\n' >> "$copy/daemon/daemon.h"
expect_rejected "the context including a part above it" "include cycle between .*daemon/daemon -> .*daemon/jobs"
cp daemon/daemon.h "$copy/daemon/daemon.h"
# A call cycle without an include cycle: the scheduler calling back up into jobs.c by name
# (the GPU thread's ends reach jobs.c through results.c, never this way).
printf 'void layers_probe(void) { jobs_ended(0, 0); }\n' >> "$copy/daemon/scheduler.c"
expect_rejected "a call cycle" "call cycle between daemon/jobs -> .*daemon/scheduler.*daemon/scheduler.c calls jobs_ended"
cp daemon/scheduler.c "$copy/daemon/scheduler.c"
# The numerics reaching into the service: the event loop, the store.
printf '#include <uv.h>\n' >> "$copy/daemon/num/pcg64.h"
expect_rejected "a numerics file including uv.h" "daemon/num/pcg64.h: includes <uv.h>"
cp daemon/num/pcg64.h "$copy/daemon/num/pcg64.h"
printf '#include "store.h"\n' >> "$copy/daemon/num/lowpass.c"
expect_rejected "a numerics file including store.h" "daemon/num/lowpass.c: includes daemon/store.h"
cp daemon/num/lowpass.c "$copy/daemon/num/lowpass.c"
# The runtime depending on the numerics above it.
printf '#include "closure.h"\n' >> "$copy/daemon/gpu/shaders.c"
expect_rejected "the runtime including a numerics header" "daemon/gpu/shaders.c: includes daemon/num/closure.h"
cp daemon/gpu/shaders.c "$copy/daemon/gpu/shaders.c"
# Device code without the suffix, host code with it.
mv "$copy/daemon/num/closure_gpu.c" "$copy/daemon/num/closure_passes.c"
mv "$copy/daemon/num/closure.c" "$copy/daemon/num/closure_host_gpu.c"
expect_rejected "device code not named _gpu" "daemon/num/closure_passes.c: calls the Vulkan runtime"
expect_rejected "host code named _gpu" "daemon/num/closure_host_gpu.c: named _gpu but records no Vulkan work"
echo "ok - layers"
