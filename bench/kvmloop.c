/*
 * kvmloop: the floor for bench/run's exit benchmarks.  The least a VMM can
 * do on KVM: one vCPU, one thread, a KVM_RUN loop that answers the test
 * guest's 8250 status reads and ignores every other exit, no devices.
 *
 *     kvmloop <testguest.elf> <command line>
 *
 * It enters the guest as Swiftlet enters a vmlinux (the layout of the
 * shared guest contract: GDT at 0x500, PML4 at 0x9000, 2 MiB pages over the
 * first 4 GiB, boot_params at 0x7000, command line at 0x20000), copies the
 * guest's output to stdout and exits 0 when the guest halts (without ACPI
 * tables the guest's power-off falls through to HLT).
 */
#include <elf.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define MEM_SIZE (128UL << 20)

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static int ioc(int fd, unsigned long req, void *arg, const char *what)
{
	int r = ioctl(fd, req, arg);
	if (r < 0)
		die(what);
	return r;
}

/* PT_LOAD segments at their physical addresses; returns the entry. */
static uint64_t load_elf(const char *path, uint8_t *mem)
{
	FILE *f = fopen(path, "rb");
	Elf64_Ehdr eh;
	if (!f || fread(&eh, sizeof(eh), 1, f) != 1 || memcmp(eh.e_ident, ELFMAG, SELFMAG))
		die("kvmloop: guest ELF");
	for (int i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		if (fseek(f, eh.e_phoff + i * sizeof(ph), SEEK_SET) || fread(&ph, sizeof(ph), 1, f) != 1)
			die("kvmloop: program header");
		if (ph.p_type != PT_LOAD)
			continue;
		if (ph.p_paddr + ph.p_memsz > MEM_SIZE || ph.p_filesz > ph.p_memsz)
			die("kvmloop: segment outside memory");
		if (fseek(f, ph.p_offset, SEEK_SET) ||
		    fread(mem + ph.p_paddr, 1, ph.p_filesz, f) != ph.p_filesz)
			die("kvmloop: segment");
	}
	fclose(f);
	return eh.e_entry;
}

static void setup_memory(uint8_t *mem, const char *cmdline)
{
	uint64_t *gdt = (uint64_t *)(mem + 0x500);
	gdt[2] = 0x00af9b000000ffffULL;	/* 0x10: 64-bit code */
	gdt[3] = 0x00cf93000000ffffULL;	/* 0x18: data */
	uint64_t *pml4 = (uint64_t *)(mem + 0x9000), *pdpt = (uint64_t *)(mem + 0xA000);
	pml4[0] = 0xA000 | 3;
	for (int i = 0; i < 4; i++) {
		uint64_t *pd = (uint64_t *)(mem + 0xB000 + i * 0x1000);
		pdpt[i] = (0xB000 + i * 0x1000) | 3;
		for (int j = 0; j < 512; j++)
			pd[j] = ((uint64_t)(i * 512 + j) << 21) | 0x83;	/* present, rw, 2 MiB */
	}
	strncpy((char *)mem + 0x20000, cmdline, 4095);
	*(uint32_t *)(mem + 0x7000 + 0x228) = 0x20000;	/* boot_params.hdr.cmd_line_ptr */
}

static void setup_vcpu(int kvm, int vcpu, uint64_t entry)
{
	struct { struct kvm_cpuid2 c; struct kvm_cpuid_entry2 e[100]; } cpuid = { .c.nent = 100 };
	ioc(kvm, KVM_GET_SUPPORTED_CPUID, &cpuid, "KVM_GET_SUPPORTED_CPUID");
	ioc(vcpu, KVM_SET_CPUID2, &cpuid, "KVM_SET_CPUID2");

	struct kvm_sregs s;
	ioc(vcpu, KVM_GET_SREGS, &s, "KVM_GET_SREGS");
	struct kvm_segment code = { .base = 0, .limit = 0xffffffff, .selector = 0x10, .type = 11,
				    .present = 1, .s = 1, .l = 1, .g = 1 };
	struct kvm_segment data = code;
	data.selector = 0x18, data.type = 3, data.l = 0, data.db = 1;
	s.cs = code;
	s.ds = s.es = s.ss = s.fs = s.gs = data;
	s.gdt.base = 0x500, s.gdt.limit = 4 * 8 - 1;
	s.cr3 = 0x9000;
	s.cr4 = 1 << 5;				/* PAE */
	s.cr0 = 1 | (1 << 4) | (1U << 31);	/* PE, ET, PG */
	s.efer = (1 << 8) | (1 << 10);		/* LME, LMA */
	ioc(vcpu, KVM_SET_SREGS, &s, "KVM_SET_SREGS");

	struct kvm_regs r = { .rip = entry, .rsi = 0x7000, .rflags = 2, .rsp = 0x8000 };
	ioc(vcpu, KVM_SET_REGS, &r, "KVM_SET_REGS");
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: kvmloop <testguest.elf> <command line>\n");
		return 2;
	}
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		die("/dev/kvm");
	int vm = ioc(kvm, KVM_CREATE_VM, 0, "KVM_CREATE_VM");
	uint8_t *mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED)
		die("mmap");
	struct kvm_userspace_memory_region region = { .slot = 0, .guest_phys_addr = 0,
						      .memory_size = MEM_SIZE, .userspace_addr = (uint64_t)mem };
	ioc(vm, KVM_SET_USER_MEMORY_REGION, &region, "KVM_SET_USER_MEMORY_REGION");
	uint64_t entry = load_elf(argv[1], mem);
	setup_memory(mem, argv[2]);

	int vcpu = ioc(vm, KVM_CREATE_VCPU, 0, "KVM_CREATE_VCPU");
	int run_size = ioc(kvm, KVM_GET_VCPU_MMAP_SIZE, 0, "KVM_GET_VCPU_MMAP_SIZE");
	struct kvm_run *run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		die("mmap kvm_run");
	setup_vcpu(kvm, vcpu, entry);

	for (;;) {
		ioc(vcpu, KVM_RUN, 0, "KVM_RUN");
		switch (run->exit_reason) {
		case KVM_EXIT_IO: {
			uint8_t *data = (uint8_t *)run + run->io.data_offset;
			if (run->io.direction == KVM_EXIT_IO_OUT && run->io.port == 0x3F8)
				fwrite(data, 1, run->io.size * run->io.count, stdout);
			else if (run->io.direction == KVM_EXIT_IO_IN)
				/* LSR (0x3FD): transmitter empty; everything else floats high. */
				memset(data, run->io.port == 0x3FD ? 0x60 : 0xff, run->io.size * run->io.count);
			break;
		}
		case KVM_EXIT_MMIO:
			if (!run->mmio.is_write)
				memset(run->mmio.data, 0xff, sizeof(run->mmio.data));
			break;
		case KVM_EXIT_HLT:
			fflush(stdout);
			return 0;
		default:
			fflush(stdout);
			fprintf(stderr, "kvmloop: exit reason %u\n", run->exit_reason);
			return 1;
		}
	}
}
