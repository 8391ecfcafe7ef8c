/*
 * qhil-timer: a countdown timer in nanoseconds of QEMU_CLOCK_VIRTUAL, with
 * a level interrupt and an 8-entry 32-bit data FIFO (qhil overlay).
 *
 * Registers (32-bit accesses only, offsets from the base):
 *   0x00 ID      ro  0x51A7E001
 *   0x04 CTRL    rw  bit0 EN, bit1 IRQ_EN, bit2 PERIODIC             reset 0
 *   0x08 STATUS      bit0 EXPIRED (w1c), bit1 FIFO_EMPTY (ro),
 *                    bit2 FIFO_FULL (ro), bit3 FIFO_OVERRUN (w1c),
 *                    bit4 FIFO_UNDERRUN (w1c), bits 11:8 FIFO_LEVEL (ro)
 *                                                               reset 0x2
 *   0x0C LOAD    rw  countdown length in ns                        reset 0
 *   0x10 COUNT   ro  ns left before the next expiry, 0 when stopped
 *   0x14 DATA    rw  write pushes onto the FIFO, read pops from it
 *
 * The counter's states and what moves between them:
 *
 *   STOPPED --CTRL.EN 0->1 (qhil_timer_start)--> RUNNING
 *   RUNNING --CTRL.EN 1->0 (qhil_timer_write_ctrl)--> STOPPED
 *   RUNNING --LOAD written (qhil_timer_start)--> RUNNING, restarted
 *   RUNNING --deadline reached (qhil_timer_expire)--> STATUS.EXPIRED set;
 *            one-shot: CTRL.EN cleared, STOPPED;
 *            periodic: next deadline = this one + LOAD, RUNNING
 *
 * Starting with LOAD = 0 expires at once and stops (a zero period is not
 * allowed, so periodic mode behaves as one-shot and logs a guest error).
 * The interrupt line is level: high while STATUS.EXPIRED and CTRL.IRQ_EN
 * are both set; writing 1 to STATUS.EXPIRED lowers it.
 *
 * SPDX-License-Identifier: MIT
 */

#include "qemu/osdep.h"
#include "qemu/log.h"
#include "qemu/module.h"
#include "hw/irq.h"
#include "hw/misc/qhil_timer.h"
#include "hw/registerfields.h"
#include "migration/vmstate.h"
#include "trace.h"

REG32(ID, 0x00)
REG32(CTRL, 0x04)
    FIELD(CTRL, EN, 0, 1)
    FIELD(CTRL, IRQ_EN, 1, 1)
    FIELD(CTRL, PERIODIC, 2, 1)
REG32(STATUS, 0x08)
    FIELD(STATUS, EXPIRED, 0, 1)
    FIELD(STATUS, FIFO_EMPTY, 1, 1)
    FIELD(STATUS, FIFO_FULL, 2, 1)
    FIELD(STATUS, FIFO_OVERRUN, 3, 1)
    FIELD(STATUS, FIFO_UNDERRUN, 4, 1)
    FIELD(STATUS, FIFO_LEVEL, 8, 4)
REG32(LOAD, 0x0C)
REG32(COUNT, 0x10)
REG32(DATA, 0x14)

#define CTRL_MASK (R_CTRL_EN_MASK | R_CTRL_IRQ_EN_MASK | R_CTRL_PERIODIC_MASK)
#define STATUS_W1C_MASK (R_STATUS_EXPIRED_MASK | R_STATUS_FIFO_OVERRUN_MASK | \
                         R_STATUS_FIFO_UNDERRUN_MASK)

static const char *qhil_timer_reg_name(hwaddr offset)
{
    switch (offset) {
    case A_ID:
        return "ID";
    case A_CTRL:
        return "CTRL";
    case A_STATUS:
        return "STATUS";
    case A_LOAD:
        return "LOAD";
    case A_COUNT:
        return "COUNT";
    case A_DATA:
        return "DATA";
    default:
        return "(none)";
    }
}

static void qhil_timer_update_irq(QhilTimerState *s)
{
    bool level = (s->status & R_STATUS_EXPIRED_MASK) &&
                 (s->ctrl & R_CTRL_IRQ_EN_MASK);

    if (level != s->irq_level) {
        trace_qhil_timer_irq(level);
        s->irq_level = level;
    }
    qemu_set_irq(s->irq, level);
}

/* Start (or restart) a countdown of LOAD ns from now.  CTRL.EN is set. */
static void qhil_timer_start(QhilTimerState *s)
{
    int64_t now = qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL);

    if (s->load == 0) {
        if (s->ctrl & R_CTRL_PERIODIC_MASK) {
            qemu_log_mask(LOG_GUEST_ERROR,
                          "%s: periodic mode with LOAD = 0; expiring once\n",
                          TYPE_QHIL_TIMER);
        }
        timer_del(&s->timer);
        trace_qhil_timer_expire(now, 0);
        s->status |= R_STATUS_EXPIRED_MASK;
        s->ctrl &= ~R_CTRL_EN_MASK;
        return;
    }
    s->deadline = now + s->load;
    trace_qhil_timer_start(s->load, s->deadline);
    timer_mod_ns(&s->timer, s->deadline);
}

static void qhil_timer_expire(void *opaque)
{
    QhilTimerState *s = QHIL_TIMER(opaque);
    int64_t now = qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL);
    bool periodic = s->ctrl & R_CTRL_PERIODIC_MASK;

    trace_qhil_timer_expire(now, periodic);
    s->status |= R_STATUS_EXPIRED_MASK;
    if (periodic) {
        /*
         * Keep the phase: the next deadline is one period after this one.
         * Periods already missed (the clock ran past several deadlines
         * before this callback) fold into this one expiry.
         */
        int64_t missed = now > s->deadline ? (now - s->deadline) / s->load
                                           : 0;
        s->deadline += (missed + 1) * (int64_t)s->load;
        timer_mod_ns(&s->timer, s->deadline);
    } else {
        s->ctrl &= ~R_CTRL_EN_MASK;
    }
    qhil_timer_update_irq(s);
}

static uint32_t qhil_timer_count(QhilTimerState *s)
{
    int64_t left;

    if (!(s->ctrl & R_CTRL_EN_MASK)) {
        return 0;
    }
    left = s->deadline - qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL);
    if (left < 0) {
        return 0;       /* due, the callback has not run yet */
    }
    return MIN(left, UINT32_MAX);
}

static uint32_t qhil_timer_status(QhilTimerState *s)
{
    uint32_t v = s->status;
    uint32_t level = fifo32_num_used(&s->fifo);

    v = FIELD_DP32(v, STATUS, FIFO_EMPTY, level == 0);
    v = FIELD_DP32(v, STATUS, FIFO_FULL, level == QHIL_TIMER_FIFO_DEPTH);
    v = FIELD_DP32(v, STATUS, FIFO_LEVEL, level);
    return v;
}

static uint32_t qhil_timer_pop(QhilTimerState *s)
{
    if (fifo32_is_empty(&s->fifo)) {
        qemu_log_mask(LOG_GUEST_ERROR, "%s: DATA read from an empty FIFO\n",
                      TYPE_QHIL_TIMER);
        s->status |= R_STATUS_FIFO_UNDERRUN_MASK;
        return 0;
    }
    return fifo32_pop(&s->fifo);
}

static void qhil_timer_push(QhilTimerState *s, uint32_t value)
{
    if (fifo32_is_full(&s->fifo)) {
        qemu_log_mask(LOG_GUEST_ERROR,
                      "%s: DATA write 0x%08" PRIx32 " to a full FIFO dropped\n",
                      TYPE_QHIL_TIMER, value);
        s->status |= R_STATUS_FIFO_OVERRUN_MASK;
        return;
    }
    fifo32_push(&s->fifo, value);
}

static uint64_t qhil_timer_read(void *opaque, hwaddr offset, unsigned size)
{
    QhilTimerState *s = QHIL_TIMER(opaque);
    uint32_t value;

    switch (offset) {
    case A_ID:
        value = QHIL_TIMER_ID;
        break;
    case A_CTRL:
        value = s->ctrl;
        break;
    case A_STATUS:
        value = qhil_timer_status(s);
        break;
    case A_LOAD:
        value = s->load;
        break;
    case A_COUNT:
        value = qhil_timer_count(s);
        break;
    case A_DATA:
        value = qhil_timer_pop(s);
        break;
    default:
        qemu_log_mask(LOG_GUEST_ERROR,
                      "%s: read at unknown offset 0x%" HWADDR_PRIx "\n",
                      TYPE_QHIL_TIMER, offset);
        value = 0;
        break;
    }
    trace_qhil_timer_read(qhil_timer_reg_name(offset), offset, value);
    return value;
}

static void qhil_timer_write_ctrl(QhilTimerState *s, uint32_t value)
{
    uint32_t old = s->ctrl;

    s->ctrl = value & CTRL_MASK;
    if (!(old & R_CTRL_EN_MASK) && (s->ctrl & R_CTRL_EN_MASK)) {
        qhil_timer_start(s);
    } else if ((old & R_CTRL_EN_MASK) && !(s->ctrl & R_CTRL_EN_MASK)) {
        timer_del(&s->timer);
    }
    /* A PERIODIC change while running takes effect at the next expiry. */
}

static void qhil_timer_write(void *opaque, hwaddr offset, uint64_t value64,
                             unsigned size)
{
    QhilTimerState *s = QHIL_TIMER(opaque);
    uint32_t value = value64;

    trace_qhil_timer_write(qhil_timer_reg_name(offset), offset, value);
    switch (offset) {
    case A_CTRL:
        qhil_timer_write_ctrl(s, value);
        break;
    case A_STATUS:
        s->status &= ~(value & STATUS_W1C_MASK);
        break;
    case A_LOAD:
        s->load = value;
        if (s->ctrl & R_CTRL_EN_MASK) {
            qhil_timer_start(s);
        }
        break;
    case A_DATA:
        qhil_timer_push(s, value);
        break;
    case A_ID:
    case A_COUNT:
        qemu_log_mask(LOG_GUEST_ERROR,
                      "%s: write 0x%08" PRIx32 " to read-only %s ignored\n",
                      TYPE_QHIL_TIMER, value, qhil_timer_reg_name(offset));
        break;
    default:
        qemu_log_mask(LOG_GUEST_ERROR,
                      "%s: write 0x%08" PRIx32 " at unknown offset 0x%"
                      HWADDR_PRIx " ignored\n",
                      TYPE_QHIL_TIMER, value, offset);
        break;
    }
    qhil_timer_update_irq(s);
}

static const MemoryRegionOps qhil_timer_ops = {
    .read = qhil_timer_read,
    .write = qhil_timer_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = {
        .min_access_size = 4,
        .max_access_size = 4,
        .unaligned = false,
    },
};

static void qhil_timer_reset_enter(Object *obj, ResetType type)
{
    QhilTimerState *s = QHIL_TIMER(obj);

    timer_del(&s->timer);
    s->ctrl = 0;
    s->status = 0;
    s->load = 0;
    s->deadline = 0;
    fifo32_reset(&s->fifo);
}

static void qhil_timer_reset_hold(Object *obj)
{
    qhil_timer_update_irq(QHIL_TIMER(obj));
}

static int qhil_timer_post_load(void *opaque, int version_id)
{
    QhilTimerState *s = QHIL_TIMER(opaque);

    /* The line's level itself travels with the interrupt controller. */
    s->irq_level = (s->status & R_STATUS_EXPIRED_MASK) &&
                   (s->ctrl & R_CTRL_IRQ_EN_MASK);
    return 0;
}

static const VMStateDescription vmstate_qhil_timer = {
    .name = TYPE_QHIL_TIMER,
    .version_id = 1,
    .minimum_version_id = 1,
    .post_load = qhil_timer_post_load,
    .fields = (VMStateField[]) {
        VMSTATE_UINT32(ctrl, QhilTimerState),
        VMSTATE_UINT32(status, QhilTimerState),
        VMSTATE_UINT32(load, QhilTimerState),
        VMSTATE_INT64(deadline, QhilTimerState),
        VMSTATE_TIMER(timer, QhilTimerState),
        VMSTATE_FIFO32(fifo, QhilTimerState),
        VMSTATE_END_OF_LIST()
    },
};

static void qhil_timer_init(Object *obj)
{
    QhilTimerState *s = QHIL_TIMER(obj);

    memory_region_init_io(&s->mmio, obj, &qhil_timer_ops, s,
                          TYPE_QHIL_TIMER, QHIL_TIMER_MMIO_SIZE);
    sysbus_init_mmio(SYS_BUS_DEVICE(obj), &s->mmio);
    sysbus_init_irq(SYS_BUS_DEVICE(obj), &s->irq);
}

static void qhil_timer_realize(DeviceState *dev, Error **errp)
{
    QhilTimerState *s = QHIL_TIMER(dev);

    timer_init_ns(&s->timer, QEMU_CLOCK_VIRTUAL, qhil_timer_expire, s);
    fifo32_create(&s->fifo, QHIL_TIMER_FIFO_DEPTH);
}

static void qhil_timer_unrealize(DeviceState *dev)
{
    QhilTimerState *s = QHIL_TIMER(dev);

    timer_del(&s->timer);
    fifo32_destroy(&s->fifo);
}

static void qhil_timer_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    ResettableClass *rc = RESETTABLE_CLASS(klass);

    dc->desc = "qhil countdown timer with data FIFO";
    dc->realize = qhil_timer_realize;
    dc->unrealize = qhil_timer_unrealize;
    dc->vmsd = &vmstate_qhil_timer;
    rc->phases.enter = qhil_timer_reset_enter;
    rc->phases.hold = qhil_timer_reset_hold;
}

static const TypeInfo qhil_timer_info = {
    .name = TYPE_QHIL_TIMER,
    .parent = TYPE_SYS_BUS_DEVICE,
    .instance_size = sizeof(QhilTimerState),
    .instance_init = qhil_timer_init,
    .class_init = qhil_timer_class_init,
};

static void qhil_timer_register_types(void)
{
    type_register_static(&qhil_timer_info);
}

type_init(qhil_timer_register_types)
