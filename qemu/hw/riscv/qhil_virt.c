/*
 * Board glue: put the qhil overlay devices on the RISC-V virt machine.
 * virt.c calls qhil_virt_create_devices() once, after its own devices.
 *
 * SPDX-License-Identifier: MIT
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "hw/sysbus.h"
#include "hw/misc/banana_rom.h"
#include "hw/misc/qhil_timer.h"
#include "hw/riscv/qhil_virt.h"

static SysBusDevice *qhil_virt_add(MachineState *machine, const char *type,
                                   const char *name, hwaddr base)
{
    DeviceState *dev = qdev_new(type);

    object_property_add_child(OBJECT(machine), name, OBJECT(dev));
    sysbus_realize_and_unref(SYS_BUS_DEVICE(dev), &error_fatal);
    sysbus_mmio_map_overlap(SYS_BUS_DEVICE(dev), 0, base,
                            QHIL_VIRT_MMIO_PRIORITY);
    return SYS_BUS_DEVICE(dev);
}

void qhil_virt_create_devices(MachineState *machine, DeviceState *irqchip)
{
    SysBusDevice *timer;

    qhil_virt_add(machine, TYPE_BANANA_ROM, "banana-rom",
                  QHIL_VIRT_BANANA_ROM_BASE);
    timer = qhil_virt_add(machine, TYPE_QHIL_TIMER, "qhil-timer",
                          QHIL_VIRT_TIMER_BASE);
    sysbus_connect_irq(timer, 0,
                       qdev_get_gpio_in(irqchip, QHIL_VIRT_TIMER_IRQ));
    /*
     * virt leaves its interrupt controller unattached, so its QOM path
     * depends on creation order.  A link gives tests a stable name for
     * QTest's irq_intercept_in: /machine/qhil-irqchip.
     */
    object_property_add_const_link(OBJECT(machine), "qhil-irqchip",
                                   OBJECT(irqchip));
}
