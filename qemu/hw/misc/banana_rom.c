/*
 * banana-rom: a 256-byte read-only identification ROM (qhil overlay).
 *
 * Map (little-endian, 0x100 bytes):
 *   0x00        chip id, 0xBA000001 (property "chip-id")
 *   0x04..0xFC  0xDEADBEEF in every word
 *
 * Reads of 1, 2 or 4 bytes at a naturally aligned offset return the
 * matching byte lanes of the little-endian word that holds them: readb at
 * 0x0 gives 0x01, readb at 0x3 gives 0xBA, readw at 0x2 gives 0xBA00.
 * Misaligned and 8-byte accesses are refused by the memory core (a bus
 * error for the guest).  Writes of any allowed size change nothing: they
 * are ignored and logged as a guest error (-d guest_errors).
 *
 * The device has no state that can change, so its VMState is empty; it is
 * registered so that snapshots name the device explicitly.
 *
 * SPDX-License-Identifier: MIT
 */

#include "qemu/osdep.h"
#include "qemu/bitops.h"
#include "qemu/log.h"
#include "qemu/module.h"
#include "hw/misc/banana_rom.h"
#include "hw/qdev-properties.h"
#include "migration/vmstate.h"
#include "trace.h"

static uint64_t banana_rom_read(void *opaque, hwaddr offset, unsigned size)
{
    BananaRomState *s = BANANA_ROM(opaque);
    uint32_t word = offset < 4 ? s->chip_id : BANANA_ROM_FILL;
    uint32_t value = extract32(word, (offset & 3) * 8, size * 8);

    trace_banana_rom_read(offset, size, value);
    return value;
}

static void banana_rom_write(void *opaque, hwaddr offset, uint64_t value,
                             unsigned size)
{
    trace_banana_rom_write(offset, size, value);
    qemu_log_mask(LOG_GUEST_ERROR,
                  "%s: write of 0x%" PRIx64 " (%u bytes) at offset 0x%"
                  HWADDR_PRIx " ignored: the ROM is read-only\n",
                  TYPE_BANANA_ROM, value, size, offset);
}

static const MemoryRegionOps banana_rom_ops = {
    .read = banana_rom_read,
    .write = banana_rom_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = {
        .min_access_size = 1,
        .max_access_size = 4,
        .unaligned = false,
    },
};

static void banana_rom_init(Object *obj)
{
    BananaRomState *s = BANANA_ROM(obj);

    memory_region_init_io(&s->mmio, obj, &banana_rom_ops, s,
                          TYPE_BANANA_ROM, BANANA_ROM_MMIO_SIZE);
    sysbus_init_mmio(SYS_BUS_DEVICE(obj), &s->mmio);
}

static const VMStateDescription vmstate_banana_rom = {
    .name = TYPE_BANANA_ROM,
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (VMStateField[]) {
        VMSTATE_END_OF_LIST()
    },
};

static Property banana_rom_properties[] = {
    DEFINE_PROP_UINT32("chip-id", BananaRomState, chip_id,
                       BANANA_ROM_CHIP_ID),
    DEFINE_PROP_END_OF_LIST(),
};

static void banana_rom_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);

    dc->desc = "qhil read-only identification ROM";
    dc->vmsd = &vmstate_banana_rom;
    device_class_set_props(dc, banana_rom_properties);
}

static const TypeInfo banana_rom_info = {
    .name = TYPE_BANANA_ROM,
    .parent = TYPE_SYS_BUS_DEVICE,
    .instance_size = sizeof(BananaRomState),
    .instance_init = banana_rom_init,
    .class_init = banana_rom_class_init,
};

static void banana_rom_register_types(void)
{
    type_register_static(&banana_rom_info);
}

type_init(banana_rom_register_types)
