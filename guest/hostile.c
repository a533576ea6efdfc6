/*
 * mode=hostile: a driver that attacks Swiftlet's virtio devices (the rng and,
 * with a disk, the block device), over PCI or, with transport=mmio, virtio-mmio.  It sets each device up by itself, submits
 * malformed work, and checks the device answered as virtio 1.2 asks: the chain
 * came back in the used ring, or DEVICE_NEEDS_RESET (status 0x40, 2.1.2) is set,
 * or the bad register value was refused.  After every attack a device reset and a
 * well-formed request must work again.  Reports `ok attack-<name>-<dev>`.
 */
#include "virtio.h"

#define VIRTIO_VENDOR	0x1AF4
#define C_DFSELECT	0x00
#define C_DF		0x04
#define C_GFSELECT	0x08
#define C_GF		0x0C
#define C_MSIX_CONFIG	0x10
#define C_STATUS	0x14
#define C_Q_SELECT	0x16
#define C_Q_SIZE	0x18
#define C_Q_MSIX	0x1A
#define C_Q_ENABLE	0x1C
#define C_Q_DESC	0x20
#define C_Q_DRIVER	0x28
#define C_Q_DEVICE	0x30
#define S_ACK		1
#define S_DRIVER	2
#define S_DRIVER_OK	4
#define S_FEATURES_OK	8
#define S_NEEDS_RESET	0x40
#define DESC_NEXT	1
#define DESC_WRITE	2
#define DESC_INDIRECT	4
#define F_INDIRECT	(1ull << 28)
#define NO_VECTOR	0xFFFF
#define QSIZE		16

/* BAR0 layout of the "Virtio over PCI" contract. */
#define BAR_COMMON	0x0000
#define BAR_DEVICE	0x2000
#define BAR_NOTIFY	0x3000
#define BAR_MSIX	0x4000

struct hdev {
	const char *name;
	u16 id, devfn;
	bool mmio;	/* bar is then the virtio-mmio window */
	u64 bar;
};

static struct {
	struct vring_desc desc[QSIZE];
	u16 avail[3 + QSIZE];
	u32 used[2 + 2 * QSIZE];
	struct vring_desc indirect[4];
	struct vring_desc indirect2[4];
	u8 data[512];
	u8 header[16];
	u8 status;
} __attribute__((aligned(4096))) r;

static u16 avail_idx;

static u64 com(struct hdev *d, u32 off) { return d->bar + BAR_COMMON + off; }
static u64 reg(struct hdev *d, u32 off) { return d->bar + off; }

static u8 status(struct hdev *d)
{
	return d->mmio ? (u8)mmio_rd32(reg(d, VMMIO_STATUS)) : mmio_rd8(com(d, C_STATUS));
}

static void set_status(struct hdev *d, u8 s)
{
	if (d->mmio)
		mmio_wr32(reg(d, VMMIO_STATUS), s);
	else
		mmio_wr8(com(d, C_STATUS), s);
}

/* Queue 0's "enabled" (PCI queue_enable, MMIO QueueReady). */
static bool queue0_enabled(struct hdev *d)
{
	if (d->mmio) {
		mmio_wr32(reg(d, VMMIO_QUEUE_SEL), 0);
		return mmio_rd32(reg(d, VMMIO_QUEUE_READY)) != 0;
	}
	mmio_wr16(com(d, C_Q_SELECT), 0);
	return mmio_rd16(com(d, C_Q_ENABLE)) != 0;
}

/* Where the device-specific configuration starts. */
static u64 device_config(struct hdev *d) { return d->bar + (d->mmio ? VMMIO_CONFIG : BAR_DEVICE); }
static volatile u16 *used_idx(void) { return (volatile u16 *)&r.used[0] + 1; }

static void wr64(u64 a, u64 v)
{
	mmio_wr32(a, (u32)v);
	mmio_wr32(a + 4, (u32)(v >> 32));
}

static bool reset(struct hdev *d)
{
	set_status(d, 0);
	struct deadline t;
	deadline_start(&t, 1000);
	while (status(d) != 0)
		if (deadline_passed(&t))
			return false;
	return true;
}

/* Reset, negotiate `features`, set queue 0 to `qsize` entries, DRIVER_OK.
 * Returns the status read back at the end. */
static u8 setup(struct hdev *d, u64 features, u16 qsize)
{
	if (!reset(d))
		return 0xFF;
	memset(&r, 0, sizeof(r));
	avail_idx = 0;
	set_status(d, S_ACK | S_DRIVER);
	u64 select = d->mmio ? reg(d, VMMIO_DRIVER_FEATURES_SEL) : com(d, C_GFSELECT);
	u64 window = d->mmio ? reg(d, VMMIO_DRIVER_FEATURES) : com(d, C_GF);
	mmio_wr32(select, 0);
	mmio_wr32(window, (u32)features);
	mmio_wr32(select, 1);
	mmio_wr32(window, (u32)(features >> 32));
	set_status(d, S_ACK | S_DRIVER | S_FEATURES_OK);
	if (!(status(d) & S_FEATURES_OK))
		return status(d);
	r.avail[0] = 1;	/* no interrupts: we poll */
	if (d->mmio) {
		mmio_wr32(reg(d, VMMIO_QUEUE_SEL), 0);
		mmio_wr32(reg(d, VMMIO_QUEUE_NUM), qsize);
		wr64(reg(d, VMMIO_QUEUE_DESC), (u64)(uintptr_t)r.desc);
		wr64(reg(d, VMMIO_QUEUE_DRIVER), (u64)(uintptr_t)r.avail);
		wr64(reg(d, VMMIO_QUEUE_DEVICE), (u64)(uintptr_t)r.used);
		mmio_wr32(reg(d, VMMIO_QUEUE_READY), 1);
	} else {
		mmio_wr16(com(d, C_Q_SELECT), 0);
		mmio_wr16(com(d, C_Q_SIZE), qsize);
		wr64(com(d, C_Q_DESC), (u64)(uintptr_t)r.desc);
		wr64(com(d, C_Q_DRIVER), (u64)(uintptr_t)r.avail);
		wr64(com(d, C_Q_DEVICE), (u64)(uintptr_t)r.used);
		mmio_wr16(com(d, C_Q_ENABLE), 1);
	}
	set_status(d, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
	return status(d);
}

static void desc(unsigned i, u64 addr, u32 len, u16 flags, u16 next)
{
	r.desc[i] = (struct vring_desc){ addr, len, flags, next };
}

/* Publishes `head` (moving avail idx by `step`, normally 1) and kicks. */
static void kick(struct hdev *d, u16 head, u16 step)
{
	r.avail[2 + (avail_idx & (QSIZE - 1))] = head;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	avail_idx = (u16)(avail_idx + step);
	r.avail[1] = avail_idx;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (d->mmio)
		mmio_wr32(reg(d, VMMIO_QUEUE_NOTIFY), 0);
	else
		mmio_wr16(d->bar + BAR_NOTIFY, 0);
}

/* The spec's answers to a malformed chain: returned, or the device needs reset. */
static const char *answered(struct hdev *d, u16 before)
{
	struct deadline t;
	deadline_start(&t, 3000);
	for (;;) {
		if (*used_idx() != before)
			return NULL;
		if (status(d) & S_NEEDS_RESET)
			return NULL;
		if (deadline_passed(&t))
			return "no used entry and no DEVICE_NEEDS_RESET within 3 s";
	}
}

/* A well-formed request on a freshly set-up device must complete. */
static const char *works(struct hdev *d)
{
	u8 s = setup(d, VIRTIO_F_VERSION_1, QSIZE);
	if (s != (S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK))
		return "set-up after reset failed";
	u16 head = 0;
	if (d->id == VIRTIO_ID_RNG) {
		desc(0, (u64)(uintptr_t)r.data, 32, DESC_WRITE, 0);
	} else {
		/* GET_ID (type 8) with a 20-byte buffer and a status byte. */
		memset(r.header, 0, sizeof(r.header));
		r.header[0] = 8;
		r.status = 0xFF;
		desc(0, (u64)(uintptr_t)r.header, 16, DESC_NEXT, 1);
		desc(1, (u64)(uintptr_t)r.data, 20, DESC_NEXT | DESC_WRITE, 2);
		desc(2, (u64)(uintptr_t)&r.status, 1, DESC_WRITE, 0);
	}
	kick(d, head, 1);
	struct deadline t;
	deadline_start(&t, VIRTIO_REQUEST_MS);
	while (*used_idx() != 1)
		if (deadline_passed(&t))
			return "well-formed request not answered";
	if (d->id == VIRTIO_ID_RNG ? r.used[2] == 0 : r.status != 0)
		return "well-formed request failed";
	return NULL;
}

static void report(struct hdev *d, const char *attack, const char *err)
{
	char name[48];
	size_t a = strlen(attack), n = strlen(d->name);
	memcpy(name, "attack-", 7);
	memcpy(name + 7, attack, a);
	name[7 + a] = '-';
	memcpy(name + 8 + a, d->name, n + 1);
	const char *after = err ? NULL : works(d);
	check(name, !err && !after, "%s", err ? err : after);
}

/* One malformed chain: build it with `build`, kick, expect an answer. */
static void chain_attack(struct hdev *d, const char *attack, u64 features,
			 void (*build)(void), u16 head, u16 step)
{
	u8 s = setup(d, VIRTIO_F_VERSION_1 | features, QSIZE);
	const char *err = NULL;
	if (!(s & S_DRIVER_OK)) {
		err = "set-up failed";
	} else {
		build();
		u16 before = *used_idx();
		kick(d, head, step);
		err = answered(d, before);
	}
	report(d, attack, err);
}

static void b_loop(void)
{
	desc(0, (u64)(uintptr_t)r.data, 8, DESC_NEXT | DESC_WRITE, 1);
	desc(1, (u64)(uintptr_t)r.data, 8, DESC_NEXT | DESC_WRITE, 0);
}
static void b_next_past_size(void) { desc(0, (u64)(uintptr_t)r.data, 8, DESC_NEXT | DESC_WRITE, 0x7FFF); }
static void b_outside_ram(void) { desc(0, 0x7FFF00000000ull, 64, DESC_WRITE, 0); }
static void b_mmio_hole(void) { desc(0, 0xE0000000ull, 64, DESC_WRITE, 0); }
static void b_near_4g(void) { desc(0, 0x100000, 0xFFFFFFF0u, DESC_WRITE, 0); }
static void b_wraps(void) { desc(0, 0xFFFFFFFFFFFFFF00ull, 0x200, DESC_WRITE, 0); }
static void b_plain(void) { desc(0, (u64)(uintptr_t)r.data, 8, DESC_WRITE, 0); }
static void b_nested_indirect(void)
{
	r.indirect2[0] = (struct vring_desc){ (u64)(uintptr_t)r.data, 8, DESC_WRITE, 0 };
	r.indirect[0] = (struct vring_desc){ (u64)(uintptr_t)r.indirect2, 16, DESC_INDIRECT, 0 };
	desc(0, (u64)(uintptr_t)r.indirect, 16, DESC_INDIRECT, 0);
}
static void b_indirect_unnegotiated(void)
{
	r.indirect[0] = (struct vring_desc){ (u64)(uintptr_t)r.data, 8, DESC_WRITE, 0 };
	desc(0, (u64)(uintptr_t)r.indirect, 16, DESC_INDIRECT, 0);
}
static void b_indirect_bad_len(void) { desc(0, (u64)(uintptr_t)r.indirect, 17, DESC_INDIRECT, 0); }
static void b_readable_after_writable(void)
{
	desc(0, (u64)(uintptr_t)r.data, 8, DESC_NEXT | DESC_WRITE, 1);
	desc(1, (u64)(uintptr_t)r.data, 8, 0, 0);
}

/* Register attacks: the bad value must be refused or end in NEEDS_RESET. */
static void attack_queue_size(struct hdev *d, u16 size, const char *name)
{
	u8 s = setup(d, VIRTIO_F_VERSION_1, size);
	bool enabled = queue0_enabled(d);
	const char *err = NULL;
	if (enabled && (s & S_DRIVER_OK) && !(s & S_NEEDS_RESET))
		err = "queue enabled with a bad size and no DEVICE_NEEDS_RESET";
	report(d, name, err);
}

static void attack_features(struct hdev *d)
{
	/* Bit 63 and bit 0 of the transport range are never offered here. */
	u8 s = setup(d, VIRTIO_F_VERSION_1 | (1ull << 63) | (1ull << 50), QSIZE);
	report(d, "unoffered-features", s & S_FEATURES_OK ? "FEATURES_OK accepted unoffered bits" : NULL);
}

static void attack_msix(struct hdev *d)
{
	setup(d, VIRTIO_F_VERSION_1, QSIZE);
	mmio_wr16(com(d, C_MSIX_CONFIG), 0x7FF);
	u16 config = mmio_rd16(com(d, C_MSIX_CONFIG));
	mmio_wr16(com(d, C_Q_SELECT), 0);
	mmio_wr16(com(d, C_Q_MSIX), 0x1234);
	u16 queue = mmio_rd16(com(d, C_Q_MSIX));
	/* Entries past the 2-vector table and past the PBA: ignored, read 0. */
	mmio_wr32(d->bar + BAR_MSIX + 16 * 200, 0xFEE00000);
	mmio_wr32(d->bar + BAR_MSIX + 0xFFC, 0xFFFFFFFF);
	mmio_wr32(d->bar + 0x5000 + 0x800, 0xFFFFFFFF);
	u32 beyond = mmio_rd32(d->bar + BAR_MSIX + 16 * 200);
	const char *err = NULL;
	if (config != NO_VECTOR || queue != NO_VECTOR)
		err = "out-of-range MSI-X vector not answered with NO_VECTOR";
	else if (beyond != 0)
		err = "MSI-X write past the table stuck";
	report(d, "msix-out-of-range", err);
}

static void attack_config_past_end(struct hdev *d)
{
	setup(d, VIRTIO_F_VERSION_1, QSIZE);
	u64 config = device_config(d);
	/* The region's last bytes: BAR0's 4 KiB device region, or the end
	 * of the 0x200-byte virtio-mmio window; then past any device's
	 * configuration but inside the region. */
	u32 end = d->mmio ? 0x100 : 0x1000, past_at = d->mmio ? 0xC0 : 0x100;
	u32 before = mmio_rd32(config);
	mmio_wr32(config, 0xDEADBEEF);	/* read-only fields */
	mmio_wr32(config + end - 2, 0xDEADBEEF);	/* straddles the end */
	mmio_wr32(config + past_at, 0xDEADBEEF);
	u32 after = mmio_rd32(config);
	u32 past = mmio_rd32(config + past_at);
	report(d, "config-past-end", before != after ? "device config changed by a write"
				     : past != 0 ? "bytes past the config read back non-zero" : NULL);
}

/* virtio-mmio's registers: only aligned 32-bit accesses count (4.2.2.2),
 * read-only ones stay so, and a selector past 16 bits selects nothing. */
static void attack_mmio_registers(struct hdev *d)
{
	u8 s = setup(d, VIRTIO_F_VERSION_1, QSIZE);
	mmio_wr8(reg(d, VMMIO_STATUS), 0);	/* a byte-wide reset: ignored */
	mmio_wr16(reg(d, VMMIO_STATUS), 0);
	u8 after = status(d);
	mmio_wr32(reg(d, VMMIO_MAGIC), 0);
	mmio_wr32(reg(d, VMMIO_DEVICE_ID), 0);
	mmio_wr32(reg(d, VMMIO_CONFIG_GENERATION), 0x55);
	u32 magic = mmio_rd32(reg(d, VMMIO_MAGIC)), id = mmio_rd32(reg(d, VMMIO_DEVICE_ID));
	u32 unaligned = mmio_rd32(reg(d, VMMIO_MAGIC + 2));
	mmio_wr32(reg(d, VMMIO_QUEUE_SEL), 0x10000);	/* queue 0 if truncated */
	u32 max = mmio_rd32(reg(d, VMMIO_QUEUE_NUM_MAX));
	mmio_wr32(reg(d, VMMIO_QUEUE_NOTIFY), 0xFFFF);	/* no such queue */
	mmio_wr32(reg(d, VMMIO_INTERRUPT_ACK), 0xFFFFFFFF);
	const char *err = NULL;
	if (after != s)
		err = "a byte or halfword write to Status took";
	else if (magic != VMMIO_MAGIC_VALUE || id != d->id)
		err = "a read-only register changed";
	else if (unaligned != 0)
		err = "an unaligned register read answered";
	else if (max != 0)
		err = "QueueSel 0x10000 selected a queue";
	report(d, "mmio-registers", err);
}

static void attack(struct hdev *d)
{
	chain_attack(d, "desc-loop", 0, b_loop, 0, 1);
	chain_attack(d, "next-past-size", 0, b_next_past_size, 0, 1);
	chain_attack(d, "head-past-size", 0, b_plain, 0x7FFF, 1);
	chain_attack(d, "addr-outside-ram", 0, b_outside_ram, 0, 1);
	chain_attack(d, "addr-mmio-hole", 0, b_mmio_hole, 0, 1);
	chain_attack(d, "len-near-4g", 0, b_near_4g, 0, 1);
	chain_attack(d, "addr-wraps", 0, b_wraps, 0, 1);
	chain_attack(d, "avail-jump", 0, b_plain, 0, 1000);
	chain_attack(d, "nested-indirect", F_INDIRECT, b_nested_indirect, 0, 1);
	chain_attack(d, "indirect-unnegotiated", 0, b_indirect_unnegotiated, 0, 1);
	chain_attack(d, "indirect-bad-len", F_INDIRECT, b_indirect_bad_len, 0, 1);
	chain_attack(d, "readable-after-writable", 0, b_readable_after_writable, 0, 1);
	attack_queue_size(d, 3, "queue-size-3");
	attack_queue_size(d, 0, "queue-size-0");
	attack_queue_size(d, 0x8000, "queue-size-too-big");
	attack_features(d);
	if (d->mmio)
		attack_mmio_registers(d);
	else
		attack_msix(d);
	attack_config_past_end(d);
	reset(d);
}

void mode_hostile(void)
{
	static struct hdev devs[] = {
		{ .name = "rng", .id = VIRTIO_ID_RNG },
		{ .name = "blk", .id = VIRTIO_ID_BLOCK },
	};
	for (unsigned i = 0; i < sizeof(devs) / sizeof(devs[0]); i++) {
		struct hdev *d = &devs[i];
		d->mmio = virtio_mmio_wanted();
		if (d->mmio) {
			u32 irq;
			if (mmio_find(d->id, &d->bar, &irq))
				attack(d);
			else
				print("hostile: no %s device\n", d->name);
			continue;
		}
		if (!pci_find(VIRTIO_VENDOR, (u16)(0x1040 + d->id), &d->devfn)) {
			print("hostile: no %s device\n", d->name);
			continue;
		}
		const char *err = NULL;
		d->bar = pci_bar(d->devfn, 0, &err);
		if (!d->bar) {
			check("hostile-bar", false, "%s: %s", d->name, err);
			continue;
		}
		pci_enable(d->devfn);
		attack(d);
	}
	finish();
}
