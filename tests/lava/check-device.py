#!/usr/bin/python3
# Check a device configuration written by `qhil lava export
# --device-config` against LAVA's own code: it must pass lava-common's
# device schema, and for each job, QEMU's command line in it (command,
# options, extra) must be what LAVA's qemu device type template renders
# for that job's context with the device dictionary
# "{% extends 'qemu.jinja2' %}", as lava-server renders it (jinja2 with
# trim_blocks, the job's context as the template's variables).
# Run with Debian's python3 (lava-common, jinja2).
#
# usage: check-device.py TEMPLATES-DIR DEVICE.yaml JOB.yaml...
#   prints "ok JOB" per job; exit 1 on the first difference.
#        check-device.py --render TEMPLATES-DIR JOB.yaml
#   prints LAVA's own rendering for the job (a device configuration
#   lava-run takes too).
import sys

import jinja2
import yaml
from lava_common.schemas import device as device_schema

DICTIONARY = "{% extends 'qemu.jinja2' %}\n"


def render(templates, context):
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([templates]),
        trim_blocks=True,
        autoescape=False,
    )
    return yaml.safe_load(env.from_string(DICTIONARY).render(**context))


def qemu_line(config):
    p = config["actions"]["boot"]["methods"]["qemu"]["parameters"]
    return [str(p["command"]).strip()] + list(p["options"]) + [
        str(x) for x in p.get("extra", [])
    ]


def main(argv):
    if len(argv) == 3 and argv[0] == "--render":
        with open(argv[2]) as f:
            context = yaml.safe_load(f).get("context", {})
        print(yaml.safe_dump(render(argv[1], context)))
        return 0
    if len(argv) < 3:
        print(__doc__ or "usage: check-device.py TEMPLATES DEVICE JOB...")
        return 2
    templates, device_path, jobs = argv[0], argv[1], argv[2:]
    with open(device_path) as f:
        ours = yaml.safe_load(f)
    try:
        device_schema.validate(ours)
    except Exception as e:
        print("%s: LAVA's device schema: %s" % (device_path, e))
        return 1
    for path in jobs:
        with open(path) as f:
            job = yaml.safe_load(f)
        context = job.get("context", {})
        lava = render(templates, context)
        if context.get("arch") not in ours["available_architectures"]:
            print("%s: arch %s not available in %s" % (
                path, context.get("arch"), device_path))
            return 1
        if qemu_line(ours) != qemu_line(lava):
            print("%s: QEMU's command line differs from LAVA's rendering\n"
                  "  ours: %s\n  LAVA: %s" % (path, qemu_line(ours),
                                             qemu_line(lava)))
            return 1
        print("ok %s" % path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
