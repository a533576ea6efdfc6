/*
 * Just enough PCI to find virtio devices on bus 0: configuration space
 * through ECAM when the ACPI MCFG names it (PCI Firmware 3.2, 4.1.2), else
 * through ports 0xCF8/0xCFC (PCI Local Bus 3.0, 3.2.2.3.2); capability
 * lists; memory BARs, placed by us when nobody else did.
 */
#include "guest.h"

#define CONFIG_ADDRESS	0xCF8
#define CONFIG_DATA	0xCFC
#define MCFG_ENTRIES	44	/* header (36) + 8 reserved bytes */
#define MCFG_ENTRY	16	/* u64 base, u16 segment, u8 start bus, u8 end bus, u32 */

#define PCI_STATUS_CAP_LIST	0x10
#define PCI_BAR_IO		0x1
#define PCI_BAR_64		0x4	/* memory type field (bits 2:1) == 2 */

static bool ready;
static u64 ecam;	/* bus 0's 1 MiB of ECAM, 0 when using the ports */
static u64 mmio_next;	/* where pci_bar places the next unassigned BAR */
static u64 mmio_end;

/*
 * Swiftlet and QEMU q35 list their ECAM in the MCFG (at 0xE0000000 and
 * 0xB0000000).  QEMU 7.2's microvm has ECAM at 0xE0000000 but no MCFG (its
 * DSDT's _CBA says where, and we read no AML) and no port mechanism, so
 * `pci_ecam=HEX` names it; it wins over the MCFG.
 */
static void pci_init(void)
{
	if (ready)
		return;
	ready = true;
	u64 mcfg = boot.rsdp ? acpi_find(boot.rsdp, "MCFG") : 0;
	u32 len = mcfg ? rd32(mcfg + 4) : 0;
	for (u32 p = MCFG_ENTRIES; p + MCFG_ENTRY <= len; p += MCFG_ENTRY) {
		u64 base = rd64(mcfg + p);
		if (rd16(mcfg + p + 8) == 0 && rd8(mcfg + p + 10) == 0 && base &&
		    base <= FOUR_GIB - (1 << 20)) {
			ecam = base;
			break;
		}
	}
	u64 v;
	int r = arg_number("pci_ecam", 16, &v);
	if (r > 0 && v && v <= FOUR_GIB - (1 << 20))
		ecam = v;
	else if (r != 0)
		print("pci: pci_ecam is not a hex address below 4 GiB - 1 MiB, ignored\n");
	if (ecam)
		print("pci: ecam at %lx\n", ecam);
	else
		print("pci: no usable MCFG, using ports 0xcf8/0xcfc\n");

	/* Swiftlet's window, and QEMU microvm's (pcie=on) too. */
	mmio_next = 0xC0000000;
	r = arg_number("pci_mmio", 16, &v);
	if (r > 0 && v < FOUR_GIB)
		mmio_next = v;
	else if (r != 0)
		print("pci: pci_mmio is not a hex address below 4 GiB, ignored\n");
	mmio_end = 0xE0000000 > mmio_next ? 0xE0000000 : FOUR_GIB;
}

/* devfn is device << 3 | function, as in Linux; the bus is always 0. */
u32 pci_read(u16 devfn, u16 off, unsigned width)
{
	pci_init();
	if (ecam) {
		u64 a = ecam + ((u64)devfn << 12) + off;
		return width == 1 ? mmio_rd8(a) : width == 2 ? mmio_rd16(a) : mmio_rd32(a);
	}
	outl(CONFIG_ADDRESS, 0x80000000u | (u32)devfn << 8 | (off & 0xFC));
	u16 port = (u16)(CONFIG_DATA + (off & 3));
	return width == 1 ? inb(port) : width == 2 ? inw(port) : inl(port);
}

void pci_write(u16 devfn, u16 off, unsigned width, u32 v)
{
	pci_init();
	if (ecam) {
		u64 a = ecam + ((u64)devfn << 12) + off;
		if (width == 1)
			mmio_wr8(a, (u8)v);
		else if (width == 2)
			mmio_wr16(a, (u16)v);
		else
			mmio_wr32(a, v);
		return;
	}
	outl(CONFIG_ADDRESS, 0x80000000u | (u32)devfn << 8 | (off & 0xFC));
	u16 port = (u16)(CONFIG_DATA + (off & 3));
	if (width == 1)
		outb(port, (u8)v);
	else if (width == 2)
		outw(port, (u16)v);
	else
		outl(port, v);
}

/* The first function on bus 0 with this vendor and device ID; functions
 * 1..7 are looked at only where function 0 says it is multifunction. */
bool pci_find(u16 vendor, u16 device, u16 *devfn)
{
	for (u16 dev = 0; dev < 32; dev++) {
		unsigned fns = 1;
		for (u16 fn = 0; fn < fns; fn++) {
			u16 df = (u16)(dev << 3 | fn);
			u32 id = pci_read(df, PCI_VENDOR_ID, 4);
			if ((id & 0xFFFF) == 0xFFFF)
				continue;
			if (fn == 0 && (pci_read(df, PCI_HEADER_TYPE, 1) & 0x80))
				fns = 8;
			if ((id & 0xFFFF) == vendor && id >> 16 == device) {
				*devfn = df;
				return true;
			}
		}
	}
	return false;
}

/* Next capability after `at` (0: the first) with this ID, or 0.  The hop
 * count bounds a list that loops; 48 is all that fits in 192 bytes. */
u8 pci_find_cap(u16 devfn, u8 at, u8 id)
{
	if (!(pci_read(devfn, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST))
		return 0;
	u8 p = at ? pci_read(devfn, at + 1, 1) & 0xFC : pci_read(devfn, PCI_CAP_PTR, 1) & 0xFC;
	for (int hops = 0; p >= 0x40 && hops < 48; hops++) {
		if (pci_read(devfn, p, 1) == id)
			return p;
		p = pci_read(devfn, p + 1, 1) & 0xFC;
	}
	return 0;
}

/*
 * The address of memory BAR `bar`, 0 with *err set when it has none we can
 * use.  Swiftlet assigns every BAR before boot, and we use what we find.
 * A BAR that is 0 (QEMU's firmware-less microvm assigns none), or above
 * the 4 GiB our page tables map, is sized (write all ones, read the mask
 * back; PCI 3.0 6.2.5.1) and placed at the next naturally aligned address
 * of the pci_mmio window; that assumes nothing else was placed there.
 */
u64 pci_bar(u16 devfn, unsigned bar, const char **err)
{
	if (bar > 5) {
		*err = "BAR number above 5";
		return 0;
	}
	u16 reg = (u16)(PCI_BAR0 + 4 * bar);
	u32 lo = pci_read(devfn, reg, 4);
	if (lo & PCI_BAR_IO) {
		*err = "I/O BAR, not memory";
		return 0;
	}
	bool is64 = (lo & 0x6) == PCI_BAR_64;
	if (is64 && bar == 5) {
		*err = "64-bit BAR in the last slot";
		return 0;
	}
	u64 addr = (lo & ~0xFull) | (is64 ? (u64)pci_read(devfn, reg + 4, 4) << 32 : 0);
	if (addr && addr < FOUR_GIB)
		return addr;

	/* Decoding off while the BAR briefly holds all ones. */
	u16 cmd = (u16)pci_read(devfn, PCI_COMMAND, 2);
	pci_write(devfn, PCI_COMMAND, 2, cmd & ~PCI_COMMAND_MEMORY);
	pci_write(devfn, reg, 4, 0xFFFFFFFF);
	u64 mask = pci_read(devfn, reg, 4) & ~0xFull;
	if (is64) {
		pci_write(devfn, reg + 4, 4, 0xFFFFFFFF);
		mask |= (u64)pci_read(devfn, reg + 4, 4) << 32;
	} else {
		mask |= 0xFFFFFFFF00000000ull;
	}
	u64 size = ~mask + 1;
	if (mask == 0xFFFFFFFF00000000ull || mask == 0 || (size & (size - 1))) {
		*err = mask == 0xFFFFFFFF00000000ull || mask == 0 ? "BAR not implemented"
								  : "BAR size is not a power of two";
		pci_write(devfn, PCI_COMMAND, 2, cmd);
		return 0;
	}
	addr = (mmio_next + size - 1) & ~(size - 1);
	if (addr < mmio_next || addr + size > mmio_end) {
		*err = "no room left in the pci_mmio window";
		pci_write(devfn, PCI_COMMAND, 2, cmd);
		return 0;
	}
	mmio_next = addr + size;
	pci_write(devfn, reg, 4, (u32)addr);
	if (is64)
		pci_write(devfn, reg + 4, 4, (u32)(addr >> 32));
	pci_write(devfn, PCI_COMMAND, 2, cmd);
	print("pci: 00:%02x.%u BAR%u was unassigned, placed at %lx (%lx bytes)\n", devfn >> 3,
	      devfn & 7, bar, addr, size);
	return addr;
}

/* Memory decoding for the BARs, bus mastering for the device's DMA.  Every
 * memory BAR gets an address first, not just those we use: one left at 0
 * would decode over RAM at 0 (QEMU's microvm leaves the MSI-X BAR so). */
void pci_enable(u16 devfn)
{
	for (unsigned bar = 0; bar < 6; bar++) {
		u32 lo = pci_read(devfn, (u16)(PCI_BAR0 + 4 * bar), 4);
		if (lo & PCI_BAR_IO)
			continue;
		const char *err;
		pci_bar(devfn, bar, &err);	/* unimplemented ones stay 0 */
		if ((lo & 0x6) == PCI_BAR_64)
			bar++;
	}
	u16 cmd = (u16)pci_read(devfn, PCI_COMMAND, 2);
	pci_write(devfn, PCI_COMMAND, 2, cmd | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
}
