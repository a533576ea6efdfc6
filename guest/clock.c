/*
 * The TSC's frequency, measured against the 8254 PIT.
 *
 * The rest of the guest reads the TSC as if it ran at 4 GHz, which is
 * right for a timeout (a slower TSC only lengthens it) but not for a
 * pace.  CPUID would say the frequency on Intel (leaves 0x15 and 0x16),
 * but AMD has neither leaf and KVM adds none, so the one clock of known
 * rate every machine we run on has is the PIT: 1.193182 MHz, in KVM's
 * kernel (Swiftlet, QEMU) or QEMU's TCG.  Channel 0 is read through the
 * latch command, which needs no speaker gate (port 0x61) and no interrupt.
 */
#include "guest.h"

#define PIT_CHANNEL0	0x40
#define PIT_COMMAND	0x43
#define PIT_HZ		1193182ULL
/* Channel 0, low then high byte, mode 0 (one interrupt at terminal count,
 * then the count wraps and goes on down), binary. */
#define PIT_CH0_MODE0	0x30
#define PIT_CH0_LATCH	0x00

static u16 pit_count(void)
{
	outb(PIT_COMMAND, PIT_CH0_LATCH);
	u8 lo = inb(PIT_CHANNEL0);
	u8 hi = inb(PIT_CHANNEL0);
	return (u16)(hi << 8 | lo);
}

/*
 * TSC ticks over 50 ms of PIT ticks.  Each end of the interval is a PIT
 * read followed by a TSC read, so the read's own cost cancels out; where
 * KVM emulates our code (PVM), a PIT read costs tens of microseconds,
 * still well under 0.1 % of the interval.  0 when the PIT does not count
 * (within at least a second by the 4 GHz clock).
 */
u64 tsc_khz(void)
{
	outb(PIT_COMMAND, PIT_CH0_MODE0);
	outb(PIT_CHANNEL0, 0);	/* a count of 0 is 65536 */
	outb(PIT_CHANNEL0, 0);
	u16 last = pit_count();
	u64 start = tsc_read(), end = start, ticks = 0;
	struct deadline d;
	deadline_start(&d, 1000);
	while (ticks < PIT_HZ / 20) {
		if (deadline_passed(&d))
			return 0;
		u16 now = pit_count();
		end = tsc_read();
		ticks += (u16)(last - now);	/* the count goes down and wraps at 16 bits */
		last = now;
	}
	/* At most ~2e8 TSC ticks in 50 ms (4 GHz) times 1.2e6: no overflow. */
	return (end - start) * PIT_HZ / ticks / 1000;
}
