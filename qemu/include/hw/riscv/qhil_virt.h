/*
 * Where the qhil overlay devices sit on the RISC-V virt board.
 *
 * Both windows lie at the start of virt's platform-bus window
 * (0x4000000..0x5FFFFFF) and are mapped above it (priority 1), so they
 * win over any dynamic sysbus device placed there.  PLIC source 12 is the
 * first one after virt's RTC (11) that virt leaves unused.
 *
 * SPDX-License-Identifier: MIT
 */

#ifndef HW_RISCV_QHIL_VIRT_H
#define HW_RISCV_QHIL_VIRT_H

#include "hw/boards.h"

#define QHIL_VIRT_BANANA_ROM_BASE   0x4000000
#define QHIL_VIRT_TIMER_BASE        0x4001000
#define QHIL_VIRT_TIMER_IRQ         12
#define QHIL_VIRT_MMIO_PRIORITY     1

/*
 * Create the overlay devices as children "banana-rom" and "qhil-timer" of
 * @machine, map them and wire the timer to source QHIL_VIRT_TIMER_IRQ of
 * @irqchip (socket 0's PLIC or APLIC).  Exits on failure, like the rest
 * of the board's construction.
 */
void qhil_virt_create_devices(MachineState *machine, DeviceState *irqchip);

#endif /* HW_RISCV_QHIL_VIRT_H */
