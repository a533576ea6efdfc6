/*
 * Just enough ACPI to check the VMM's tables and to power off and reset the
 * machine "by the book" (ACPI 6.5: 5.2 tables, 7.4.2 \_Sx, 20 AML).
 * Every length and address comes from the VMM, so each is checked before
 * it is used to read further.
 */
#include "guest.h"

#define SDT_HEADER	36
#define MAX_TABLE	0x1000000	/* no sane VMM builds a 16 MiB table */

#define GAS_SYSTEM_MEMORY 0
#define GAS_SYSTEM_IO	1

#define SLP_EN		(1u << 5)	/* sleep control register (4.8.3.7) */
#define PM1_SLP_TYP_SHIFT 10		/* PM1 control register (4.8.3.2.1) */
#define PM1_SLP_EN	(1u << 13)

u8 acpi_sum(u64 addr, u64 len)
{
	u8 s = 0;
	for (u64 i = 0; i < len; i++)
		s += rd8(addr + i);
	return s;
}

/* Signature plus the 20-byte (ACPI 1.0) checksum, as Linux's scan does,
 * so a stray "RSD PTR " in the BIOS area does not end the search. */
u64 acpi_scan_rsdp(void)
{
	for (u64 a = 0xE0000; a < 0x100000; a += 16)
		if (memcmp(phys(a), "RSD PTR ", 8) == 0 && acpi_sum(a, 20) == 0)
			return a;
	return 0;
}

bool acpi_rsdp_ok(u64 rsdp)
{
	return rsdp && rsdp < FOUR_GIB - 36 && memcmp(phys(rsdp), "RSD PTR ", 8) == 0 &&
	       acpi_sum(rsdp, 20) == 0;
}

bool acpi_table_sane(u64 t)
{
	if (t == 0 || t >= FOUR_GIB - SDT_HEADER)
		return false;
	u32 len = rd32(t + 4);
	return len >= SDT_HEADER && len <= MAX_TABLE && t + len <= FOUR_GIB;
}

/* ACPI 5.2.5.3: revision 2 RSDPs carry a 64-bit XSDT address at 24;
 * revision 0 ones only the RSDT at 16. */
u64 acpi_root(u64 rsdp, unsigned *entry_size)
{
	if (!acpi_rsdp_ok(rsdp))
		return 0;
	u64 xsdt = rd8(rsdp + 15) >= 2 ? rd64(rsdp + 24) : 0;
	if (xsdt) {
		*entry_size = 8;
		return acpi_table_sane(xsdt) ? xsdt : 0;
	}
	u64 rsdt = rd32(rsdp + 16);
	*entry_size = 4;
	return acpi_table_sane(rsdt) ? rsdt : 0;
}

u32 acpi_count(u64 rsdp)
{
	unsigned es;
	u64 root = acpi_root(rsdp, &es);
	return root ? (rd32(root + 4) - SDT_HEADER) / es : 0;
}

u64 acpi_entry(u64 rsdp, u32 i)
{
	unsigned es;
	u64 root = acpi_root(rsdp, &es);
	if (!root || i >= (rd32(root + 4) - SDT_HEADER) / es)
		return 0;
	u64 at = root + SDT_HEADER + (u64)i * es;
	return es == 8 ? rd64(at) : rd32(at);
}

u64 acpi_find(u64 rsdp, const char *sig)
{
	u32 n = acpi_count(rsdp);
	for (u32 i = 0; i < n; i++) {
		u64 t = acpi_entry(rsdp, i);
		if (acpi_table_sane(t) && memcmp(phys(t), sig, 4) == 0)
			return t;
	}
	return 0;
}

/* X_DSDT wins when present (ACPI 5.2.9); 0 when neither is usable. */
u64 acpi_dsdt(u64 fadt)
{
	u32 len = rd32(fadt + 4);
	u64 d = 0;
	if (len >= FADT_X_DSDT + 8)
		d = rd64(fadt + FADT_X_DSDT);
	if (!d && len >= FADT_DSDT + 4)
		d = rd32(fadt + FADT_DSDT);
	return acpi_table_sane(d) ? d : 0;
}

/*
 * SLP_TYP for S5: the first element of the package named _S5_, as in
 * Name (_S5_, Package () { 5, 5, 0, 0 }).  AML (20.2.5): PackageOp 0x12,
 * PkgLength (bits 7:6 of its lead byte count the bytes that follow),
 * NumElements, then the elements: ZeroOp, OneOp, OnesOp or a Byte/Word/
 * DWord prefix and its value.  Returns -1 when not found.
 */
int acpi_s5_slp_typ(u64 dsdt)
{
	u32 len = rd32(dsdt + 4);
	for (u32 i = SDT_HEADER; i + 4 <= len; i++) {
		if (memcmp(phys(dsdt + i), "_S5_", 4) != 0)
			continue;
		u32 p = i + 4;
		if (p >= len || rd8(dsdt + p) != 0x12)
			continue;
		p += 1;
		if (p >= len)
			return -1;
		p += 1 + (rd8(dsdt + p) >> 6);	/* PkgLength */
		p += 1;				/* NumElements */
		if (p >= len)
			return -1;
		switch (rd8(dsdt + p)) {
		case 0x00: return 0;		/* ZeroOp */
		case 0x01: return 1;		/* OneOp */
		case 0xFF: return 7;		/* OnesOp, truncated to 3 bits */
		case 0x0A: return p + 1 < len ? rd8(dsdt + p + 1) : -1;
		case 0x0B: return p + 2 < len ? rd16(dsdt + p + 1) : -1;
		case 0x0C: return p + 4 < len ? (int)(rd32(dsdt + p + 1) & 0x7fffffff) : -1;
		default: return -1;
		}
	}
	return -1;
}

/* Writes one byte to a Generic Address Structure (5.2.3.2) register in
 * system memory or I/O space; false when it names neither. */
static bool gas_write8(u64 gas, u8 value)
{
	u8 space = rd8(gas);
	u64 addr = rd64(gas + 4);
	if (addr == 0)
		return false;
	if (space == GAS_SYSTEM_IO && addr <= 0xFFFF) {
		outb((u16)addr, value);
		return true;
	}
	if (space == GAS_SYSTEM_MEMORY && addr < FOUR_GIB) {
		*(volatile u8 *)(uintptr_t)addr = value;
		return true;
	}
	return false;
}

static u64 fadt_or_zero(void)
{
	return boot.rsdp ? acpi_find(boot.rsdp, "FACP") : 0;
}

/* S5 through the sleep control register of a hardware-reduced platform
 * (4.8.3.7), or the PM1a control block when there is none. */
static void try_power_off(void)
{
	u64 fadt = fadt_or_zero();
	if (!fadt) {
		print("testguest: poweroff: no FADT\n");
		return;
	}
	u64 dsdt = acpi_dsdt(fadt);
	int typ = dsdt ? acpi_s5_slp_typ(dsdt) : -1;
	if (typ < 0) {
		print("testguest: poweroff: no _S5_ in the DSDT\n");
		return;
	}
	u32 len = rd32(fadt + 4);
	if (len >= FADT_SLEEP_CONTROL_REG + 12 && rd64(fadt + FADT_SLEEP_CONTROL_REG + 4)) {
		if (!gas_write8(fadt + FADT_SLEEP_CONTROL_REG, (u8)(((typ & 7) << 2) | SLP_EN)))
			print("testguest: poweroff: unusable SLEEP_CONTROL_REG\n");
		return;
	}
	u32 port = len >= FADT_PM1A_CNT_BLK + 4 ? rd32(fadt + FADT_PM1A_CNT_BLK) : 0;
	if (port == 0 || port > 0xFFFF) {
		print("testguest: poweroff: no sleep register\n");
		return;
	}
	/* Keep the other bits (SCI_EN above all) as they are. */
	u16 v = inw((u16)port) & ~(0x7u << PM1_SLP_TYP_SHIFT) & ~PM1_SLP_EN;
	outw((u16)port, (u16)(v | ((typ & 7) << PM1_SLP_TYP_SHIFT) | PM1_SLP_EN));
}

void power_off(void)
{
	try_power_off();
	settle();
	print("testguest: poweroff failed\n");
	halt_forever();
}

/* RESET_VALUE to RESET_REG (4.8.3.6); returns only when that did nothing. */
void acpi_reset(void)
{
	u64 fadt = fadt_or_zero();
	if (!fadt || rd32(fadt + 4) < FADT_RESET_VALUE + 1) {
		print("testguest: reset: no FADT reset register\n");
		return;
	}
	if (!gas_write8(fadt + FADT_RESET_REG, rd8(fadt + FADT_RESET_VALUE))) {
		print("testguest: reset: unusable RESET_REG\n");
		return;
	}
	settle();
}
