/*
 * Entry points of the test guest.
 *
 * linux_entry (the ELF entry): the 64-bit Linux boot protocol
 * (Documentation/arch/x86/boot.rst, "64-bit boot protocol"): long mode,
 * paging on with an identity map, interrupts off, RSI = boot_params.
 *
 * pvh_entry (XEN_ELFNOTE_PHYS32_ENTRY): the PVH boot ABI
 * (xen/include/public/arch-x86/hvm/start_info.h): 32-bit protected mode,
 * paging off, EBX = struct hvm_start_info.  It builds its own 4 GiB identity
 * map so the C code sees the same world as under the Linux protocol.
 *
 * Neither protocol promises a stack, so both take ours before calling C.
 */
#define STACK_SIZE	0x4000
#define SEL_CODE64	0x10
#define SEL_DATA	0x18
#define MSR_EFER	0xC0000080
#define EFER_LME	(1 << 8)
#define CR0_PE		(1 << 0)
#define CR0_PG		(1 << 31)
#define CR4_PAE		(1 << 5)
#define PTE_P_W		0x03
#define PDE_2M		0x83		/* present, writable, page size */

/* ELF note read by QEMU (and Xen) to find the PVH entry. */
	.section .note.Xen, "a"
	.balign 4
	.long 4			/* namesz: "Xen\0" */
	.long 4			/* descsz: a 32-bit physical address */
	.long 18		/* XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.long pvh_entry

	.text
	.code64
	.globl linux_entry
linux_entry:
	/* Record the machine state the VMM handed us for the entry-state
	 * check before we change any of it (cld below, cli later). */
	mov $stack_top, %rsp
	mov %rsi, %r12
	pushfq
	pop %r13
	/* Clear .bss ourselves: the loader should have, but the other checks
	 * must not depend on it.  Nothing is on the stack yet.  Eight bytes a
	 * step: a KVM that emulates ring 0 (PVM) pays per iteration, and
	 * rep stosb here cost 0.25 s. */
	cld
	mov $__bss_start, %edi
	mov $__bss_end, %ecx
	sub %edi, %ecx
	shr $3, %ecx		/* quadwords: guest.ld aligns both ends to 8 */
	xor %eax, %eax
	rep stosq
	mov %r13, entry_rflags
	mov %r12, entry_rsi
	movw %cs, entry_cs
	movw %ds, entry_ds
	movw %es, entry_es
	movw %ss, entry_ss
	cli
	mov %r12, %rdi		/* boot_params */
	xor %esi, %esi		/* no hvm_start_info */
	call guest_main
	jmp halt_forever

	.globl halt_forever
halt_forever:
	cli
	hlt
	jmp halt_forever

	.code32
	.globl pvh_entry
pvh_entry:
	cli
	cld
	mov %ebx, %esi		/* hvm_start_info, kept in esi throughout */

	mov $__bss_start, %edi
	mov $__bss_end, %ecx
	sub %edi, %ecx
	shr $2, %ecx		/* doublewords: no stosq before long mode */
	xor %eax, %eax
	rep stosl

	/* PML4[0] -> PDPT; PDPT[0..3] -> four page directories; each of
	 * their 512 entries maps 2 MiB: an identity map of 0..4 GiB. */
	mov $(pdpt + PTE_P_W), %eax
	mov %eax, pml4
	mov $(pd + PTE_P_W), %eax
	xor %ecx, %ecx
1:	mov %eax, pdpt(,%ecx,8)
	add $0x1000, %eax
	inc %ecx
	cmp $4, %ecx
	jb 1b
	mov $PDE_2M, %eax
	xor %ecx, %ecx
2:	mov %eax, pd(,%ecx,8)
	add $0x200000, %eax
	inc %ecx
	cmp $2048, %ecx
	jb 2b

	/* Our GDT has the same selectors as Swiftlet's (code 0x10, data
	 * 0x18) so the rest of the guest cannot tell the entries apart. */
	lgdt gdt_desc
	mov $SEL_DATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov %eax, %fs
	mov %eax, %gs

	/* Intel SDM vol. 3, 10.8.5 "Initializing IA-32e Mode". */
	mov %cr4, %eax
	or $CR4_PAE, %eax
	mov %eax, %cr4
	mov $pml4, %eax
	mov %eax, %cr3
	mov $MSR_EFER, %ecx
	rdmsr
	or $EFER_LME, %eax
	wrmsr
	mov %cr0, %eax
	or $(CR0_PG | CR0_PE), %eax
	mov %eax, %cr0
	ljmp $SEL_CODE64, $pvh_long

	.code64
pvh_long:
	mov $stack_top, %rsp
	xor %edi, %edi		/* no boot_params */
	mov %esi, %esi		/* upper half is undefined after the switch */
	call guest_main
	jmp halt_forever

/*
 * Exception stubs: each pushes a zero where the CPU pushes no error code,
 * then its vector, so isr_common sees one frame layout (struct frame in
 * guest.h).  The CPU aligns RSP to 16 before pushing the frame; 7 quads of
 * frame plus 15 saved registers keep it aligned for the C call.
 */
	.balign 16
	.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
isr\n:
	.if (\n == 8) || ((\n >= 10) && (\n <= 14)) || (\n == 17) || (\n == 21) || (\n == 29) || (\n == 30)
	.else
	pushq $0
	.endif
	pushq $\n
	jmp isr_common
	.endr

isr_common:
	push %rax
	push %rbx
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	push %rbp
	push %r8
	push %r9
	push %r10
	push %r11
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, %rdi
	cld
	call exception_handler
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %r11
	pop %r10
	pop %r9
	pop %r8
	pop %rbp
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rbx
	pop %rax
	add $16, %rsp		/* vector and error code */
	iretq

	.section .rodata
	.balign 8
	.globl isr_table
isr_table:
	.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.quad isr\n
	.endr

	/* Read-only is fine: the descriptors have their accessed bits set
	 * already, so the CPU never writes to them. */
	.balign 16
gdt:
	.quad 0
	.quad 0
	.quad 0x00af9b000000ffff	/* 0x10: 64-bit code */
	.quad 0x00cf93000000ffff	/* 0x18: flat data */
gdt_end:
gdt_desc:
	.word gdt_end - gdt - 1
	.long gdt

	.bss
	.balign 4096
pml4:	.skip 4096
pdpt:	.skip 4096
pd:	.skip 4 * 4096
	.balign 16
stack:	.skip STACK_SIZE
stack_top:
