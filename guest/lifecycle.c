/*
 * Modes for the ways a run ends other than a clean power-off: a panic
 * reported through pvpanic, a reboot loop, endless output (for a reader
 * that goes away, as `swiftlet ... | head -1` does), and a paced counter
 * (for pausing and resuming a VM).
 */
#include "guest.h"

#define PVPANIC_PORT		0x505
#define PVPANIC_PANICKED	0x01

/* mode=panic: what Linux's pvpanic driver does in its panic notifier. */
void mode_panic(void)
{
	print("testguest: pvpanic supports %02x\n", inb(PVPANIC_PORT));
	print("testguest: panicking\n");
	outb(PVPANIC_PORT, PVPANIC_PANICKED);
	settle();
	print("testguest: still running after the panic\n");
	power_off();
}

/* mode=reset-forever: every boot resets through ACPI at once. */
void mode_reset_forever(void)
{
	print("testguest: resetting again\n");
	acpi_reset();
	print("testguest: reset failed\n");
	power_off();
}

/* mode=chatty: `chatty_lines` (default 2000) numbered lines, then power
 * off; enough to outlast a pipe's buffer once its reader has gone. */
void mode_chatty(void)
{
	u64 lines = 2000;
	if (arg_number("chatty_lines", 10, &lines) < 0)
		print("testguest: chatty_lines is not a decimal number\n");
	for (u64 n = 0; n < lines; n++)
		print("chatty %lu\n", n);
	power_off();
}

/*
 * mode=counter: `count <n>` every `interval_ms` (default 100) by the TSC,
 * measured against the PIT first (clock.c), for `count_lines` lines
 * (default: forever), then power off.  A host that pauses the VM sees no
 * line while it is paused (the guest is not running), then one line at
 * once on resume and the pace after it: a line whose time went by is
 * printed, the ones after it are not crowded in to catch up.
 */
void mode_counter(void)
{
	u64 interval_ms = 100, lines = ~0ULL;
	if (arg_number("interval_ms", 10, &interval_ms) < 0 || interval_ms > 3600000) {
		print("testguest: interval_ms is not a decimal number of at most 3600000\n");
		power_off();
	}
	if (arg_number("count_lines", 10, &lines) < 0) {
		print("testguest: count_lines is not a decimal number\n");
		power_off();
	}
	u64 khz = tsc_khz();
	if (khz) {
		print("counter: tsc %lu kHz by the pit\n", khz);
	} else {
		khz = 4000000;
		print("counter: the pit does not count; assuming a 4 GHz tsc\n");
	}
	u64 step = interval_ms * khz;
	u64 next = tsc_read();
	for (u64 n = 0; n < lines; n++) {
		while (tsc_read() < next)
			cpu_relax();
		print("count %lu\n", n);
		next += step;
		u64 now = tsc_read();
		if (next <= now)
			next = now + step;
	}
	power_off();
}
