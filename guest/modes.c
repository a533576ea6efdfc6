/*
 * The modes other than `check`: each exercises one VMM path (reset, serial
 * input, exception injection, CPUID, shutdown, emulation failure, hang).
 */
#include "guest.h"

#define CMOS_INDEX	0x70
#define CMOS_DATA	0x71
#define CMOS_MARK	0x40	/* first NVRAM byte no firmware of ours uses */
#define MARK_VALUE	0xA5

#define COM1		0x3F8
#define LSR_DR		0x01	/* data ready */

#define I8042_STATUS	0x64
#define I8042_IBF	0x02	/* input buffer full: controller busy */
#define I8042_RESET	0xFE	/* pulse the CPU reset line */

/* ---- IDT ---- */

struct idt_gate {
	u16 off_lo, sel;
	u8 ist, attr;
	u16 off_mid;
	u32 off_hi, reserved;
} __attribute__((packed));

struct table_desc {
	u16 limit;
	u64 base;
} __attribute__((packed));

extern const u64 isr_table[32];
static struct idt_gate idt[32] __attribute__((aligned(16)));

/* Set by mode_int3 while it expects breakpoints; NULL means #BP is as
 * unexpected as any other exception. */
static void (*breakpoint_hook)(struct frame *f);

void idt_install(void)
{
	/* Whatever CS the VMM (or our PVH stub) gave us is our code selector. */
	u16 cs;
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	for (int v = 0; v < 32; v++) {
		u64 a = isr_table[v];
		idt[v] = (struct idt_gate){
			.off_lo = (u16)a, .sel = cs, .attr = 0x8E, /* present 64-bit interrupt gate */
			.off_mid = (u16)(a >> 16), .off_hi = (u32)(a >> 32),
		};
	}
	struct table_desc d = { sizeof(idt) - 1, (u64)(uintptr_t)idt };
	__asm__ volatile("lidt %0" : : "m"(d));
}

void exception_handler(struct frame *f)
{
	if (f->vector == 3 && breakpoint_hook) {
		breakpoint_hook(f);
		return;
	}
	print("testguest: exception %lu at %016lx\n", f->vector, f->rip);
	power_off();
}

/* ---- mode=reset-acpi, mode=reset-i8042 ---- */

static u8 cmos_read(u8 index)
{
	outb(CMOS_INDEX, index);
	return inb(CMOS_DATA);
}

static void cmos_write(u8 index, u8 value)
{
	outb(CMOS_INDEX, index);
	outb(CMOS_DATA, value);
}

/* A mark in CMOS NVRAM, which survives the reset, tells the first boot
 * from the second; the second clears it so the next run starts clean. */
void mode_reset(bool acpi)
{
	if (cmos_read(CMOS_MARK) == MARK_VALUE) {
		cmos_write(CMOS_MARK, 0);
		print("testguest: second start, powering off\n");
		power_off();
	}
	cmos_write(CMOS_MARK, MARK_VALUE);
	print("testguest: resetting via %s\n", acpi ? "acpi" : "i8042");
	if (acpi) {
		acpi_reset();
	} else {
		/* Wait (boundedly) for the controller to take a command. */
		for (int i = 0; i < 100000 && (inb(I8042_STATUS) & I8042_IBF); i++)
			cpu_relax();
		outb(I8042_STATUS, I8042_RESET);
		settle();
	}
	cmos_write(CMOS_MARK, 0);
	print("testguest: reset failed\n");
	power_off();
}

/* ---- mode=echo ---- */

void mode_echo(void)
{
	for (;;) {
		while (!(inb(COM1 + 5) & LSR_DR))
			cpu_relax();
		u8 c = inb(COM1);
		if (c == 0x04)
			break;
		serial_putc((char)c);
	}
	print("testguest: echo done\n");
	power_off();
}

/* ---- mode=int3 ---- */

static volatile u32 breakpoints;
static volatile u64 bad_breakpoint_rip;

/* A #BP is a trap: the saved RIP is the instruction after the INT3.  A VMM
 * that injects it with RIP still on the INT3 would loop here forever, so
 * more than three is reported at once. */
static void on_breakpoint(struct frame *f)
{
	breakpoints++;
	if (rd8(f->rip - 1) != 0xCC)
		bad_breakpoint_rip = f->rip;
	if (breakpoints > 3) {
		print("FAIL int3: more than 3 breakpoints, last at %016lx\n", f->rip);
		power_off();
	}
}

void mode_int3(void)
{
	u32 seen[3];
	breakpoint_hook = on_breakpoint;
	__asm__ volatile("int3" ::: "memory");
	seen[0] = breakpoints;
	__asm__ volatile("int3" ::: "memory");
	seen[1] = breakpoints;
	__asm__ volatile("int3" ::: "memory");
	seen[2] = breakpoints;
	breakpoint_hook = NULL;
	if (seen[0] == 1 && seen[1] == 2 && seen[2] == 3 && !bad_breakpoint_rip)
		print("ok int3\n");
	else
		print("FAIL int3: counts after each int3 %u %u %u, bad rip %lx\n", seen[0], seen[1],
		      seen[2], bad_breakpoint_rip);

	/* FNINIT leaves no pending x87 exception, so FWAIT has nothing to
	 * raise: on real hardware it is a no-op; here it tests the VMM. */
	__asm__ volatile("fninit; fwait" ::: "memory");
	print("ok fwait\n");
	power_off();
}

/* ---- mode=cpuid ---- */

static void cpuid(u32 leaf, u32 sub, u32 r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(sub));
}

void mode_cpuid(void)
{
	u32 r[4];
	cpuid(1, 0, r);
	u32 apic_id = r[1] >> 24;
	print("cpuid 1 ecx=%08x edx=%08x\n", r[2], r[3]);
	cpuid(7, 0, r);
	print("cpuid 7 ebx=%08x ecx=%08x\n", r[1], r[2]);
	cpuid(0x40000000, 0, r);
	/* The hypervisor vendor is 12 bytes in EBX, ECX, EDX, NUL-padded. */
	char vendor[13];
	memcpy(vendor, &r[1], 4);
	memcpy(vendor + 4, &r[2], 4);
	memcpy(vendor + 8, &r[3], 4);
	vendor[12] = 0;
	for (int i = 0; i < 12 && vendor[i]; i++)
		if (vendor[i] < 0x20 || vendor[i] > 0x7e)
			vendor[i] = '.';
	print("cpuid 0x40000000 %s\n", vendor);
	cpuid(0x40000001, 0, r);
	print("cpuid 0x40000001 eax=%08x\n", r[0]);
	/* The topology leaves: x2APIC levels (0xB), AMD core count and ID bits
	 * (0x80000008 ECX), AMD extended APIC ID and threads per core (0x8000001E). */
	for (u32 sub = 0; sub < 2; sub++) {
		cpuid(0xb, sub, r);
		print("cpuid 0xb.%u eax=%08x ebx=%08x ecx=%08x edx=%08x\n", sub, r[0], r[1], r[2], r[3]);
	}
	cpuid(0x80000008, 0, r);
	print("cpuid 0x80000008 ecx=%08x\n", r[2]);
	cpuid(0x8000001e, 0, r);
	print("cpuid 0x8000001e eax=%08x ebx=%08x ecx=%08x\n", r[0], r[1], r[2]);
	print("apicid %u\n", apic_id);
	power_off();
}

/* ---- mode=triple-fault, mode=bad-insn, mode=hang ---- */

/* With an empty IDT the #UD cannot be delivered, nor can the #GP/#DF that
 * follow: the CPU shuts down.  UD2 rather than INT3 so the VMM's INT3
 * completion is not involved. */
void mode_triple_fault(void)
{
	print("testguest: triple fault next\n");
	struct table_desc d = { 0, 0 };
	__asm__ volatile("lidt %0; ud2" : : "m"(d) : "memory");
	print("testguest: still running after the triple fault\n");
	power_off();
}

/* CMPXCHG16B on a 16-byte-aligned operand never faults on a CPU with CX16,
 * but KVM's instruction emulator (all guest ring-0 code on PVM) lacks it. */
void mode_bad_insn(void)
{
	static u64 buf[2] __attribute__((aligned(16)));
	u64 lo = 0, hi = 0;
	print("testguest: bad instruction next\n");
	__asm__ volatile("cmpxchg16b %0"
			 : "+m"(buf), "+a"(lo), "+d"(hi)
			 : "b"((u64)1), "c"((u64)2)
			 : "memory", "cc");
	print("testguest: bad instruction executed\n");
	power_off();
}

void mode_hang(void)
{
	print("testguest: hanging\n");
	halt_forever();
}
