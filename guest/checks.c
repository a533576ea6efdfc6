/*
 * mode=check: what a Linux kernel relies on from its loader, checked one
 * line at a time so a test can name the failing part.
 */
#include "guest.h"

/* Linux zero page offsets (Documentation/arch/x86/zero-page.rst). */
#define BP_ACPI_RSDP_ADDR	0x070
#define BP_EXT_RAMDISK_IMAGE	0x0c0
#define BP_EXT_RAMDISK_SIZE	0x0c4
#define BP_E820_ENTRIES		0x1e8
#define BP_BOOT_FLAG		0x1fe
#define BP_HEADER		0x202
#define BP_TYPE_OF_LOADER	0x210
#define BP_RAMDISK_IMAGE	0x218
#define BP_RAMDISK_SIZE		0x21c
#define BP_CMD_LINE_PTR		0x228
#define BP_E820_TABLE		0x2d0
#define E820_MAX		128
#define E820_RAM		1

#define SI_MAGIC_VALUE		0x336ec578
#define SI_NR_MODULES		12
#define SI_MODLIST_PADDR	16

#define MADT_LOCAL_APIC		0
#define MADT_LOCAL_X2APIC	9

static void check_entry_state(void)
{
	bool ok = entry_cs == 0x10 && entry_ds == 0x18 && entry_es == 0x18 &&
		  entry_ss == 0x18 && !(entry_rflags & (1 << 9)) && entry_rsi == 0x7000;
	check("entry-state", ok, "cs=%x ds=%x es=%x ss=%x rflags=%lx rsi=%lx",
	      entry_cs, entry_ds, entry_es, entry_ss, entry_rflags, entry_rsi);
}

static void check_header(void)
{
	u64 bp = boot.bp;
	u16 flag = rd16(bp + BP_BOOT_FLAG);
	check("boot-flag", flag == 0xAA55, "boot_flag is %x", flag);
	u32 magic = rd32(bp + BP_HEADER);
	check("header-magic", memcmp(phys(bp + BP_HEADER), "HdrS", 4) == 0,
	      "header is %08x, not \"HdrS\"", magic);
	u8 loader = rd8(bp + BP_TYPE_OF_LOADER);
	check("loader-type", loader == 0xFF, "type_of_loader is %x", loader);
	/* We read the command line through this very pointer (main.c), so
	 * all that is left to check is that there is one and it ends. */
	u32 ptr = rd32(bp + BP_CMD_LINE_PTR);
	check("cmdline-ptr", ptr != 0 && boot.cmdline == phys(ptr), "cmd_line_ptr is %x", ptr);
}

/* Each entry is {u64 addr, u64 size, u32 type}, packed (20 bytes). */
static u64 e820_addr(u32 i) { return rd64(boot.bp + BP_E820_TABLE + i * 20); }
static u64 e820_size(u32 i) { return rd64(boot.bp + BP_E820_TABLE + i * 20 + 8); }
static u32 e820_type(u32 i) { return rd32(boot.bp + BP_E820_TABLE + i * 20 + 16); }

static void check_e820(void)
{
	u32 n = rd8(boot.bp + BP_E820_ENTRIES);
	if (n == 0 || n > E820_MAX) {
		check("e820-table", false, "%u entries", n);
		return;
	}
	u32 bad = n;
	for (u32 i = 1; i < n && bad == n; i++)
		if (e820_addr(i) < e820_addr(i - 1) + e820_size(i - 1))
			bad = i;
	check("e820-table", bad == n, "entry %u at %lx overlaps or precedes the one before", bad,
	      bad < n ? e820_addr(bad) : 0);

	/* RAM at 0 that stops short of the EBDA, and none in the legacy
	 * hole below 1 MiB where the VGA window, BIOS and ACPI tables live. */
	u64 low_end = e820_addr(0) + e820_size(0);
	bool ok = e820_addr(0) == 0 && e820_type(0) == E820_RAM && low_end > 0 && low_end <= 0x9FC00;
	for (u32 i = 1; i < n; i++)
		if (e820_type(i) == E820_RAM && e820_addr(i) < 0x100000 &&
		    e820_addr(i) + e820_size(i) > 0x9FC00)
			ok = false;
	check("e820-low-ram", ok, "first entry %lx+%lx type %u, or RAM in 0x9fc00..0x100000",
	      e820_addr(0), e820_size(0), e820_type(0));

	bool high = false;
	u64 total = 0;
	for (u32 i = 0; i < n; i++) {
		if (e820_type(i) != E820_RAM)
			continue;
		total += e820_size(i);
		if (e820_addr(i) == 0x100000 && e820_size(i) > 0)
			high = true;
	}
	check("e820-high-ram", high, "no RAM entry starts at 0x100000");

	u64 mb;
	int r = arg_number("expect_mem_mb", 10, &mb);
	if (r < 0)
		check("e820-mem-size", false, "expect_mem_mb is not a decimal number");
	else if (r > 0) {
		u64 want = mb << 20;
		u64 diff = total > want ? total - want : want - total;
		check("e820-mem-size", diff <= (1 << 20), "usable RAM is %lu KiB, expected %lu MiB",
		      total >> 10, mb);
	}
}

/* FNV-1a, 32-bit (http://www.isthe.com/chongo/tech/comp/fnv/). */
static u32 fnv1a(u64 addr, u64 len)
{
	u32 h = 0x811c9dc5;
	for (u64 i = 0; i < len; i++)
		h = (h ^ rd8(addr + i)) * 0x01000193;
	return h;
}

static void check_initrd(void)
{
	u64 want_size, want_sum;
	int rs = arg_number("expect_initrd_size", 10, &want_size);
	int rh = arg_number("expect_initrd_sum", 16, &want_sum);
	if (rs == 0 && rh == 0)
		return;

	u64 image = 0, size = 0;
	if (boot.bp) {
		image = rd32(boot.bp + BP_RAMDISK_IMAGE) |
			(u64)rd32(boot.bp + BP_EXT_RAMDISK_IMAGE) << 32;
		size = rd32(boot.bp + BP_RAMDISK_SIZE) |
		       (u64)rd32(boot.bp + BP_EXT_RAMDISK_SIZE) << 32;
	} else if (rd32(boot.si) == SI_MAGIC_VALUE && rd32(boot.si + SI_NR_MODULES) > 0) {
		/* PVH: the initrd is the first module (struct hvm_modlist_entry). */
		u64 m = rd64(boot.si + SI_MODLIST_PADDR);
		if (m && m < FOUR_GIB) {
			image = rd64(m);
			size = rd64(m + 8);
		}
	}

	if (rs < 0)
		check("initrd-size", false, "expect_initrd_size is not a decimal number");
	else if (rs > 0) {
		if (image == 0)
			check("initrd-placement", false, "no initrd (ramdisk_image is 0)");
		else
			check("initrd-placement", (image & 0xFFF) == 0,
			      "initrd at %lx is not page-aligned", image);
		check("initrd-size", size == want_size, "initrd is %lu bytes, expected %lu", size,
		      want_size);
	}
	if (rh < 0)
		check("initrd-sum", false, "expect_initrd_sum is not a hex number");
	else if (rh > 0) {
		if (image == 0 || image + size > FOUR_GIB) {
			check("initrd-sum", false, "no initrd below 4 GiB (at %lx, %lu bytes)", image,
			      size);
			return;
		}
		u32 sum = fnv1a(image, size);
		check("initrd-sum", sum == want_sum, "fnv1a is %08x, expected %08lx", sum, want_sum);
	}
}

static void check_rsdp(void)
{
	u64 rsdp = boot.bp ? rd64(boot.bp + BP_ACPI_RSDP_ADDR)
			   : rd64(boot.si + 32 /* rsdp_paddr */);
	bool ok = rsdp && rsdp < FOUR_GIB - 36 && memcmp(phys(rsdp), "RSD PTR ", 8) == 0;
	if (!ok)
		check("rsdp", false, "no \"RSD PTR \" at the boot protocol's pointer %lx", rsdp);
	else if (acpi_sum(rsdp, 20) != 0)
		check("rsdp", false, "checksum over 20 bytes is off by %x", acpi_sum(rsdp, 20));
	else if (rd8(rsdp + 15) >= 2 && acpi_sum(rsdp, 36) != 0)
		check("rsdp", false, "extended checksum over 36 bytes is off by %x",
		      acpi_sum(rsdp, 36));
	else
		check("rsdp", true, "%s", "");

	/* Under PVH the loader's pointer is all we are promised. */
	if (boot.bp) {
		u64 scanned = acpi_scan_rsdp();
		check("rsdp-scan", scanned && scanned == rsdp,
		      "scan of 0xe0000..0xfffff found %lx, boot_params says %lx", scanned, rsdp);
	}
}

static void check_table(u64 t)
{
	char name[] = "checksum-....";
	for (int i = 0; i < 4; i++) {
		u8 c = rd8(t + i);
		name[9 + i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	check(name, acpi_sum(t, rd32(t + 4)) == 0, "table at %lx is off by %x", t,
	      acpi_sum(t, rd32(t + 4)));
}

static void check_acpi(void)
{
	check_rsdp();
	u64 rsdp = boot.rsdp;
	if (!rsdp) {
		check("xsdt", false, "no valid RSDP");
		return;
	}
	unsigned es;
	u64 root = acpi_root(rsdp, &es);
	if (rd8(rsdp + 15) < 2 || es != 8)
		check("xsdt", false, "RSDP revision %u has no XSDT", rd8(rsdp + 15));
	else if (!root || memcmp(phys(root), "XSDT", 4) != 0)
		check("xsdt", false, "no XSDT at %lx", rd64(rsdp + 24));
	else if ((rd32(root + 4) - 36) % 8 != 0 || acpi_sum(root, rd32(root + 4)) != 0)
		check("xsdt", false, "bad length %u or checksum", rd32(root + 4));
	else
		check("xsdt", true, "%s", "");

	u32 n = acpi_count(rsdp);
	for (u32 i = 0; i < n; i++) {
		u64 t = acpi_entry(rsdp, i);
		if (!acpi_table_sane(t))
			check("tables", false, "entry %u points to %lx", i, t);
		else
			check_table(t);
	}

	u64 fadt = acpi_find(rsdp, "FACP");
	if (!fadt) {
		check("fadt", false, "no FACP table");
		return;
	}
	u32 flen = rd32(fadt + 4);
	u32 flags = flen >= FADT_FLAGS + 4 ? rd32(fadt + FADT_FLAGS) : 0;
	check("fadt-hw-reduced", flags & FADT_FLAG_HW_REDUCED, "flags are %08x", flags);
	bool scr = flen >= FADT_SLEEP_CONTROL_REG + 12 &&
		   rd64(fadt + FADT_SLEEP_CONTROL_REG + 4) != 0 &&
		   rd8(fadt + FADT_SLEEP_CONTROL_REG) <= 1;
	check("fadt-sleep-control", scr, "FADT length %u, no SLEEP_CONTROL_REG in memory or I/O",
	      flen);

	u64 dsdt = acpi_dsdt(fadt);
	if (!dsdt || memcmp(phys(dsdt), "DSDT", 4) != 0)
		check("dsdt", false, "no DSDT behind X_DSDT or DSDT");
	else if (acpi_sum(dsdt, rd32(dsdt + 4)) != 0)
		check("dsdt", false, "checksum is off by %x", acpi_sum(dsdt, rd32(dsdt + 4)));
	else
		check("dsdt", acpi_s5_slp_typ(dsdt) >= 0, "no _S5_ package");

	u64 want = 1;
	if (arg_number("expect_cpus", 10, &want) < 0) {
		check("madt-cpus", false, "expect_cpus is not a decimal number");
		return;
	}
	u64 madt = acpi_find(rsdp, "APIC");
	if (!madt) {
		check("madt-cpus", false, "no APIC table");
		return;
	}
	/* Interrupt controller structures follow the 44-byte MADT header. */
	u32 len = rd32(madt + 4), cpus = 0;
	for (u32 p = 44; p + 2 <= len;) {
		u8 type = rd8(madt + p), elen = rd8(madt + p + 1);
		if (elen < 2)
			break;
		if (type == MADT_LOCAL_APIC || type == MADT_LOCAL_X2APIC)
			cpus++;
		p += elen;
	}
	check("madt-cpus", cpus == want, "%u processor entries, expected %lu", cpus, want);
}

void mode_check(void)
{
	print("cmdline: %s\n", boot.cmdline);
	print("boot: %s\n", boot.bp ? "linux" : "pvh");
	if (boot.bp) {
		check_entry_state();
		check_header();
		check_e820();
	} else {
		check("pvh-magic", rd32(boot.si) == SI_MAGIC_VALUE, "magic is %08x", rd32(boot.si));
	}
	check_initrd();
	check_acpi();
	finish();
}
