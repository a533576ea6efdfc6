/*
 * guest_main: find the command line and the RSDP from whichever boot
 * protocol brought us here, then run the mode the command line asks for.
 */
#include "guest.h"

/* Linux zero page (Documentation/arch/x86/zero-page.rst, boot.rst). */
#define BP_ACPI_RSDP_ADDR	0x070
#define BP_EXT_CMD_LINE_PTR	0x0c8
#define BP_CMD_LINE_PTR		0x228

/* struct hvm_start_info (xen/include/public/arch-x86/hvm/start_info.h). */
#define SI_MAGIC_VALUE		0x336ec578
#define SI_CMDLINE_PADDR	24
#define SI_RSDP_PADDR		32

struct boot boot;
u64 entry_rflags, entry_rsi;
u16 entry_cs, entry_ds, entry_es, entry_ss;

static const char *find_cmdline(void)
{
	u64 p = 0;
	if (boot.bp)
		p = rd32(boot.bp + BP_CMD_LINE_PTR) |
		    (u64)rd32(boot.bp + BP_EXT_CMD_LINE_PTR) << 32;
	else if (rd32(boot.si) == SI_MAGIC_VALUE)
		p = rd64(boot.si + SI_CMDLINE_PADDR);
	return p && p < FOUR_GIB ? phys(p) : "";
}

/* The one the boot protocol names, else the legacy BIOS-area scan: power
 * off must work even when the check for the pointer fails. */
static u64 find_rsdp(void)
{
	u64 p = 0;
	if (boot.bp)
		p = rd64(boot.bp + BP_ACPI_RSDP_ADDR);
	else if (rd32(boot.si) == SI_MAGIC_VALUE)
		p = rd64(boot.si + SI_RSDP_PADDR);
	return acpi_rsdp_ok(p) ? p : acpi_scan_rsdp();
}

void guest_main(u64 bp, u64 si)
{
	print("testguest: start\n");
	boot.bp = bp;
	boot.si = bp ? 0 : si;
	boot.cmdline = find_cmdline();
	boot.rsdp = find_rsdp();
	args_init(boot.cmdline);
	/* Unexpected exceptions print where they happened instead of
	 * silently triple-faulting. */
	idt_install();

	size_t len;
	if (!arg_get("mode", &len) || arg_is("mode", "check"))
		mode_check();
	else if (arg_is("mode", "reset-acpi"))
		mode_reset(true);
	else if (arg_is("mode", "reset-i8042"))
		mode_reset(false);
	else if (arg_is("mode", "echo"))
		mode_echo();
	else if (arg_is("mode", "int3"))
		mode_int3();
	else if (arg_is("mode", "cpuid"))
		mode_cpuid();
	else if (arg_is("mode", "triple-fault"))
		mode_triple_fault();
	else if (arg_is("mode", "bad-insn"))
		mode_bad_insn();
	else if (arg_is("mode", "hang"))
		mode_hang();
	else if (arg_is("mode", "exit"))
		mode_exit();
	else if (arg_is("mode", "bench-pio"))
		mode_bench_pio();
	else if (arg_is("mode", "bench-mmio"))
		mode_bench_mmio();
	else if (arg_is("mode", "bench-rng"))
		mode_bench_rng();
	else if (arg_is("mode", "bench-net"))
		mode_bench_net();
	else if (arg_is("mode", "virtio-console"))
		mode_virtio_console();
	else if (arg_is("mode", "virtio-blk"))
		mode_virtio_blk();
	else if (arg_is("mode", "virtio-rng"))
		mode_virtio_rng();
	else if (arg_is("mode", "virtio-net"))
		mode_virtio_net();
	else if (arg_is("mode", "hostile"))
		mode_hostile();
	else if (arg_is("mode", "net-break-rx"))
		mode_net_break_rx();
	else if (arg_is("mode", "net-listen"))
		mode_net_listen();
	else if (arg_is("mode", "virtio-all"))
		mode_virtio_all();
	else if (arg_is("mode", "panic"))
		mode_panic();
	else if (arg_is("mode", "reset-forever"))
		mode_reset_forever();
	else if (arg_is("mode", "chatty"))
		mode_chatty();
	else if (arg_is("mode", "counter"))
		mode_counter();
	else if (arg_is("mode", "smp"))
		mode_smp();
	else if (arg_is("mode", "blk-write-loop"))
		mode_blk_write_loop();
	print("testguest: unknown mode\n");
	power_off();
}
