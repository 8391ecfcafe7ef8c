/*
 * qhil-timer: a one-shot/periodic countdown timer in nanoseconds of
 * QEMU_CLOCK_VIRTUAL with a level interrupt and an 8-entry data FIFO
 * (qhil overlay).  See qemu/README.md in the qhil repository for the map.
 *
 * SPDX-License-Identifier: MIT
 */

#ifndef HW_MISC_QHIL_TIMER_H
#define HW_MISC_QHIL_TIMER_H

#include "hw/sysbus.h"
#include "qemu/fifo32.h"
#include "qemu/timer.h"
#include "qom/object.h"

#define TYPE_QHIL_TIMER "qhil-timer"
OBJECT_DECLARE_SIMPLE_TYPE(QhilTimerState, QHIL_TIMER)

#define QHIL_TIMER_MMIO_SIZE    0x100
#define QHIL_TIMER_ID           0x51A7E001u
#define QHIL_TIMER_FIFO_DEPTH   8

struct QhilTimerState {
    /*< private >*/
    SysBusDevice parent_obj;

    /*< public >*/
    MemoryRegion mmio;
    qemu_irq irq;
    QEMUTimer timer;            /* armed while CTRL.EN is set */

    uint32_t ctrl;              /* CTRL as last written, EN cleared on expiry */
    uint32_t status;            /* sticky STATUS bits only (W1C ones) */
    uint32_t load;              /* LOAD: period in ns */
    int64_t deadline;           /* QEMU_CLOCK_VIRTUAL ns of the next expiry */
    Fifo32 fifo;                /* DATA FIFO */

    bool irq_level;             /* derived from the above, for tracing */
};

#endif /* HW_MISC_QHIL_TIMER_H */
