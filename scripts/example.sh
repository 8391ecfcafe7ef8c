#!/usr/bin/env bash
# The main job: install what is missing, build qhil, the example firmware
# and qhil's QEMU, run the example suites (firmware, device tests, and
# U-Boot and OpenSBI from Debian) on real QEMU, run the fault suite as
# LAVA jobs under lava-run, and show the results.
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

# The same firmware as LAVA jobs, run by LAVA's own dispatcher: one job
# per test of the fault suite, with the device configuration lava-run
# takes (docs/lava.md).  lava-run needs root for its work folder.
echo
rm -rf build/lava
build/src/qhil lava export --per-test --device-config -o build/lava \
    examples/fault-mps2.yaml
if [ "$(id -u)" -eq 0 ]; then
    for job in build/lava/fault-mps2-*.yaml; do
        name=$(basename "$job" .yaml)
        lava-run --job-id "$name" --output-dir "build/lava/$name" \
            --device build/lava/fault-mps2.device.yaml "$job" \
            >"build/lava/$name.log" 2>&1 || status=$?
        result=$(grep -o '"case": "0_[^}]*"result": "[a-z]*"' \
            "build/lava/$name.log" | sed 's/.*"result": "//; s/"$//')
        echo "lava-run $name: ${result:-no result} (log: build/lava/$name.log)"
        [ "$result" = pass ] || status=1
    done
else
    echo "lava-run skipped: it needs root (its work folder)"
fi
echo
echo "JUnit and TAP reports: build/reports/; LAVA jobs: build/lava/"
exit $status
