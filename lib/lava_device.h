/*
 * lava_device.h - LAVA's qemu device type (lava-server 2023.01, the one
 * Debian 12 ships): what its template adds to QEMU's command line for a
 * job's context, and the device configuration lava-run takes; for
 * lava.c, not installed.
 */
#ifndef QHIL_LAVA_DEVICE_H
#define QHIL_LAVA_DEVICE_H

#include <stdbool.h>
#include <stddef.h>

#include <qhil/board.h>
#include <qhil/error.h>

#include "internal.h"

/* One of the template's architectures. */
typedef struct qhil_lava_arch {
    const char *name;    /* LAVA's name: context.arch */
    const char *binary;  /* the QEMU binary the template runs */
    const char *machine; /* the -machine default it fills from
                            context.machine; NULL: it adds no -machine */
    const char *cpu;     /* the -cpu default it fills from context.cpu;
                            NULL: it adds no -cpu */
    bool kvm;            /* it adds -cpu host -enable-kvm unless no_kvm */
} qhil_lava_arch;

/* The template's entry for a LAVA arch name, NULL when it has none. */
const qhil_lava_arch *qhil_lava_arch_find(const char *name);

/* What a job's context gives the template.  Borrowed. */
typedef struct qhil_lava_context {
    const qhil_lava_arch *arch;
    const char *machine; /* NULL: not in the context */
    const char *cpu;
    const char *memory;
    const char *model;     /* the NIC: "model=virtio" when NULL */
    const char *netdevice; /* "user" when NULL */
    const char *mac_addr;  /* "52:54:00:12:34:58" when NULL */
    bool no_kvm;
    char **extra; /* extra_options, NULL-terminated or NULL */
} qhil_lava_context;

/*
 * QEMU's command line as the template renders it for ctx: options (the
 * template's own) and then the extra options, as lava-run joins them
 * (the binary first).  *out is malloc'ed and NULL-terminated; free with
 * qhil_argv_free.  QHIL_ENOMEM only.
 */
int qhil_lava_device_argv(const qhil_lava_context *ctx, char ***out);

/*
 * The device configuration (YAML) lava-run needs to run jobs with ctx
 * standalone, as lava-server renders it from its qemu device type and
 * the device dictionary "{% extends 'qemu.jinja2' %}", into *out (caller
 * releases it); header goes first, as comment lines.  QHIL_ENOMEM, or
 * QHIL_EINVAL when a value is not UTF-8.
 */
int qhil_lava_device_config(const qhil_lava_context *ctx, const char *header,
                            qhil_buf *out, qhil_error *err);

#endif /* QHIL_LAVA_DEVICE_H */
