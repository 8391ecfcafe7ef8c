/*
 * startup.S - entry and trap entry for the RISC-V virt (RV64, M-mode) firmware.
 *
 * Hart 0 sets up the stack and trap vector, clears .bss and calls main();
 * any other hart just sleeps. Every trap goes to trap_entry. Interrupts,
 * and exceptions while a probe is armed, are handled by trap_handle() in
 * trap.c and return; any other exception goes to trap_report() (which
 * never returns) on a fresh stack.
 */
    .section .text.start, "ax", @progbits
    .global _start
_start:
    csrr  t0, mhartid
    bnez  t0, park

    la    sp, __stack_top
    la    t0, trap_entry
    csrw  mtvec, t0             /* direct mode: the address is 4-byte aligned */

    /* Zero .bss (bounds are 8-byte aligned by the linker script). */
    la    t0, __bss_start
    la    t1, __bss_end
1:  bgeu  t0, t1, 2f
    sd    zero, 0(t0)
    addi  t0, t0, 8
    j     1b

2:  call  main
    /* main() never returns; fall through to sleep if it did. */
park:
    wfi
    j     park

    .text
    .balign 4
    .global trap_entry
trap_entry:
    /*
     * Decide without touching memory through sp (it may be what broke):
     * t0 is parked in mscratch while mcause and the probe flag are read.
     */
    csrw  mscratch, t0
    csrr  t0, mcause
    bltz  t0, trap_save         /* bit 63 set: an interrupt */
    la    t0, trap_probe_armed
    lw    t0, 0(t0)
    bnez  t0, trap_save

    csrr  a0, mcause
    csrr  a1, mepc
    csrr  a2, mtval
    la    sp, __stack_top       /* the trap never returns: a fresh stack is safe */
    j     trap_report

    /*
     * A trap that returns: save the registers a C call may change,
     * let trap_handle() pick the resume address, restore and mret.
     */
trap_save:
    csrr  t0, mscratch
    addi  sp, sp, -128
    sd    ra,   0(sp)
    sd    t0,   8(sp)
    sd    t1,  16(sp)
    sd    t2,  24(sp)
    sd    t3,  32(sp)
    sd    t4,  40(sp)
    sd    t5,  48(sp)
    sd    t6,  56(sp)
    sd    a0,  64(sp)
    sd    a1,  72(sp)
    sd    a2,  80(sp)
    sd    a3,  88(sp)
    sd    a4,  96(sp)
    sd    a5, 104(sp)
    sd    a6, 112(sp)
    sd    a7, 120(sp)

    csrr  a0, mcause
    csrr  a1, mepc
    csrr  a2, mtval
    call  trap_handle
    csrw  mepc, a0

    ld    ra,   0(sp)
    ld    t0,   8(sp)
    ld    t1,  16(sp)
    ld    t2,  24(sp)
    ld    t3,  32(sp)
    ld    t4,  40(sp)
    ld    t5,  48(sp)
    ld    t6,  56(sp)
    ld    a0,  64(sp)
    ld    a1,  72(sp)
    ld    a2,  80(sp)
    ld    a3,  88(sp)
    ld    a4,  96(sp)
    ld    a5, 104(sp)
    ld    a6, 112(sp)
    ld    a7, 120(sp)
    addi  sp, sp, 128
    mret
