/*
 * test_policy.c - the allowlist policy: one table of cases (QEMU option
 * words, machine and cpu values, memory sizes, QMP commands, HMP lines),
 * each allowed or refused with the given reason, run on the built-in
 * strict policy; the shipped site/strict-policy.yaml held to the very
 * same answers; the one message format; load errors located at
 * FILE:LINE:COLUMN; a site policy on top of the strict one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "internal.h"
#include "policy.h"
#include "testutil.h"
#include "yamlutil.h"

#define STRICT_FILE QHIL_TEST_SRCDIR "/../../site/strict-policy.yaml"

enum { OPTS, MACHINE, CPU, MEM, QMP, HMP };

/* in: the words (OPTS) or the one value; expect: NULL when allowed,
 * else a part of the refusal; mib: the size a MEM case gives. */
typedef struct pcase {
    int kind;
    const char *in[6];
    const char *expect;
    unsigned long long mib;
} pcase;

/* clang-format off */
#define OK NULL
#define O(e, ...) {OPTS, {__VA_ARGS__}, e, 0}
#define MA(e, v) {MACHINE, {v}, e, 0}
#define CP(e, v) {CPU, {v}, e, 0}
#define ME(e, v, m) {MEM, {v}, e, m}
#define Q(e, v) {QMP, {v}, e, 0}
#define H(e, v) {HMP, {v}, e, 0}
/* clang-format on */

#define NOPT "is not allowed by the strict policy: allowed options: -smp, "
#define NQMP "is not allowed by the strict policy: allowed QMP commands: "
#define NHMP "is not allowed by the strict policy: allowed HMP commands: "

static const pcase cases[] = {
    /* Options the strict policy allows. */
    O(OK, "-smp", "2"),
    O(OK, "--smp", "cpus=2,cores=2"),
    O(OK, "-icount", "3"),
    O(OK, "-icount", "shift=auto,align=off,sleep=on"),
    O(OK, "-no-reboot", "--no-shutdown"),
    O(OK, "-rtc", "base=utc,clock=vm"),
    O(OK, "-rtc", "base=2006-06-17T16:01:21,driftfix=slew"),
    O(OK, "-global", "virtio-rng-device.period=1000"),
    O(OK, "-global", "driver=virtio-rng-device,property=period,value=1000"),
    O(OK, "-global", "cortex-a57-arm-cpu.pmu=off"),
    O(OK, "-device", "loader,addr=0x1000,data=0x12,data-len=4"),
    O(OK, "-device", "driver=loader,addr=0,cpu-num=0"),
    O(OK, "-device", "loader,addr=0x1000,data-be"),
    O(OK, "-device", "loader,addr=0x1000,nodata-be"),
    O(OK, "-device", "tmp105,address=0x48,bus=i2c-bus.0,id=t0"),
    O(OK, "-device", "virtio-rng-device"),
    O(OK, "-device", "virtio-balloon-pci,addr=04.0,deflate-on-oom=on"),
    O(OK, "-device", "virtio-blk-device,drive=lavatest"),
    O(OK, "-device", "driver=virtio-blk-device,drive=disk0,id=vd0"),
    O(OK, "-device", "virtio-blk-pci,drive=lavatest,addr=05.0"),
    O(OK, "-device", "virtio-blk-pci,drive=Q.h_i-l"),
    O(OK, "-d", "guest_errors,unimp"),
    O(OK, "-boot", "cn,menu=off"),
    O(OK, "-name", "guest1,debug-threads=on"),
    O(OK, "-action", "reboot=shutdown,panic=exit-failure"),
    O(OK, "-watchdog-action", "pause"),
    O(OK, "-smp", "2", "-icount", "auto", "-no-reboot"),

    /* Every option of the attack corpus is refused by name. */
    O("'-incoming' " NOPT, "-incoming", "exec:touch /tmp/x"),
    O("'--incoming' " NOPT, "--incoming", "defer"),
    O("'-netdev' " NOPT, "-netdev", "tap,id=n,script=/tmp/evil.sh"),
    O("'-nic' " NOPT, "-nic", "user"),
    O("'-chardev' " NOPT, "-chardev", "file,id=c,path=/tmp/x"),
    O("'-drive' " NOPT, "-drive", "file=/etc/passwd"),
    O("'-blockdev' " NOPT, "-blockdev", "driver=file,filename=/etc/passwd"),
    O("'-cdrom' " NOPT, "-cdrom", "/etc/passwd"),
    O("'-hda' " NOPT, "-hda", "/etc/passwd"),
    O("'-option-rom' " NOPT, "-option-rom", "/etc/passwd"),
    O("'-D' " NOPT, "-D", "/tmp/log"),
    O("'-trace' " NOPT, "-trace", "events=/etc/passwd"),
    O("'-parallel' " NOPT, "-parallel", "file:/tmp/x"),
    O("'-serial' " NOPT, "-serial", "file:/tmp/x"),
    O("'-monitor' " NOPT, "-monitor", "stdio"),
    O("'-qmp' " NOPT, "-qmp", "unix:/tmp/q,server"),
    O("'-dump-vmstate' " NOPT, "-dump-vmstate", "/tmp/x"),
    O("'-vnc' " NOPT, "-vnc", "unix:/tmp/v"),
    O("'-display' " NOPT, "-display", "gtk"),
    O("'-sandbox' " NOPT, "-sandbox", "off"),
    O("'-L' " NOPT, "-L", "/tmp"),
    O("'-chroot' " NOPT, "-chroot", "/tmp"),
    O("'-runas' " NOPT, "-runas", "root"),
    O("'-plugin' " NOPT, "-plugin", "/tmp/p.so"),
    O("'-semihosting' " NOPT, "-semihosting"),
    O("'-semihosting-config' " NOPT, "-semihosting-config", "enable=on"),
    O("'-loadvm' " NOPT, "-loadvm", "s"),
    O("'-mem-path' " NOPT, "-mem-path", "/tmp"),
    O("'-readconfig' " NOPT, "-readconfig", "/etc/passwd"),
    O("'-writeconfig' " NOPT, "-writeconfig", "/tmp/x"),
    O("'-object' " NOPT, "-object", "memory-backend-file,id=m,mem-path=/x"),
    O("'-accel' " NOPT, "-accel", "kvm"),
    O("'-enable-kvm' " NOPT, "-enable-kvm"),
    O("'-add-fd' " NOPT, "-add-fd", "fd=3,set=1"),
    O("'-fsdev' " NOPT, "-fsdev", "local,id=f,path=/"),
    O("'-virtfs' " NOPT, "-virtfs", "local,path=/,mount_tag=h"),
    O("'-tpmdev' " NOPT, "-tpmdev", "passthrough,id=t,path=/dev/tpm0"),
    O("'-audiodev' " NOPT, "-audiodev", "wav,id=a,path=/tmp/x"),
    O("'-spice' " NOPT, "-spice", "unix=on,addr=/tmp/s"),
    O("'-pidfile' " NOPT, "-pidfile", "/tmp/pid"),
    O("'-daemonize' " NOPT, "-daemonize"),
    O("'-kernel' " NOPT, "-kernel", "/etc/passwd"),
    O("'-m' " NOPT, "-m", "64G"),
    O("'-gdb' " NOPT, "-gdb", "tcp::1234"),
    O("'-smp=2' " NOPT, "-smp=2"),
    O("'---smp' " NOPT, "---smp", "2"),
    O("'-' " NOPT, "-"),
    O("'-incoming' " NOPT, "-smp", "2", "-incoming", "defer"),

    /* Words out of place. */
    O("'/etc/passwd' is not allowed by the strict policy: a word in option "
      "position that is not an option is a disk image to QEMU",
      "/etc/passwd"),
    O("'x' is not allowed by the strict policy: a word in option position",
      "-no-reboot", "x"),
    O("'' is not allowed by the strict policy: an empty word is not an "
      "option",
      ""),
    O("'-smp' is not allowed by the strict policy: -smp takes an argument "
      "and none follows",
      "-smp"),
    O("'-icount -incoming' is not allowed by the strict policy: value "
      "'-incoming' of sub-option 'shift' does not match",
      "-icount", "-incoming"),

    /* Comma tricks and QemuOpts forms. */
    O("model 'loader,file=x' is not allowed; allowed models of -device: "
      "loader, tmp105",
      "-device", "loader,,file=x"),
    O("'-device loader,file=/etc/passwd' is not allowed by the strict "
      "policy: sub-option 'file' is not allowed; allowed sub-options of "
      "-device loader: addr, data, data-len, data-be, cpu-num, id, bus",
      "-device", "loader,file=/etc/passwd"),
    O("sub-option 'file' is not allowed", "-device", "loader,addr=0,file=/x"),
    O("sub-option 'file' is not allowed", "-device", "loader,nofile"),
    O("sub-option 'file' is not allowed", "-device",
      "driver=loader,file=/etc/passwd"),
    O("sub-option 'force-raw' is not allowed", "-device",
      "loader,addr=0,force-raw=on"),
    O("sub-option 'rr' is not allowed; allowed sub-options of -icount: "
      "shift, align, sleep",
      "-icount", "3,rr=record,rrfile=/x"),
    O("sub-option 'rr' is not allowed", "-icount", "3,norr"),
    O("value '2,3' of sub-option 'cpus' does not match", "-smp", "2,,3"),
    O("sub-option 'cpus' is given twice", "-smp", "cpus=2,cpus=4"),
    O("sub-option 'cpus' is given twice", "-smp", "2,cpus=4"),
    O("sub-option 'addr' is given twice", "-device",
      "loader,addr=0x1000,addr=0x2000"),
    O("sub-option 'clock' is given twice", "-rtc", "clock=vm,clock=host"),
    O("it ends with a comma", "-smp", "2,"),
    O("it has an empty item", "-smp", ",2"),
    O("value '2,' of sub-option 'cpus' does not match", "-smp",
      "cpus=2,,,cores=2"),
    O("it is empty", "-smp", ""),
    O("it has an item without a sub-option name", "-smp", "=2"),
    O("it has an item without a sub-option name", "-device", "loader,no"),
    O("the JSON form of -device is not allowed", "-device",
      "{\"driver\":\"loader\",\"file\":\"/etc/passwd\"}"),
    O("the JSON form of -smp is not allowed", "-smp", "{\"cpus\":2}"),
    O("model 'virtio-blk-device,drive=x,file=/etc/passwd' is not allowed",
      "-device", "virtio-blk-device,,drive=x,,file=/etc/passwd"),
    O("sub-option 'file' is not allowed; allowed sub-options of -device "
      "virtio-blk-device: drive, id, bus, addr",
      "-device", "virtio-blk-device,drive=x,file=/etc/passwd"),
    O("sub-option 'romfile' is not allowed", "-device",
      "virtio-blk-pci,drive=lavatest,romfile=/etc/passwd"),
    O("sub-option 'iothread' is not allowed", "-device",
      "virtio-blk-device,drive=lavatest,iothread=io0"),
    O("sub-option 'serial' is not allowed", "-device",
      "virtio-blk-pci,drive=lavatest,serial=x"),
    O("value 'qhil-qmp' of sub-option 'drive' does not match", "-device",
      "virtio-blk-device,drive=qhil-qmp"),
    O("value 'QHIL0' of sub-option 'drive' does not match", "-device",
      "virtio-blk-pci,drive=QHIL0"),
    O("value 'lavatest,file=/etc/passwd' of sub-option 'drive' does not "
      "match",
      "-device", "virtio-blk-device,drive=lavatest,,file=/etc/passwd"),
    O("value '/etc/passwd' of sub-option 'drive' does not match", "-device",
      "virtio-blk-device,drive=/etc/passwd"),
    O("value 'file:/x' of sub-option 'drive' does not match", "-device",
      "virtio-blk-device,drive=file:/x"),
    O("value '' of sub-option 'drive' does not match", "-device",
      "virtio-blk-device,drive="),
    O("sub-option 'drive' is given twice", "-device",
      "virtio-blk-device,drive=lavatest,drive=other"),
    O("the JSON form of -device is not allowed", "-device",
      "{\"driver\":\"virtio-blk-device\",\"drive\":\"lavatest\"}"),
    O("model 'virtio-blk' is not allowed", "-device", "virtio-blk,drive=x"),
    O("model 'virtio-scsi-device' is not allowed", "-device",
      "virtio-scsi-device"),
    O("sub-option 'driver' is given twice", "-device",
      "loader,driver=virtio-blk-device"),
    O("no model given; allowed models of -device: loader", "-device", "id=x"),
    O("value '1bad' of sub-option 'id' does not match", "-device",
      "loader,id=1bad"),
    O("sub-option 'romfile' is not allowed", "-device",
      "virtio-rng-pci,romfile=/etc/passwd"),
    O("sub-option 'rng' is not allowed", "-device",
      "virtio-rng-device,rng=rng0"),
    O("sub-option 'splash' is not allowed", "-boot", "splash=/etc/passwd"),
    O("sub-option 'process' is not allowed", "-name", "g,process=x"),
    O("value 'inject-nmi,x' of -watchdog-action does not match",
      "-watchdog-action", "inject-nmi,x"),
    O("value 'guest_errors,trace:foo' of -d does not match", "-d",
      "guest_errors,trace:foo"),
    O("value 'tid' of -d does not match", "-d", "tid"),
    O("value 'exec,' of -d does not match", "-d", "exec,"),

    /* -global, both forms. */
    O("value 'file' of sub-option 'property' does not match", "-global",
      "driver=loader,property=file,value=/etc/passwd"),
    O("value 'file' of sub-option 'property' does not match", "-global",
      "loader.file=/etc/passwd"),
    O("value 'romfile' of sub-option 'property' does not match", "-global",
      "virtio-rng-pci.romfile=x"),
    O("value 'chardev' of sub-option 'property' does not match", "-global",
      "pl011.chardev=serial0"),
    O("value 'drive' of sub-option 'property' does not match", "-global",
      "driver=virtio-blk-device,property=drive,value=d"),
    O("value 'netdev' of sub-option 'property' does not match", "-global",
      "virtio-net-device.netdev=n"),
    O("value 'memdev' of sub-option 'property' does not match", "-global",
      "virt.memdev=m"),
    O("value 'filename' of sub-option 'property' does not match", "-global",
      "x.filename=y"),
    O("value 'path' of sub-option 'property' does not match", "-global",
      "x.path=y"),
    O("value 'fd' of sub-option 'property' does not match", "-global",
      "x.fd=3"),
    O("value '/x' of sub-option 'value' does not match", "-global",
      "virtio-rng-device.period=/x"),
    O("value 'a,b' of sub-option 'driver' does not match", "-global",
      "a,b.c=d"),
    O("it has no driver", "-global", "virtio-rng-device.period"),
    O("a sub-option is given twice", "-global",
      "driver=a,property=b,value=c,driver=d"),
    O("sub-option 'x' is not allowed; allowed sub-options of -global: "
      "driver, property, value",
      "-global", "driver=a,property=b,value=c,x=1"),

    /* machine and cpu values. */
    MA(OK, "virt"),
    MA(OK, "virt,gic-version=3"),
    MA(OK, "type=virt,secure=on"),
    MA(OK, "virt,highmem=off,its=off"),
    MA("an item after the first has no '='", "virt,secure"),
    MA("an item after the first has no '='", "virt,nohighmem"),
    MA("'virt,dumpdtb=/tmp/x' is not allowed by the strict policy: "
       "sub-option 'dumpdtb' is not allowed; allowed sub-options of "
       "machine: type, gic-version",
       "virt,dumpdtb=/tmp/x"),
    MA("sub-option 'memory-backend' is not allowed", "virt,memory-backend=m"),
    MA("sub-option 'dtb' is not allowed", "virt,dtb=/x"),
    MA("sub-option 'firmware' is not allowed", "virt,firmware=/x"),
    MA("sub-option 'kernel' is not allowed", "virt,kernel=/x"),
    MA("sub-option 'initrd' is not allowed", "virt,initrd=/x"),
    MA("sub-option 'append' is not allowed", "virt,append=x"),
    MA("sub-option 'confidential-guest-support' is not allowed",
       "virt,confidential-guest-support=x"),
    MA("value 'virt,dumpdtb=x' of sub-option 'type' does not match",
       "virt,,dumpdtb=x"),
    MA("value '../x' of sub-option 'type' does not match", "../x"),
    MA("the JSON form of machine is not allowed", "{\"type\":\"virt\"}"),
    MA("sub-option 'gic-version' is given twice",
       "virt,gic-version=3,gic-version=2"),
    MA("value '5' of sub-option 'gic-version' does not match",
       "virt,gic-version=5"),
    CP(OK, "cortex-a57"),
    CP(OK, "cortex-a57,pmu=off,sve=on"),
    CP("value 'cortex-a57,pmu=off' of sub-option 'model' does not match",
       "cortex-a57,,pmu=off"),
    CP("an item after the first has no '='", "max,+sve"),
    CP("an item after the first has no '='", "cortex-a57,pmu"),
    CP("sub-option 'x' is not allowed", "max,x="),
    CP("sub-option 'reset-cbar' is not allowed", "cortex-a15,reset-cbar=0"),

    /* Memory, as -m reads it. */
    ME(OK, "64M", 64),
    ME(OK, "1G", 1024),
    ME(OK, "1024", 1024),
    ME(OK, "524288K", 512),
    ME(OK, "1k", 1),
    ME(OK, "010", 10),
    ME("'8192' is not allowed by the strict policy: it is 8192 MiB; the "
       "memory cap is 1024 MiB",
       "8192", 0),
    ME("it is 1025 MiB; the memory cap is 1024 MiB", "1025M", 0),
    ME("the memory cap is 1024 MiB", "1T", 0),
    ME("it is not a decimal number", "0x10", 0),
    ME("it is not a decimal number", "-1", 0),
    ME("it is too large", "99999999999999999999", 0),
    ME("it is too large", "18014398509481984T", 0),
    ME("it is not a decimal number", "64M,maxmem=8G", 0),
    ME("it is not a decimal number", "size=64M", 0),
    ME("it is not a decimal number", "1.5G", 0),
    ME("it is not a decimal number", "64MB", 0),
    ME("it is not a decimal number", "64B", 0),
    ME("it is not a decimal number", " 64", 0),
    ME("it is not a decimal number", "", 0),
    ME("it is zero", "0", 0),

    /* QMP. */
    Q(OK, "{\"execute\": \"query-status\"}"),
    Q(OK, "{\"execute\": \"query-cpus-fast\", \"arguments\": {}}"),
    Q(OK, "{\"execute\": \"qom-get\", \"arguments\": {\"path\": "
          "\"/machine\", \"property\": \"type\"}}"),
    Q(OK, "{\"execute\": \"system_reset\"}"),
    Q(OK, "{\"execute\": \"cont\"}"),
    Q(OK, "{\"execute\": \"quit\"}"),
    Q("'migrate' " NQMP "query-*, qom-list",
      "{\"execute\": \"migrate\", \"arguments\": {\"uri\": "
      "\"exec:touch /tmp/x\"}}"),
    Q("'migrate-incoming' " NQMP,
      "{\"execute\": \"migrate-incoming\", \"arguments\": {\"uri\": "
      "\"exec:sh\"}}"),
    Q("'chardev-add' " NQMP, "{\"execute\": \"chardev-add\"}"),
    Q("'chardev-change' " NQMP, "{\"execute\": \"chardev-change\"}"),
    Q("'pmemsave' " NQMP, "{\"execute\": \"pmemsave\", \"arguments\": "
                          "{\"val\": 0, \"size\": 4, \"filename\": \"/x\"}}"),
    Q("'memsave' " NQMP, "{\"execute\": \"memsave\"}"),
    Q("'dump-guest-memory' " NQMP, "{\"execute\": \"dump-guest-memory\"}"),
    Q("'screendump' " NQMP, "{\"execute\": \"screendump\"}"),
    Q("'blockdev-add' " NQMP, "{\"execute\": \"blockdev-add\"}"),
    Q("'blockdev-backup' " NQMP, "{\"execute\": \"blockdev-backup\"}"),
    Q("'drive-backup' " NQMP, "{\"execute\": \"drive-backup\"}"),
    Q("'drive-mirror' " NQMP, "{\"execute\": \"drive-mirror\"}"),
    Q("'object-add' " NQMP, "{\"execute\": \"object-add\"}"),
    Q("'netdev_add' " NQMP, "{\"execute\": \"netdev_add\"}"),
    Q("'getfd' " NQMP, "{\"execute\": \"getfd\"}"),
    Q("'add-fd' " NQMP, "{\"execute\": \"add-fd\"}"),
    Q("'snapshot-save' " NQMP, "{\"execute\": \"snapshot-save\"}"),
    Q("'x-exit-preconfig' " NQMP, "{\"execute\": \"x-exit-preconfig\"}"),
    Q("'x-query-roms' " NQMP, "{\"execute\": \"x-query-roms\"}"),
    Q("'qmp_capabilities' " NQMP, "{\"execute\": \"qmp_capabilities\"}"),
    Q("'exec-oob' is not allowed by the strict policy: a QMP command has "
      "only the keys execute and arguments",
      "{\"execute\": \"query-status\", \"exec-oob\": \"migrate\"}"),
    Q("a QMP command is {\"execute\": NAME", "{\"exec-oob\": \"migrate\"}"),
    Q("a QMP command is", "{\"execute\": 1}"),
    Q("a QMP command is", "[\"migrate\"]"),
    Q("its arguments are not a JSON object",
      "{\"execute\": \"query-status\", \"arguments\": [1]}"),
    Q(OK, "{\"execute\": \"device_add\", \"arguments\": {\"driver\": "
          "\"loader\", \"addr\": 4096, \"data\": 1, \"data-len\": 4, "
          "\"data-be\": true}}"),
    Q("'device_add' is not allowed by the strict policy: argument 'file' "
      "is not allowed; allowed arguments of device_add loader: addr",
      "{\"execute\": \"device_add\", \"arguments\": {\"driver\": "
      "\"loader\", \"addr\": 0, \"file\": \"/etc/passwd\"}}"),
    Q(OK, "{\"execute\": \"device_add\", \"arguments\": {\"driver\": "
          "\"virtio-blk-pci\", \"drive\": \"lavatest\"}}"),
    Q("argument 'file' is not allowed; allowed arguments of device_add "
      "virtio-blk-device: drive",
      "{\"execute\": \"device_add\", \"arguments\": {\"driver\": "
      "\"virtio-blk-device\", \"drive\": \"d\", \"file\": \"/x\"}}"),
    Q("value 'qhil-serial0' of argument 'drive' does not match",
      "{\"execute\": \"device_add\", \"arguments\": {\"driver\": "
      "\"virtio-blk-pci\", \"drive\": \"qhil-serial0\"}}"),
    Q("model 'virtio-scsi-pci' is not allowed",
      "{\"execute\": \"device_add\", \"arguments\": {\"driver\": "
      "\"virtio-scsi-pci\"}}"),
    Q("no model given", "{\"execute\": \"device_add\", \"arguments\": "
                        "{\"id\": \"x\"}}"),
    Q("no model given", "{\"execute\": \"device_add\"}"),
    Q("value '0x1000,file=/x' of argument 'addr' does not match",
      "{\"execute\": \"device_add\", \"arguments\": {\"driver\": "
      "\"loader\", \"addr\": \"0x1000,file=/x\"}}"),
    Q("value '{\"a\":1}' of argument 'addr' does not match",
      "{\"execute\": \"device_add\", \"arguments\": {\"driver\": "
      "\"loader\", \"addr\": {\"a\": 1}}}"),
    Q(OK, "{\"execute\": \"qom-set\", \"arguments\": {\"path\": "
          "\"/machine/peripheral/t0\", \"property\": \"temperature\", "
          "\"value\": 25000}}"),
    Q(OK, "{\"execute\": \"qom-set\", \"arguments\": {\"path\": \"/m\", "
          "\"property\": \"p\", \"value\": true}}"),
    Q("argument 'value' must be a number or a boolean, not a string",
      "{\"execute\": \"qom-set\", \"arguments\": {\"path\": \"/machine\", "
      "\"property\": \"link\", \"value\": \"/etc/passwd\"}}"),
    Q("argument 'value' must be a number or a boolean, not a list or an "
      "object",
      "{\"execute\": \"qom-set\", \"arguments\": {\"path\": \"/m\", "
      "\"property\": \"p\", \"value\": [1]}}"),
    Q("argument 'x' is not allowed; allowed arguments of qom-set: path, "
      "property, value",
      "{\"execute\": \"qom-set\", \"arguments\": {\"path\": \"/m\", "
      "\"property\": \"p\", \"value\": 1, \"x\": 1}}"),
    Q("value '/m,x' of argument 'path' does not match",
      "{\"execute\": \"qom-set\", \"arguments\": {\"path\": \"/m,x\", "
      "\"property\": \"p\", \"value\": 1}}"),
    Q(OK, "{\"execute\": \"human-monitor-command\", \"arguments\": "
          "{\"command-line\": \"info registers\"}}"),
    Q(OK, "{\"execute\": \"human-monitor-command\", \"arguments\": "
          "{\"command-line\": \"info status\", \"cpu-index\": 0}}"),
    Q("'logfile' " NHMP "info, system_reset",
      "{\"execute\": \"human-monitor-command\", \"arguments\": "
      "{\"command-line\": \"logfile /tmp/x\"}}"),
    Q("its argument command-line must be a string",
      "{\"execute\": \"human-monitor-command\", \"arguments\": "
      "{\"command-line\": 1}}"),
    Q("its argument command-line must be a string",
      "{\"execute\": \"human-monitor-command\"}"),
    Q("argument 'cpu-index' is not allowed",
      "{\"execute\": \"human-monitor-command\", \"arguments\": "
      "{\"command-line\": \"info status\", \"cpu-index\": \"0\"}}"),

    /* HMP. */
    H(OK, "info registers"),
    H(OK, "  info   status  "),
    H(OK, "x/10x 0x0"),
    H(OK, "xp /4x 0"),
    H(OK, "p $pc"),
    H(OK, "?"),
    H(OK, "help info"),
    H(OK, "c"),
    H(OK, "gva2gpa 0"),
    H(OK, "trace-event foo on"),
    H(OK, "sendkey ctrl-alt-delete"),
    H(OK, "nmi"),
    H(OK, "\tsystem_reset"),
    H("'logfile' " NHMP, "logfile /tmp/x"),
    H("'logfile' " NHMP, "logfile/x"),
    H("'log' " NHMP, "log all"),
    H("'memsave' " NHMP, "memsave 0 4 /tmp/x"),
    H("'pmemsave' " NHMP, "pmemsave 0 4 /tmp/x"),
    H("'migrate' " NHMP, "migrate exec:sh"),
    H("'drive_add' " NHMP, "drive_add 0 file=/etc/passwd"),
    H("'chardev-add' " NHMP, "chardev-add file,id=c,path=/x"),
    H("'savevm' " NHMP, "savevm s"),
    H("'loadvm' " NHMP, "loadvm s"),
    H("'dump-guest-memory' " NHMP, "dump-guest-memory /tmp/x"),
    H("'screendump' " NHMP, "screendump /tmp/x"),
    H("'wavcapture' " NHMP, "wavcapture /tmp/x"),
    H("'qemu-io' " NHMP, "qemu-io d \"write 0 1\""),
    H("'hostfwd_add' " NHMP, "hostfwd_add tcp::2222-:22"),
    H("'netdev_add' " NHMP, "netdev_add user,id=n"),
    H("'device_add' " NHMP, "device_add loader,file=/etc/passwd"),
    H("'object_add' " NHMP, "object_add memory-backend-file,id=m"),
    H("'change' " NHMP, "change vnc unix:/tmp/v"),
    H("'eject' " NHMP, "eject d"),
    H("'commit' " NHMP, "commit all"),
    H("'drive_mirror' " NHMP, "drive_mirror d /tmp/x"),
    H("'block_resize' " NHMP, "block_resize d 1G"),
    H("'gdbserver' " NHMP, "gdbserver tcp::1234"),
    H("'gpa2hva' " NHMP, "gpa2hva 0"),
    H("'quit' " NHMP, "quit"),
    H("'INFO' " NHMP, "INFO status"),
    H("'infox' " NHMP, "infox"),
    H("an HMP command is one line without control characters",
      "info status\nlogfile /tmp/x"),
    H("an HMP command is one line", "info status\r"),
    H("it names no command", ""),
    H("it names no command", "   "),
};

/* Run case c on p: the result, and a copy of the message (caller frees). */
static int run_case(const qhil_policy *p, const pcase *c, char **msg,
                    unsigned long long *mib)
{
    qhil_error err;
    json_t *cmd;
    size_t n = 0;
    int rc;

    qhil_error_init(&err);
    *mib = 0;
    switch (c->kind) {
    case OPTS:
        while (n < QHIL_ARRAY_SIZE(c->in) && c->in[n]) {
            n++;
        }
        rc = qhil_policy_check_options(p, c->in, n, "job.yaml:3",
                                       "context.extra_options", &err);
        break;
    case MACHINE:
        rc = qhil_policy_check_value(p, "machine", c->in[0], "job.yaml:3",
                                     "context.machine", &err);
        break;
    case CPU:
        rc = qhil_policy_check_value(p, "cpu", c->in[0], "job.yaml:3",
                                     "context.cpu", &err);
        break;
    case MEM:
        rc = qhil_policy_check_memory(p, c->in[0], "job.yaml:3",
                                      "context.memory", mib, &err);
        break;
    case QMP:
        cmd = json_loads(c->in[0], 0, NULL);
        if (!cmd) {
            fail_msg("case JSON does not parse: %s", c->in[0]);
        }
        rc = qhil_policy_check_qmp(p, cmd, "job.yaml:3", "steps[0].qmp", &err);
        json_decref(cmd);
        break;
    default:
        rc = qhil_policy_check_hmp(p, c->in[0], "job.yaml:3", "steps[0].hmp",
                                   &err);
        break;
    }
    *msg = err.message ? strdup(err.message) : NULL;
    qhil_error_release(&err);
    return rc;
}

static const char *case_name(const pcase *c)
{
    return c->in[0] ? c->in[0] : "(none)";
}

static void check_cases(const qhil_policy *p)
{
    for (size_t i = 0; i < QHIL_ARRAY_SIZE(cases); i++) {
        const pcase *c = &cases[i];
        unsigned long long mib;
        char *msg = NULL;
        int rc = run_case(p, c, &msg, &mib);

        if (!c->expect) {
            if (rc != 0) {
                fail_msg("case %zu '%s': refused: %s", i, case_name(c),
                         msg ? msg : "(no message)");
            }
            if (c->kind == MEM && mib != c->mib) {
                fail_msg("case %zu '%s': %llu MiB, expected %llu", i,
                         case_name(c), mib, c->mib);
            }
            assert_null(msg);
        } else {
            if (rc != QHIL_EINVAL) {
                fail_msg("case %zu '%s': allowed (rc %d), expected \"%s\"", i,
                         case_name(c), rc, c->expect);
            }
            assert_non_null(msg);
            if (!strstr(msg, c->expect)) {
                fail_msg("case %zu: expected \"%s\" in \"%s\"", i, c->expect,
                         msg);
            }
            /* The one format: ORIGIN: FIELD: 'WORD' is not allowed by
             * POLICY: REASON, on one line. */
            assert_true(strncmp(msg, "job.yaml:3: ", 12) == 0);
            assert_contains(msg, "' is not allowed by the strict policy: ");
            assert_null(strchr(msg, '\n'));
            assert_null(strchr(msg, '\r'));
        }
        free(msg);
    }
}

/* Every case of the table on the built-in strict policy. */
static void test_strict_cases(void **state)
{
    qhil_policy *p = NULL;
    qhil_error err;
    size_t refused = 0;

    (void)state;
    qhil_error_init(&err);
    assert_int_equal(qhil_policy_strict(&p, &err), 0);
    assert_string_equal(qhil_policy_name(p), "the strict policy");
    check_cases(p);
    for (size_t i = 0; i < QHIL_ARRAY_SIZE(cases); i++) {
        refused += cases[i].expect != NULL;
    }
    assert_true(QHIL_ARRAY_SIZE(cases) >= 80);
    assert_true(refused >= 60);
    qhil_policy_free(p);
    qhil_error_release(&err);
}

/* site/strict-policy.yaml, loaded with base: none, gives the very same
 * answer and message as the built-in policy on every case. */
static void test_shipped_file_same(void **state)
{
    qhil_policy *strict = NULL, *file = NULL;
    qhil_error err;
    qhil_yaml y;
    yaml_node_t *node;

    (void)state;
    qhil_error_init(&err);
    assert_int_equal(qhil_policy_strict(&strict, &err), 0);
    if (qhil_yaml_load_file(&y, STRICT_FILE, &err) != 0) {
        fail_msg("%s", err.message);
    }
    node = qhil_yaml_get(&y, qhil_yaml_root(&y), "policy");
    assert_non_null(node);
    assert_non_null(qhil_yaml_get(&y, node, "base"));
    assert_string_equal(qhil_yaml_scalar(qhil_yaml_get(&y, node, "base"), NULL),
                        "none");
    if (qhil_policy_load(&y, node, "policy", "the strict policy", &file,
                         &err) != 0) {
        fail_msg("%s", err.message);
    }
    qhil_yaml_release(&y);
    check_cases(file);
    for (size_t i = 0; i < QHIL_ARRAY_SIZE(cases); i++) {
        unsigned long long m1, m2;
        char *a = NULL, *b = NULL;
        int r1 = run_case(strict, &cases[i], &a, &m1);
        int r2 = run_case(file, &cases[i], &b, &m2);

        assert_int_equal(r1, r2);
        assert_true(m1 == m2);
        if (a || b) {
            assert_non_null(a);
            assert_non_null(b);
            assert_string_equal(a, b);
        }
        free(a);
        free(b);
    }
    qhil_policy_free(strict);
    qhil_policy_free(file);
    qhil_error_release(&err);
}

/* A whole message, word for word, and with an origin and field left out. */
static void test_message_format(void **state)
{
    const char *words[] = {"-incoming", "defer"};
    const char *nl[] = {"-smp\n-incoming"};
    qhil_policy *p = NULL;
    qhil_error err;

    (void)state;
    qhil_error_init(&err);
    assert_int_equal(qhil_policy_strict(&p, NULL), 0);
    assert_int_equal(qhil_policy_check_options(p, words, 2, "suite.yaml:12",
                                               "context.extra_options", &err),
                     QHIL_EINVAL);
    assert_string_equal(err.message,
                        "suite.yaml:12: context.extra_options: '-incoming' "
                        "is not allowed by the strict policy: allowed "
                        "options: -smp, -icount, -rtc, -global, -device, "
                        "-no-reboot, -no-shutdown, -d, -boot, -name, "
                        "-action, -watchdog-action");
    assert_int_equal(qhil_policy_check_options(p, words, 2, NULL, NULL, &err),
                     QHIL_EINVAL);
    assert_true(strncmp(err.message, "'-incoming' is not allowed", 26) == 0);
    /* A newline in a word is shown escaped: the message stays one line. */
    assert_int_equal(qhil_policy_check_options(p, nl, 1, "o", "f", &err),
                     QHIL_EINVAL);
    assert_contains(err.message, "'-smp\\x0a-incoming' is not allowed");
    assert_null(strchr(err.message, '\n'));
    /* A word a mile long is cut, not copied whole. */
    {
        char *big = malloc(100001);
        const char *w[1];

        memset(big, 'A', 100000);
        big[0] = '-';
        big[100000] = '\0';
        w[0] = big;
        assert_int_equal(qhil_policy_check_options(p, w, 1, "o", "f", &err),
                         QHIL_EINVAL);
        assert_true(strlen(err.message) < 2000);
        assert_contains(err.message, "AAA...' is not allowed");
        free(big);
    }
    /* A long list of allowed names ends with "...". */
    {
        json_t *cmd = json_pack("{s:s}", "execute", "migrate");

        assert_int_equal(qhil_policy_check_qmp(p, cmd, "o", "f", &err),
                         QHIL_EINVAL);
        assert_contains(err.message, ", ...");
        json_decref(cmd);
    }
    assert_int_equal(qhil_policy_check_value(p, "disk", "x", "o", "f", &err),
                     QHIL_EINVAL);
    assert_contains(err.message, "unknown value kind 'disk'");
    qhil_policy_free(p);
    qhil_error_release(&err);
}

/* Load text (a site file) and its "policy:" node. */
static int load_text(const char *text, qhil_policy **p, qhil_error *err)
{
    qhil_yaml y;
    int rc;

    rc = qhil_yaml_load_buffer(&y, "site.yaml", text, strlen(text), err);
    if (rc == 0) {
        rc = qhil_policy_load(&y,
                              qhil_yaml_get(&y, qhil_yaml_root(&y), "policy"),
                              "policy", "site.yaml", p, err);
    }
    qhil_yaml_release(&y);
    return rc;
}

/* Load errors name FILE:LINE:COLUMN, the field and the reason. */
static void test_load_errors(void **state)
{
    static const struct {
        const char *text;
        const char *expect;
    } bad[] = {
        {"policy:\n  bsae: none\n",
         "site.yaml:2:3: policy: unknown key 'bsae' (known: base, "
         "memory_max, options, machine, cpu, qmp, hmp)"},
        {"policy:\n  base: none\n  options:\n    -smp: {keys: {cpus: "
         "'[1-9'}}\n",
         "site.yaml:4:25: policy.options.-smp.keys.cpus: pattern '[1-9' "
         "does not compile: missing terminating ] for character class"},
        {"policy:\n  options: [-smp]\n",
         "site.yaml:2:12: policy.options: expected a mapping of QEMU "
         "options to their rules"},
        {"policy:\n  options:\n    -smp: {keys: {cpus: '1'}, kyes: {}}\n",
         "site.yaml:3:31: policy.options.-smp: unknown key 'kyes'"},
        {"policy:\n  options:\n    -smp: maybe\n",
         "site.yaml:3:11: policy.options.-smp: expected flag, deny or a "
         "mapping, got 'maybe'"},
        {"policy:\n  options:\n    smp: flag\n",
         "site.yaml:3:5: policy.options: option 'smp' must be written -NAME"},
        {"policy:\n  options:\n    -smp: {keys: {cpus: '1'}, value: 'x'}\n",
         "site.yaml:3:11: policy.options.-smp: give exactly one of value"},
        {"policy:\n  options:\n    -smp: {implied: cores, keys: {cpus: "
         "'1'}}\n",
         "site.yaml:3:21: policy.options.-smp: implied key 'cores' is not "
         "one of keys"},
        {"policy:\n  options:\n    -global: {global: {driver: x, value: "
         "y}}\n",
         "policy.options.-global.global: missing 'property'"},
        {"policy:\n  base: all\n",
         "site.yaml:2:9: policy.base: expected strict or none, got 'all'"},
        {"policy:\n  memory_max: lots\n",
         "site.yaml:2:15: policy.memory_max: 'lots': it is not a decimal"},
        {"policy:\n  qmp:\n    migrate: sometimes\n",
         "site.yaml:3:14: policy.qmp.migrate: expected any, deny, device, "
         "hmp or a mapping of arguments, got 'sometimes'"},
        {"policy:\n  qmp:\n    'x-*-y': any\n",
         "site.yaml:3:5: policy.qmp: 'x-*-y': a '*' may only end a name"},
        {"policy:\n  qmp:\n    qom-set: {value: '('}\n",
         "site.yaml:3:22: policy.qmp.qom-set.value: pattern '(' does not "
         "compile"},
        {"policy:\n  hmp: info\n",
         "site.yaml:2:8: policy.hmp: expected a list of HMP commands or a "
         "mapping of them to allow or deny, got a string"},
        {"policy:\n  hmp: {info: maybe}\n",
         "site.yaml:2:15: policy.hmp: expected allow or deny, got 'maybe'"},
        {"policy:\n  hmp: ['info status']\n",
         "site.yaml:2:9: policy.hmp: 'info status' is not one word"},
        {"policy:\n  machine: {type: '.*', kesy: {}}\n",
         "site.yaml:2:25: policy.machine: unknown key 'kesy'"},
        {"policy:\n  cpu: {keys: {pmu: 'on'}}\n",
         "site.yaml:2:8: policy.cpu: missing 'model'"},
        {"policy:\n  options:\n    -device: {models: {loader: {file: "
         "[x]}}}\n",
         "site.yaml:3:39: policy.options.-device.models.loader.file: "
         "expected a pattern, got a list"},
        {"policy: [1]\n", "site.yaml:1:9: policy: expected a mapping"},
    };

    (void)state;
    for (size_t i = 0; i < QHIL_ARRAY_SIZE(bad); i++) {
        qhil_policy *p = (qhil_policy *)&p;
        qhil_error err;

        qhil_error_init(&err);
        assert_int_equal(load_text(bad[i].text, &p, &err), QHIL_EINVAL);
        assert_null(p);
        if (!err.message || !strstr(err.message, bad[i].expect)) {
            fail_msg("case %zu: expected \"%s\" in \"%s\"", i, bad[i].expect,
                     err.message ? err.message : "(null)");
        }
        qhil_error_release(&err);
    }
}

/* base: strict plus a site's entries: added, replaced whole, denied. */
static void test_site_on_strict(void **state)
{
    static const char text[] =
        "policy:\n"
        "  memory_max: 2048\n"
        "  options:\n"
        "    -S: flag\n"
        "    -smp: {implied: cpus, keys: {cpus: '[1-4]'}}\n"
        "    -d: deny\n"
        "    -device:\n"
        "      json: true\n"
        "      models: {loader: {addr: '[0-9]+'}}\n"
        "  machine: deny\n"
        "  qmp:\n"
        "    query-status: deny\n"
        "    x-*: any\n"
        "    migrate: {uri: 'tcp:[0-9.]+:[0-9]+'}\n"
        "    query-c*: deny\n"
        "    query-cpu-model-expansion: any\n"
        "  hmp: {info: deny, log: allow}\n";
    static const struct {
        const pcase c;
    } t[] = {
        {O(OK, "-S", "-smp", "4")},
        {O("value '8' of sub-option 'cpus' does not match '[1-4]'", "-smp",
           "8")},
        {O("sub-option 'cores' is not allowed", "-smp", "2,cores=2")},
        {O("'-d' is not allowed by site.yaml: allowed options: ", "-d",
           "unimp")},
        {O(OK, "-icount", "auto")},
        {O(OK, "-device", "{\"driver\": \"loader\", \"addr\": 4096}")},
        {O("sub-option 'file' is not allowed", "-device",
           "{\"driver\": \"loader\", \"file\": \"/x\"}")},
        {O("its JSON form is not one JSON object", "-device",
           "{\"driver\": \"loader\", \"driver\": \"loader\"}")},
        {O("model 'tmp105' is not allowed", "-device", "tmp105")},
        {MA("the policy allows no machine value", "virt")},
        {CP(OK, "cortex-a57")},
        {ME(OK, "2G", 2048)},
        {ME("the memory cap is 2048 MiB", "2049", 0)},
        {Q("'query-status' is not allowed by site.yaml",
           "{\"execute\": \"query-status\"}")},
        {Q("'query-cpus-fast' is not allowed",
           "{\"execute\": \"query-cpus-fast\"}")},
        {Q(OK, "{\"execute\": \"query-version\"}")},
        {Q(OK, "{\"execute\": \"query-cpu-model-expansion\"}")},
        {Q(OK, "{\"execute\": \"x-query-roms\"}")},
        {Q(OK, "{\"execute\": \"migrate\", \"arguments\": {\"uri\": "
               "\"tcp:10.0.0.1:4444\"}}")},
        {Q("value 'exec:sh' of argument 'uri' does not match",
           "{\"execute\": \"migrate\", \"arguments\": {\"uri\": "
           "\"exec:sh\"}}")},
        {Q("argument 'blk' is not allowed; allowed arguments of migrate: "
           "uri",
           "{\"execute\": \"migrate\", \"arguments\": {\"uri\": "
           "\"tcp:1:1\", \"blk\": true}}")},
        {H("'info' is not allowed by site.yaml", "info status")},
        {H(OK, "log unimp")},
        {Q("'info' is not allowed", "{\"execute\": "
                                    "\"human-monitor-command\", "
                                    "\"arguments\": {\"command-line\": "
                                    "\"info status\"}}")},
    };
    qhil_policy *p = NULL;
    qhil_error err;

    (void)state;
    qhil_error_init(&err);
    if (load_text(text, &p, &err) != 0) {
        fail_msg("%s", err.message);
    }
    assert_string_equal(qhil_policy_name(p), "site.yaml");
    for (size_t i = 0; i < QHIL_ARRAY_SIZE(t); i++) {
        unsigned long long mib;
        char *msg = NULL;
        int rc = run_case(p, &t[i].c, &msg, &mib);

        if (!t[i].c.expect && rc != 0) {
            fail_msg("case %zu: refused: %s", i, msg);
        }
        if (t[i].c.expect &&
            (rc != QHIL_EINVAL || !msg || !strstr(msg, t[i].c.expect))) {
            fail_msg("case %zu: expected \"%s\" in \"%s\"", i, t[i].c.expect,
                     msg ? msg : "(allowed)");
        }
        if (!t[i].c.expect && t[i].c.kind == MEM) {
            assert_true(mib == t[i].c.mib);
        }
        free(msg);
    }
    qhil_policy_free(p);
    qhil_error_release(&err);
}

/* base: none with nothing in it refuses everything. */
static void test_empty_policy(void **state)
{
    const char *words[] = {"-smp", "2"};
    json_t *cmd = json_pack("{s:s}", "execute", "query-status");
    qhil_policy *p = NULL;
    qhil_error err;

    (void)state;
    qhil_error_init(&err);
    assert_int_equal(load_text("policy: {base: none}\n", &p, &err), 0);
    assert_int_equal(qhil_policy_check_options(p, words, 2, "o", "f", &err),
                     QHIL_EINVAL);
    assert_contains(err.message, "allowed options: none");
    assert_int_equal(qhil_policy_check_value(p, "cpu", "max", "o", "f", &err),
                     QHIL_EINVAL);
    assert_int_equal(qhil_policy_check_memory(p, "1", "o", "f", NULL, &err),
                     QHIL_EINVAL);
    assert_contains(err.message, "the policy allows no memory size");
    assert_int_equal(qhil_policy_check_qmp(p, cmd, "o", "f", &err),
                     QHIL_EINVAL);
    assert_contains(err.message, "allowed QMP commands: none");
    assert_int_equal(qhil_policy_check_hmp(p, "info", "o", "f", &err),
                     QHIL_EINVAL);
    assert_int_equal(qhil_policy_check_options(p, NULL, 0, "o", "f", &err), 0);
    qhil_policy_free(p);
    /* The list form of hmp: names allowed, nothing else. */
    assert_int_equal(
        load_text("policy: {base: none, hmp: [info, stop]}\n", &p, &err), 0);
    assert_int_equal(qhil_policy_check_hmp(p, "info mtree", "o", "f", &err), 0);
    assert_int_equal(qhil_policy_check_hmp(p, "stop", "o", "f", &err), 0);
    assert_int_equal(qhil_policy_check_hmp(p, "cont", "o", "f", &err),
                     QHIL_EINVAL);
    assert_contains(err.message, "'cont' is not allowed by site.yaml: "
                                 "allowed HMP commands: info, stop");
    json_decref(cmd);
    qhil_policy_free(p);
    qhil_policy_free(NULL);
    qhil_error_release(&err);
}

/* A site pattern that backtracks without end gives up quickly and
 * refuses. */
static void test_runaway_pattern(void **state)
{
    static const char text[] = "policy:\n"
                               "  base: none\n"
                               "  options:\n"
                               "    -d: {value: '(a+)+b'}\n";
    char word[64];
    const char *words[] = {"-d", word};
    struct timespec t0, t1;
    qhil_policy *p = NULL;
    qhil_error err;

    (void)state;
    qhil_error_init(&err);
    assert_int_equal(load_text(text, &p, &err), 0);
    memset(word, 'a', sizeof(word) - 1);
    word[sizeof(word) - 1] = '\0';
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(qhil_policy_check_options(p, words, 2, "o", "f", &err),
                     QHIL_EINVAL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_true(t1.tv_sec - t0.tv_sec < 2);
    assert_contains(err.message, "does not match '(a+)+b'");
    qhil_policy_free(p);
    qhil_error_release(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strict_cases),
        cmocka_unit_test(test_shipped_file_same),
        cmocka_unit_test(test_message_format),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_site_on_strict),
        cmocka_unit_test(test_empty_policy),
        cmocka_unit_test(test_runaway_pattern),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
