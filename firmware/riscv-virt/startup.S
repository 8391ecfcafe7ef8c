/*
 * startup.S - entry and trap entry for the RISC-V virt (RV64, M-mode) firmware.
 *
 * Hart 0 sets up the stack and trap vector, clears .bss and calls main();
 * any other hart just sleeps. Every trap goes to trap_entry, which hands
 * mcause, mepc and mtval to trap_report() in trap.c (that never returns).
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
    csrr  a0, mcause
    csrr  a1, mepc
    csrr  a2, mtval
    la    sp, __stack_top       /* the trap never returns: a fresh stack is safe */
    j     trap_report
