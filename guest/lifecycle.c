/*
 * Modes for the ways a run ends other than a clean power-off: a panic
 * reported through pvpanic, a reboot loop, and endless output (for a
 * reader that goes away, as `swiftlet ... | head -1` does).
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
