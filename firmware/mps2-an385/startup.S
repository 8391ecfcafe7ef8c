/*
 * startup.S - vector table and reset code for the mps2-an385 (Cortex-M3).
 *
 * The reset handler copies .data to RAM, clears .bss and calls main().
 * Fault handlers get a small entry stub here that finds the stacked
 * exception frame and passes it to the C reporting code in exceptions.c.
 */
    .syntax unified
    .cpu cortex-m3
    .thumb

/* ---- Vector table: read by the CPU from address 0 --------------------- */
    .section .vectors, "a", %progbits
    .global vector_table
    .type vector_table, %object
vector_table:
    .word __stack_top           /*  0: initial main stack pointer */
    .word Reset_Handler         /*  1: reset */
    .word NMI_Handler           /*  2: NMI */
    .word HardFault_Handler     /*  3: HardFault */
    .word MemManage_Handler     /*  4: MemManage fault */
    .word BusFault_Handler      /*  5: BusFault */
    .word UsageFault_Handler    /*  6: UsageFault */
    .word 0, 0, 0, 0            /*  7-10: reserved */
    .word Default_Handler       /* 11: SVCall */
    .word DebugMon_Handler      /* 12: DebugMonitor */
    .word 0                     /* 13: reserved */
    .word Default_Handler       /* 14: PendSV */
    .word Default_Handler       /* 15: SysTick */
    /* 16-47: the AN385's external interrupts (IRQ 0-31) */
    .word UART0_RX_Handler      /* 16: IRQ 0, UART0 receive (uart.c) */
    .rept 31                    /* 17-47: IRQ 1-31, not used */
    .word Default_Handler
    .endr
    .size vector_table, . - vector_table

/* ---- Reset: set up memory, then run the C code ------------------------ */
    .text
    .global Reset_Handler
    .type Reset_Handler, %function
    .thumb_func
Reset_Handler:
    /* Copy the initial values of .data from the image into RAM. */
    ldr   r0, =__data_start
    ldr   r1, =__data_end
    ldr   r2, =__data_load
1:  cmp   r0, r1
    bhs   2f
    ldr   r3, [r2], #4
    str   r3, [r0], #4
    b     1b
    /* Zero .bss. */
2:  ldr   r0, =__bss_start
    ldr   r1, =__bss_end
    movs  r3, #0
3:  cmp   r0, r1
    bhs   4f
    str   r3, [r0], #4
    b     3b
4:  bl    main
    /* main() never returns; if it did, sleep forever. */
5:  wfi
    b     5b
    .size Reset_Handler, . - Reset_Handler

/*
 * FAULT_ENTRY name, c_function
 * Exception entry that calls c_function(uint32_t *frame), where frame is the
 * exception frame the CPU stacked (r0-r3, r12, lr, pc, xPSR) on whichever
 * stack was in use. If the C function returns, the exception returns too.
 */
    .macro FAULT_ENTRY name, c_function
    .global \name
    .type \name, %function
    .thumb_func
\name:
    tst   lr, #4                /* EXC_RETURN bit 2: 0 = MSP, 1 = PSP */
    ite   eq
    mrseq r0, msp
    mrsne r0, psp
    push  {r4, lr}              /* keep EXC_RETURN; r4 keeps 8-byte alignment */
    bl    \c_function
    pop   {r4, pc}              /* loading EXC_RETURN into pc returns */
    .size \name, . - \name
    .endm

    FAULT_ENTRY HardFault_Handler,  hardfault_report
    FAULT_ENTRY MemManage_Handler,  memmanage_report
    FAULT_ENTRY BusFault_Handler,   busfault_report
    FAULT_ENTRY UsageFault_Handler, usagefault_report
    FAULT_ENTRY DebugMon_Handler,   debugmon_report
