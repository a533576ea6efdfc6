/*
 * Benchmark modes (bench/run drives them): the cost of one VM exit of each
 * kind, timed with the TSC inside the guest so that the VMM's start-up and
 * the serial output are not part of the figure.
 *
 * Each prints `bench <what>: <n> iterations, <c> cycles/iteration` (TSC
 * ticks) and powers off.  Iteration counts come from `iters=N`.
 */
#include "virtio.h"

/* An I/O port neither Swiftlet nor QEMU claims: QEMU's fw_cfg holds
 * 0x510-0x511 and its DMA interface 0x514-0x51b. */
#define BENCH_PORT	0x512
/* In the 32-bit MMIO hole, away from Swiftlet's BARs (0xC0000000 up), the
 * ECAM (0xE0000000) and the APICs (0xFEC00000, 0xFEE00000). */
#define BENCH_MMIO	0xD0000000ULL

static inline u64 rdtsc(void)
{
	u32 lo, hi;
	/* No LFENCE: KVM's emulator on PVM lacks fences; the loops are long
	 * enough that where RDTSC retires does not matter. */
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi) :: "memory");
	return lo | (u64)hi << 32;
}

static u64 iterations(u64 fallback)
{
	u64 n;
	return arg_number("iters", 10, &n) == 1 && n > 0 ? n : fallback;
}

static void report(const char *what, u64 n, u64 cycles)
{
	print("bench %s: %lu iterations, %lu cycles/iteration\n", what, n, cycles / n);
	power_off();
}

/* mode=exit: nothing at all; the run is the VMM's start-up and tear-down. */
void mode_exit(void)
{
	power_off();
}

/* mode=bench-pio: OUT to an unclaimed port, one exit each. */
void mode_bench_pio(void)
{
	u64 n = iterations(10000), port;
	if (arg_number("port", 16, &port) != 1)
		port = BENCH_PORT;
	u64 t0 = rdtsc();
	for (u64 i = 0; i < n; i++)
		outb((u16)port, (u8)i);
	report("pio", n, rdtsc() - t0);
}

/* mode=bench-mmio: a store to an unbacked address in the hole, one exit
 * each (no memory slot there, so KVM hands it to the VMM). */
void mode_bench_mmio(void)
{
	u64 n = iterations(10000), addr;
	if (arg_number("addr", 16, &addr) != 1)
		addr = BENCH_MMIO;
	u64 t0 = rdtsc();
	for (u64 i = 0; i < n; i++)
		mmio_wr32(addr, (u32)i);
	report("mmio", n, rdtsc() - t0);
}

/* mode=bench-rng: one 16-byte request at a time on virtio-rng's requestq:
 * the notify goes through the VMM's ioeventfd (if any) to the device's
 * thread and back as a used element, which we poll for (no interrupt). */
void mode_bench_rng(void)
{
	static struct virtio_dev d = { .name = "rng" };
	static u8 buf[16];
	if (!virtio_init(&d, VIRTIO_ID_RNG, 0, 1)) {
		print("testguest: no virtio-rng device\n");
		power_off();
	}
	u64 n = iterations(1000);
	struct vseg s = { buf, sizeof(buf), true };
	u64 t0 = rdtsc();
	for (u64 i = 0; i < n; i++) {
		vq_submit(&d.vq[0], 0, &s, 1);
		u32 id, len;
		const char *err = vq_wait(&d.vq[0], VIRTIO_REQUEST_MS, &id, &len);
		if (err) {
			print("FAIL bench-rng: request %lu: %s\n", i, err);
			power_off();
		}
	}
	u64 cycles = rdtsc() - t0;
	virtio_reset(&d);
	report("rng", n, cycles);
}
