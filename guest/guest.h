/*
 * Shared declarations of Swiftlet's freestanding test guest.  No libc: only
 * the compiler's freestanding headers.
 */
#ifndef GUEST_H
#define GUEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;

#define FOUR_GIB 0x100000000ULL

/* ---- port I/O ---- */
static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outw(u16 port, u16 v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(u16 port, u32 v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline u8 inb(u16 port) { u8 v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline u16 inw(u16 port) { u16 v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline u32 inl(u16 port) { u32 v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline void cpu_relax(void) { __asm__ volatile("pause" ::: "memory"); }

/*
 * Physical memory below 4 GiB is identity-mapped (by the VMM, or by the PVH
 * stub), so a physical address is a pointer.  Every read of guest tables
 * goes through these helpers so that assumption lives in one place; callers
 * check addresses are below 4 GiB first.
 */
static inline const void *phys(u64 addr) { return (const void *)(uintptr_t)addr; }
static inline u8 rd8(u64 a) { return *(const volatile u8 *)phys(a); }
static inline u16 rd16(u64 a) { u16 v; __builtin_memcpy(&v, phys(a), 2); return v; }
static inline u32 rd32(u64 a) { u32 v; __builtin_memcpy(&v, phys(a), 4); return v; }
static inline u64 rd64(u64 a) { u64 v; __builtin_memcpy(&v, phys(a), 8); return v; }

/*
 * Device registers (PCI ECAM, virtio BARs): one volatile access of exactly
 * the named width, as the spec requires of drivers (virtio 1.2 4.1.3.1).
 */
static inline u8 mmio_rd8(u64 a) { return *(volatile u8 *)(uintptr_t)a; }
static inline u16 mmio_rd16(u64 a) { return *(volatile u16 *)(uintptr_t)a; }
static inline u32 mmio_rd32(u64 a) { return *(volatile u32 *)(uintptr_t)a; }
static inline void mmio_wr8(u64 a, u8 v) { *(volatile u8 *)(uintptr_t)a = v; }
static inline void mmio_wr16(u64 a, u16 v) { *(volatile u16 *)(uintptr_t)a = v; }
static inline void mmio_wr32(u64 a, u32 v) { *(volatile u32 *)(uintptr_t)a = v; }

/*
 * A full barrier.  Not MFENCE: KVM's instruction emulator, which runs all
 * guest ring-0 code on PVM, has no fences (0F AE /6 with mod 3 is
 * undefined there); a locked read-modify-write orders every earlier load
 * and store before every later one as well (Intel SDM vol. 3, 9.2.2), and
 * is what Linux's smp_mb() uses on x86.
 */
static inline void mb(void) { __asm__ volatile("lock; addl $0, -4(%%rsp)" ::: "memory", "cc"); }

/* ---- lib.c ---- */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
void serial_putc(char c);
void vprint(const char *fmt, va_list ap);
void print(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void settle(void);

/* `ok <name>` / `FAIL <name>: <detail>`; returns ok.  finish() prints
 * `testguest: N checks, M failed` and powers off. */
bool check(const char *name, bool ok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void finish(void) __attribute__((noreturn));

/* A bounded wait: deadline_passed() is true once ms milliseconds (at least;
 * see lib.c) have gone by.  It also pauses, so it is the body of a poll. */
struct deadline {
	u64 end, spins;
};
void deadline_start(struct deadline *d, u32 ms);
/* The TSC, for benchmark modes that time themselves. */
u64 tsc_read(void);
bool deadline_passed(struct deadline *d);
/* clock.c: the TSC's frequency in kHz, measured against the PIT; 0 when
 * the PIT does not count. */
u64 tsc_khz(void);
void halt_forever(void) __attribute__((noreturn));

/* Command line: words separated by spaces, `key=value`. */
void args_init(const char *cmdline);
const char *arg_get(const char *key, size_t *len);
bool arg_is(const char *key, const char *value);
/* 0 when absent, 1 when parsed into *out, -1 when malformed.  Base 16
 * allows a 0x prefix; base 0 is 16 with one and 10 without. */
int arg_number(const char *key, unsigned base, u64 *out);
bool arg_lists(const char *key, const char *item);

/* ---- what the entry told us (main.c) ---- */
struct boot {
	u64 bp;			/* boot_params, 0 when entered through PVH */
	u64 si;			/* hvm_start_info, 0 when entered through Linux */
	const char *cmdline;	/* never NULL */
	u64 rsdp;		/* 0 when none was found */
};
extern struct boot boot;

/* Written by linux_entry before it changes anything (entry.S). */
extern u64 entry_rflags, entry_rsi;
extern u16 entry_cs, entry_ds, entry_es, entry_ss;

/* ---- acpi.c ---- */
u8 acpi_sum(u64 addr, u64 len);
u64 acpi_scan_rsdp(void);
bool acpi_rsdp_ok(u64 rsdp);
bool acpi_table_sane(u64 table);
/* The root table (XSDT when the RSDP has one, else RSDT) and its entries. */
u64 acpi_root(u64 rsdp, unsigned *entry_size);
u32 acpi_count(u64 rsdp);
u64 acpi_entry(u64 rsdp, u32 i);
u64 acpi_find(u64 rsdp, const char *sig);
u64 acpi_dsdt(u64 fadt);
int acpi_s5_slp_typ(u64 dsdt);
void power_off(void) __attribute__((noreturn));
void acpi_reset(void);

/* FADT fields (ACPI 6.5 table 5.9) and flags used by more than one file. */
#define FADT_DSDT		40
#define FADT_PM1A_CNT_BLK	64
#define FADT_FLAGS		112
#define FADT_RESET_REG		116
#define FADT_RESET_VALUE	128
#define FADT_X_DSDT		140
#define FADT_SLEEP_CONTROL_REG	244
#define FADT_FLAG_HW_REDUCED	(1u << 20)

/* ---- pci.c: bus 0 only; devfn is device << 3 | function ---- */
#define PCI_VENDOR_ID		0x00
#define PCI_COMMAND		0x04
#define PCI_STATUS		0x06
#define PCI_HEADER_TYPE		0x0E
#define PCI_BAR0		0x10
#define PCI_CAP_PTR		0x34
#define PCI_COMMAND_MEMORY	0x2
#define PCI_COMMAND_MASTER	0x4

u32 pci_read(u16 devfn, u16 off, unsigned width);
void pci_write(u16 devfn, u16 off, unsigned width, u32 v);
bool pci_find(u16 vendor, u16 device, u16 *devfn);
u8 pci_find_cap(u16 devfn, u8 at, u8 id);
u64 pci_bar(u16 devfn, unsigned bar, const char **err);
void pci_enable(u16 devfn);

/* ---- modes ---- */
void mode_check(void);
void mode_reset(bool acpi);
void mode_echo(void);
void mode_int3(void);
void mode_cpuid(void);
void mode_triple_fault(void);
void mode_bad_insn(void);
void mode_hang(void);
/* bench.c */
void mode_exit(void) __attribute__((noreturn));
void mode_bench_pio(void);
void mode_bench_mmio(void);
void mode_bench_rng(void);
void mode_virtio_console(void);
void mode_virtio_blk(void);
void mode_virtio_rng(void);
void mode_virtio_net(void);
void mode_bench_net(void);	/* net.c: a benchmark beside bench.c's */
void mode_virtio_all(void);
void mode_hostile(void);
void mode_net_break_rx(void);
void mode_net_listen(void);
void mode_panic(void);
void mode_reset_forever(void);
void mode_chatty(void);
void mode_counter(void);
void mode_smp(void);
void mode_blk_write_loop(void);
void idt_install(void);

/* The exception frame isr_common (entry.S) builds, lowest address first. */
struct frame {
	u64 r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
	u64 vector, error, rip, cs, rflags, rsp, ss;
};
void exception_handler(struct frame *f);

#endif
