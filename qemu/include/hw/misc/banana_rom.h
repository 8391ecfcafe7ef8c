/*
 * banana-rom: a 256-byte read-only identification ROM (qhil overlay).
 *
 * The word at offset 0 holds the chip id; every other word reads as a
 * fill pattern.  See qemu/README.md in the qhil repository for the map.
 *
 * SPDX-License-Identifier: MIT
 */

#ifndef HW_MISC_BANANA_ROM_H
#define HW_MISC_BANANA_ROM_H

#include "hw/sysbus.h"
#include "qom/object.h"

#define TYPE_BANANA_ROM "banana-rom"
OBJECT_DECLARE_SIMPLE_TYPE(BananaRomState, BANANA_ROM)

#define BANANA_ROM_MMIO_SIZE    0x100
#define BANANA_ROM_CHIP_ID      0xBA000001u
#define BANANA_ROM_FILL         0xDEADBEEFu

struct BananaRomState {
    /*< private >*/
    SysBusDevice parent_obj;

    /*< public >*/
    MemoryRegion mmio;
    uint32_t chip_id;           /* property "chip-id" */
};

#endif /* HW_MISC_BANANA_ROM_H */
