#!/usr/bin/env python3
"""The CI files in examples/ci/ parse and agree with themselves.

usage: check_ci_examples.py EXAMPLES_CI_DIR

Ready-to-copy CI files are only ready if a copy works: each must be YAML,
GitHub's matrix must be exactly the shards 1..SHARDS that its run step
passes to --shard and its merge step names, and GitLab's merge must name
one file per `parallel:` runner.  Each runner also writes the JSON
report and the HTML page from it, keeps them with the JUnit file and
the run folder's logs even when tests failed, and lets qhil's exit
status fail the job.  Exits 77 (skipped) without PyYAML.
"""
import os
import re
import sys

try:
    import yaml
except ImportError:
    print("PyYAML not installed: skipped")
    sys.exit(77)


def fail(msg):
    print("FAILED: " + msg, file=sys.stderr)
    sys.exit(1)


def steps_text(job):
    return "\n".join(s.get("run", "") for s in job["steps"])


def check_github(path):
    doc = yaml.safe_load(open(path))
    # PyYAML reads YAML 1.1, where a bare `on` is true; GitHub reads it
    # as the key "on".
    if not (doc.get("on") or doc.get(True)):
        fail(path + ": no 'on' triggers")
    shards = int(doc["env"]["SHARDS"])
    shard = doc["jobs"]["shard"]
    matrix = shard["strategy"]["matrix"]["shard"]
    if matrix != list(range(1, shards + 1)):
        fail("%s: matrix %r is not 1..SHARDS (%d)" % (path, matrix, shards))
    if shard["strategy"].get("fail-fast", True):
        fail(path + ": fail-fast would cancel shards and cut the report")
    run = steps_text(shard)
    if "--shard ${{ matrix.shard }}/${{ env.SHARDS }}" not in run:
        fail(path + ": the run step does not pass --shard K/SHARDS")
    if "--junit junit-${{ matrix.shard }}.xml" not in run:
        fail(path + ": the run step writes no per-shard JUnit file")
    uploads = [s for s in shard["steps"]
               if s.get("uses", "").startswith("actions/upload-artifact")]
    if not any(s["with"]["path"] == "junit-${{ matrix.shard }}.xml" and
               s.get("if") == "always()" for s in uploads):
        fail(path + ": the JUnit file is not uploaded even on failure")
    if "--json run-${{ matrix.shard }}.json" not in run:
        fail(path + ": the run step writes no JSON report")
    steps = shard["steps"]
    runs = [i for i, s in enumerate(steps) if "qhil run" in s.get("run", "")]
    html = [i for i, s in enumerate(steps)
            if "qhil report html run-${{ matrix.shard }}.json -o "
               "report-${{ matrix.shard }}.html" in s.get("run", "")]
    if len(runs) != 1 or not html or html[0] < runs[0] or \
            steps[html[0]].get("if") != "always()":
        fail(path + ": no HTML report made after the run, even on failure")
    if "||" in run or steps[runs[0]].get("continue-on-error"):
        fail(path + ": a failed test must fail the job")
    kept = [p for s in uploads if s.get("if") == "always()"
            for p in s["with"]["path"].splitlines()]
    for want in ("report-${{ matrix.shard }}.html",
                 "run-${{ matrix.shard }}.json", "results/"):
        if want not in kept:
            fail("%s: %s is not uploaded even on failure" % (path, want))
    report = doc["jobs"]["report"]
    if report.get("needs") != "shard" or report.get("if") != "always()":
        fail(path + ": the report job must follow every shard, always")
    merge = steps_text(report)
    if not re.search(r"qhil report merge -o \S+\s+\$\(seq -f "
                     r"'shards/junit-%g\.xml' 1 \"\$SHARDS\"\)", merge):
        fail(path + ": the merge does not name each shard's file")


def check_gitlab(path):
    doc = yaml.safe_load(open(path))
    job = doc["qhil"]
    n = job["parallel"]
    script = "\n".join(job["script"])
    if '--shard "$CI_NODE_INDEX/$CI_NODE_TOTAL"' not in script:
        fail(path + ": the run does not pass --shard from CI_NODE_*")
    if job["artifacts"].get("when") != "always" or \
            job["artifacts"]["reports"]["junit"] != "junit-*.xml":
        fail(path + ": the shards' JUnit files are not kept on failure")
    if '--json "run-$CI_NODE_INDEX.json"' not in script:
        fail(path + ": the run writes no JSON report")
    if "||" in script or job.get("allow_failure"):
        fail(path + ": a failed test must fail the job")
    after = "\n".join(job.get("after_script", []))
    if 'qhil report html "run-$CI_NODE_INDEX.json" -o ' \
            '"report-$CI_NODE_INDEX.html"' not in after:
        fail(path + ": no HTML report made after the run, even on failure")
    kept = job["artifacts"].get("paths", [])
    for want in ("junit-*.xml", "run-*.json", "report-*.html", "results/"):
        if want not in kept:
            fail("%s: %s is not kept as an artifact" % (path, want))
    report = doc["qhil-report"]
    if report.get("when") != "always" or \
            report["needs"][0]["job"] != "qhil":
        fail(path + ": the report job must follow every shard, always")
    merge = "\n".join(report["script"])
    m = re.search(r"qhil report merge -o \S+ \$\(seq -f 'junit-%g\.xml' "
                  r"1 (\d+)\)", merge)
    if not m or int(m.group(1)) != n:
        fail("%s: the merge does not name one file for each of the %d "
             "runners" % (path, n))
    if "reports" in report.get("artifacts", {}):
        fail(path + ": the merged file as a report counts each test twice")


def main():
    d = sys.argv[1]
    check_github(os.path.join(d, "github-actions.yml"))
    check_gitlab(os.path.join(d, "gitlab-ci.yml"))
    print("ok: CI examples")


main()
