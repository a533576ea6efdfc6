/*
 * mode=smp: the boot CPU starts every other CPU itself, the way an OS
 * does: INIT, then two startup IPIs (Intel SDM vol. 3, 11.4.4.1, the
 * "universal" INIT-SIPI-SIPI sequence) through its local APIC's xAPIC MMIO
 * registers.  Each CPU, the boot CPU first, prints `cpu <apicid> up` (its
 * initial APIC ID from CPUID leaf 1); once `expect_cpus` CPUs have (default:
 * the MADT's count) the boot CPU prints `ok smp` and powers off; otherwise
 * `FAIL smp: ...`.  Output is under a spinlock, since several CPUs print.
 */
#include "guest.h"

#define SMP_TRAMPOLINE	0x6000		/* a free page below 1 MiB (smp_trampoline.S) */
#define LAPIC		0xFEE00000ull
#define LAPIC_ID	0x020
#define LAPIC_SVR	0x0F0
#define LAPIC_ICR_LO	0x300
#define LAPIC_ICR_HI	0x310
#define ICR_INIT	0x00004500	/* INIT, level assert */
#define ICR_STARTUP	0x00004600	/* start-up, level assert; | vector */
#define ICR_PENDING	(1u << 12)	/* delivery status */
#define AP_STACK	0x2000
#define MAX_CPUS	16

extern const u8 smp_trampoline_start[], smp_trampoline_end[];
extern const u8 smp_trampoline_stack[], smp_trampoline_entry[];

static volatile u32 print_lock;
static volatile u32 cpus_up;
static u8 ap_stacks[MAX_CPUS][AP_STACK] __attribute__((aligned(16)));

static void locked_print(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void locked_print(const char *fmt, ...)
{
	while (__atomic_exchange_n(&print_lock, 1, __ATOMIC_ACQUIRE))
		cpu_relax();
	va_list ap;
	va_start(ap, fmt);
	vprint(fmt, ap);
	va_end(ap);
	__atomic_store_n(&print_lock, 0, __ATOMIC_RELEASE);
}

static u32 initial_apic_id(void)
{
	u32 a, b, c, d;
	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
	return b >> 24;
}

static void report_up(void)
{
	locked_print("cpu %u up\n", initial_apic_id());
	__atomic_fetch_add(&cpus_up, 1, __ATOMIC_SEQ_CST);
}

/* Where each AP arrives in C, on its own stack. */
static void ap_main(void)
{
	report_up();
	halt_forever();
}

static void icr_send(u32 apic_id, u32 low)
{
	mmio_wr32(LAPIC + LAPIC_ICR_HI, apic_id << 24);
	mmio_wr32(LAPIC + LAPIC_ICR_LO, low);
	struct deadline t;
	deadline_start(&t, 10);
	while ((mmio_rd32(LAPIC + LAPIC_ICR_LO) & ICR_PENDING) && !deadline_passed(&t))
		;
}

static void wait_ms(u32 ms)
{
	struct deadline t;
	deadline_start(&t, ms);
	while (!deadline_passed(&t))
		;
}

/* The MADT's enabled Local APIC entries, with their APIC IDs. */
static u32 madt_apic_ids(u32 ids[MAX_CPUS])
{
	u64 madt = boot.rsdp ? acpi_find(boot.rsdp, "APIC") : 0;
	if (!madt)
		return 0;
	u32 len = rd32(madt + 4), n = 0;
	for (u32 p = 44; p + 2 <= len && n < MAX_CPUS;) {
		u8 type = rd8(madt + p), elen = rd8(madt + p + 1);
		if (elen < 2)
			break;
		if (type == 0 && elen >= 8 && (rd32(madt + p + 4) & 1))
			ids[n++] = rd8(madt + p + 3);
		p += elen;
	}
	return n;
}

void mode_smp(void)
{
	u32 ids[MAX_CPUS];
	u32 listed = madt_apic_ids(ids);
	u64 want = listed;
	if (arg_number("expect_cpus", 10, &want) < 0 || want == 0 || want > MAX_CPUS) {
		print("FAIL smp: expect_cpus must be 1..%u\n", MAX_CPUS);
		power_off();
	}
	u32 self = initial_apic_id();
	report_up();

	/* Software-enable our local APIC (spurious vector 0xFF); KVM's starts
	 * hardware-enabled with APIC base 0xFEE00000. */
	mmio_wr32(LAPIC + LAPIC_SVR, 0x1FF);
	u32 size = (u32)(smp_trampoline_end - smp_trampoline_start);
	memcpy((void *)(uintptr_t)SMP_TRAMPOLINE, smp_trampoline_start, size);
	u64 *stack = (u64 *)(uintptr_t)(SMP_TRAMPOLINE + (smp_trampoline_stack - smp_trampoline_start));
	u64 *entry = (u64 *)(uintptr_t)(SMP_TRAMPOLINE + (smp_trampoline_entry - smp_trampoline_start));
	*entry = (u64)(uintptr_t)ap_main;

	/* One AP at a time: they share the trampoline's stack slot. */
	u32 started = 1;
	for (u32 i = 0; i < listed; i++) {
		if (ids[i] == self)
			continue;
		*stack = (u64)(uintptr_t)&ap_stacks[i][AP_STACK];
		mb();
		icr_send(ids[i], ICR_INIT);
		wait_ms(10);
		icr_send(ids[i], ICR_STARTUP | (SMP_TRAMPOLINE >> 12));
		wait_ms(1);
		if (__atomic_load_n(&cpus_up, __ATOMIC_SEQ_CST) <= started)
			icr_send(ids[i], ICR_STARTUP | (SMP_TRAMPOLINE >> 12));
		started++;
		struct deadline t;
		deadline_start(&t, 5000);
		while (__atomic_load_n(&cpus_up, __ATOMIC_SEQ_CST) < started && !deadline_passed(&t))
			;
		if (__atomic_load_n(&cpus_up, __ATOMIC_SEQ_CST) < started)
			locked_print("smp: apic id %u did not come up\n", ids[i]);
	}
	u32 up = __atomic_load_n(&cpus_up, __ATOMIC_SEQ_CST);
	if (up == want)
		locked_print("ok smp\n");
	else
		locked_print("FAIL smp: %u cpus up, expected %lu (MADT lists %u)\n", up, want, listed);
	power_off();
}
