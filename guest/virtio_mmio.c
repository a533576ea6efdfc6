/*
 * Where the virtio-mmio devices are (virtio 1.2, 4.2).  Two ways to hear,
 * and a VMM must use exactly one per boot (Linux would otherwise claim each
 * window twice):
 *
 * - `virtio_mmio.device=<size>@<base>:<irq>[:<id>]` words on our command
 *   line, Linux's syntax (size and base as memparse takes them: decimal or
 *   0x hex, K/M/G suffixes), which Swiftlet adds when the line says acpi=off;
 * - LNRO0005 devices in the DSDT: we scan the AML for the _HID string and
 *   read the Memory32Fixed and Interrupt descriptors of the _CRS after it.
 *
 * `mmio-discovery` reports which way, and fails when both or neither
 * offered devices.  Then a window is a virtio device only if its registers
 * say so: MagicValue "virt" and Version 2.
 */
#include "virtio.h"

#define MAX_WINDOWS	32
#define MIN_WINDOW	0x100	/* the registers alone */
#define CRS_REACH	96	/* bytes from _HID to the end of _CRS's descriptors */

struct window {
	u64 base, size;
	u32 irq;
};

static struct window windows[MAX_WINDOWS];
static unsigned nwindows;
static bool discovered;

bool virtio_mmio_wanted(void)
{
	return arg_is("transport", "mmio");
}

static void add_window(u64 base, u64 size, u32 irq, const char *from)
{
	if (size < MIN_WINDOW || base >= FOUR_GIB || size > FOUR_GIB - base) {
		print("virtio-mmio: %s names a window at %lx size %lx we cannot map\n", from, base, size);
		return;
	}
	if (nwindows == MAX_WINDOWS) {
		print("virtio-mmio: more than %u windows; ignoring %lx\n", MAX_WINDOWS, base);
		return;
	}
	windows[nwindows++] = (struct window){ base, size, irq };
}

/* memparse: 0x hex or decimal, then an optional K, M or G.  Returns the
 * first unparsed character, or NULL when there is no number. */
static const char *parse_size(const char *p, const char *end, u64 *out)
{
	unsigned base = 10;
	if (end - p > 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	const char *start = p;
	u64 v = 0;
	for (; p < end; p++) {
		unsigned d;
		if (*p >= '0' && *p <= '9')
			d = (unsigned)(*p - '0');
		else if (base == 16 && *p >= 'a' && *p <= 'f')
			d = (unsigned)(*p - 'a' + 10);
		else if (base == 16 && *p >= 'A' && *p <= 'F')
			d = (unsigned)(*p - 'A' + 10);
		else
			break;
		if (v > (~0ull - d) / base)
			return NULL;
		v = v * base + d;
	}
	if (p == start)
		return NULL;
	unsigned shift = 0;
	if (p < end && (*p == 'K' || *p == 'k'))
		shift = 10;
	else if (p < end && (*p == 'M' || *p == 'm'))
		shift = 20;
	else if (p < end && (*p == 'G' || *p == 'g'))
		shift = 30;
	if (shift) {
		if (v >> (64 - shift))
			return NULL;
		v <<= shift;
		p++;
	}
	*out = v;
	return p;
}

/* Every virtio_mmio.device= word (each one is a device, so not arg_get's
 * last-one-wins).  Returns how many named a window. */
static unsigned scan_cmdline(void)
{
	static const char key[] = "virtio_mmio.device=";
	const size_t klen = sizeof(key) - 1;
	unsigned found = 0;
	const char *p = boot.cmdline;
	while (*p) {
		while (*p == ' ')
			p++;
		const char *word = p;
		while (*p && *p != ' ')
			p++;
		if ((size_t)(p - word) <= klen || memcmp(word, key, klen) != 0)
			continue;
		u64 size, base, irq;
		const char *q = parse_size(word + klen, p, &size);
		if (q && q < p && *q == '@')
			q = parse_size(q + 1, p, &base);
		else
			q = NULL;
		if (q && q < p && *q == ':')
			q = parse_size(q + 1, p, &irq);
		else
			q = NULL;
		if (!q || (q < p && *q != ':')) {
			print("virtio-mmio: cannot parse a virtio_mmio.device= word\n");
			continue;
		}
		add_window(base, size, (u32)irq, "the command line");
		found++;
	}
	return found;
}

/* LNRO0005 devices in the DSDT: their count, and their windows when
 * `record`.  Every offset is checked against the table's length. */
static unsigned scan_dsdt(bool record)
{
	static const u8 hid[] = { 0x0D, 'L', 'N', 'R', 'O', '0', '0', '0', '5', 0 };
	if (!boot.rsdp)
		return 0;
	u64 fadt = acpi_find(boot.rsdp, "FACP");
	u64 dsdt = fadt ? acpi_dsdt(fadt) : 0;
	if (!dsdt)
		return 0;
	u64 len = rd32(dsdt + 4);
	unsigned found = 0;
	for (u64 i = 36; i + sizeof(hid) <= len; i++) {
		if (memcmp(phys(dsdt + i), hid, sizeof(hid)) != 0)
			continue;
		found++;
		u64 base = 0, size = 0;
		u32 irq = 0;
		u64 end = i + sizeof(hid) + CRS_REACH < len ? i + sizeof(hid) + CRS_REACH : len;
		for (u64 at = i + sizeof(hid); at + 3 <= end; at++) {
			u64 a = dsdt + at;
			/* Memory32Fixed: 0x86, length 9, flags, base, size. */
			if (!size && rd8(a) == 0x86 && rd16(a + 1) == 9 && at + 12 <= len) {
				base = rd32(a + 4);
				size = rd32(a + 8);
			}
			/* Extended Interrupt: 0x89, length, flags, count, GSIs. */
			if (!irq && rd8(a) == 0x89 && rd16(a + 1) >= 6 && at + 9 <= len && rd8(a + 4) >= 1)
				irq = rd32(a + 5);
		}
		if (record)
			add_window(base, size, irq, "the DSDT");
	}
	return found;
}

static void discover(void)
{
	if (discovered)
		return;
	discovered = true;
	unsigned from_cmdline = scan_cmdline();
	unsigned from_dsdt = scan_dsdt(from_cmdline == 0);
	check("mmio-discovery", (from_cmdline == 0) != (from_dsdt == 0),
	      "%u windows on the command line, %u LNRO0005 devices in the DSDT: want one way only",
	      from_cmdline, from_dsdt);
	print("virtio-mmio: %u windows from %s\n", nwindows,
	      from_cmdline ? "the command line" : "the DSDT");
}

bool mmio_find(u16 id, u64 *base, u32 *irq)
{
	discover();
	for (unsigned i = 0; i < nwindows; i++) {
		u64 b = windows[i].base;
		if (mmio_rd32(b + VMMIO_MAGIC) != VMMIO_MAGIC_VALUE || mmio_rd32(b + VMMIO_VERSION) != 2)
			continue;
		if (mmio_rd32(b + VMMIO_DEVICE_ID) == id) {
			*base = b;
			*irq = windows[i].irq;
			return true;
		}
	}
	return false;
}
