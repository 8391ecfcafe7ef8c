#!/usr/bin/env bash
# The main job: install what is missing, build qhil, the example firmware
# and qhil's QEMU, run the example suites (firmware, device tests, and
# U-Boot and OpenSBI from Debian) on real QEMU and show the results.
# Reports land in build/reports/, logs in qhil-results/<suite>/latest/.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
scripts/qemu-build.sh      # qhil's QEMU: our devices + the qtest accelerator
scripts/build.sh build
mkdir -p build/reports

status=0
for suite in examples/hello-mps2.yaml examples/hello-riscv.yaml \
             examples/fault-mps2.yaml examples/devices/*.yaml \
             examples/firmware/*.yaml; do
    name=$(basename "$suite" .yaml)
    site=()
    case $suite in
    examples/firmware/site.yaml) continue ;;
    # Debian's firmware comes from Debian's folders: that site allows them.
    examples/firmware/*) site=(--site examples/firmware/site.yaml) ;;
    esac
    echo
    build/src/qhil run "${site[@]}" --junit "build/reports/$name.xml" \
        --tap="build/reports/$name.tap" "$suite" || status=$?
done
echo
echo "JUnit and TAP reports: build/reports/"
exit $status
