/*
 * The application processors' first instructions (mode=smp, smp.c).
 *
 * A startup IPI starts an AP in real mode at CS = vector << 8, IP = 0
 * (Intel SDM vol. 3, 10.4.4 / 11.4.4), so this code is copied to a free
 * page below 1 MiB (SMP_TRAMPOLINE, 0x6000) and must not depend on where it
 * was linked: every address in it is relative to the trampoline's start.
 * It goes straight from real mode to long mode (PE and PG set together with
 * EFER.LME, as the SDM's 9.8.5 sequence allows from CR0.PE=0 when PAE is on)
 * on the boot CPU's page tables (CR3 0x9000) and GDT (0x500), then calls
 * the C function the boot CPU left in the trampoline's data, on the stack it
 * left there.  The boot CPU starts one AP at a time, so one slot of each is
 * enough.
 */
#define SMP_TRAMPOLINE	0x6000
#define SEL_CODE64	0x10
#define SEL_DATA	0x18
#define MSR_EFER	0xC0000080
#define EFER_LME	(1 << 8)
#define CR4_PAE		(1 << 5)
#define GDT_BASE	0x500
#define PML4		0x9000

	.section .rodata
	.globl smp_trampoline_start, smp_trampoline_end
	.globl smp_trampoline_stack, smp_trampoline_entry
	.balign 16
	.code16
smp_trampoline_start:
	cli
	mov %cs, %ax
	mov %ax, %ds
	lgdtl gdt_desc - smp_trampoline_start
	mov %cr4, %eax
	or $CR4_PAE, %eax
	mov %eax, %cr4
	mov $PML4, %eax
	mov %eax, %cr3
	mov $MSR_EFER, %ecx
	rdmsr
	or $EFER_LME, %eax
	wrmsr
	mov %cr0, %eax
	or $0x80000001, %eax	/* PG | PE */
	mov %eax, %cr0
	ljmpl $SEL_CODE64, $(SMP_TRAMPOLINE + long_mode - smp_trampoline_start)

	.code64
long_mode:
	mov $SEL_DATA, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov %ax, %fs
	mov %ax, %gs
	mov (SMP_TRAMPOLINE + smp_trampoline_stack - smp_trampoline_start), %rsp
	mov (SMP_TRAMPOLINE + smp_trampoline_entry - smp_trampoline_start), %rax
	call *%rax
1:	cli
	hlt
	jmp 1b

	.balign 8
gdt_desc:
	.word 0x1f		/* null, null, code 0x10, data 0x18 */
	.long GDT_BASE
	.balign 8
smp_trampoline_stack:
	.quad 0
smp_trampoline_entry:
	.quad 0
smp_trampoline_end:
