#!/usr/bin/python3
# Check LAVA job files with LAVA's own schema code (lava-common), in strict
# mode, and compile every pattern the way pexpect does (re.DOTALL), so a
# qhil pattern Python's re cannot take is caught here and not in the lab.
# Run with Debian's python3, where lava_common is installed.
#
# usage: check-jobs.py JOB.yaml...   prints "ok FILE" per job; exit 1 on
# the first job that does not validate.
import re
import sys

import yaml
from lava_common.schemas import validate


def patterns(job):
    for action in job["actions"]:
        test = action.get("test")
        if not test:
            continue
        for entry in test.get("interactive", []):
            yield from entry["prompts"]
            for item in entry["script"]:
                for key in ("successes", "failures"):
                    for p in item.get(key, []):
                        yield p["message"]


def main(paths):
    if not paths:
        print("usage: check-jobs.py JOB.yaml...", file=sys.stderr)
        return 2
    for path in paths:
        try:
            with open(path, encoding="utf-8") as f:
                job = yaml.safe_load(f)
            validate(job, strict=True)
            for p in patterns(job):
                re.compile(p, re.DOTALL)
        except Exception as exc:  # report any failure as the job's
            print("FAIL %s: %s: %s" % (path, type(exc).__name__, exc))
            return 1
        print("ok %s" % path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
