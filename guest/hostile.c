/*
 * mode=hostile: a driver that attacks Swiftlet's virtio-pci devices (the rng and,
 * with a disk, the block device).  It sets each device up by itself, submits
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
static u8 status(struct hdev *d) { return mmio_rd8(com(d, C_STATUS)); }
static volatile u16 *used_idx(void) { return (volatile u16 *)&r.used[0] + 1; }

static void wr64(u64 a, u64 v)
{
	mmio_wr32(a, (u32)v);
	mmio_wr32(a + 4, (u32)(v >> 32));
}

static bool reset(struct hdev *d)
{
	mmio_wr8(com(d, C_STATUS), 0);
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
	mmio_wr8(com(d, C_STATUS), S_ACK | S_DRIVER);
	mmio_wr32(com(d, C_GFSELECT), 0);
	mmio_wr32(com(d, C_GF), (u32)features);
	mmio_wr32(com(d, C_GFSELECT), 1);
	mmio_wr32(com(d, C_GF), (u32)(features >> 32));
	mmio_wr8(com(d, C_STATUS), S_ACK | S_DRIVER | S_FEATURES_OK);
	if (!(status(d) & S_FEATURES_OK))
		return status(d);
	mmio_wr16(com(d, C_Q_SELECT), 0);
	mmio_wr16(com(d, C_Q_SIZE), qsize);
	r.avail[0] = 1;	/* no interrupts: we poll */
	wr64(com(d, C_Q_DESC), (u64)(uintptr_t)r.desc);
	wr64(com(d, C_Q_DRIVER), (u64)(uintptr_t)r.avail);
	wr64(com(d, C_Q_DEVICE), (u64)(uintptr_t)r.used);
	mmio_wr16(com(d, C_Q_ENABLE), 1);
	mmio_wr8(com(d, C_STATUS), S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
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
	mmio_wr16(com(d, C_Q_SELECT), 0);
	bool enabled = mmio_rd16(com(d, C_Q_ENABLE));
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
	u32 before = mmio_rd32(d->bar + BAR_DEVICE);
	mmio_wr32(d->bar + BAR_DEVICE, 0xDEADBEEF);	/* read-only fields */
	mmio_wr32(d->bar + BAR_DEVICE + 0xFFE, 0xDEADBEEF);	/* straddles the end */
	mmio_wr32(d->bar + BAR_DEVICE + 0x100, 0xDEADBEEF);
	u32 after = mmio_rd32(d->bar + BAR_DEVICE);
	u32 past = mmio_rd32(d->bar + BAR_DEVICE + 0x100);
	report(d, "config-past-end", before != after ? "device config changed by a write"
				     : past != 0 ? "bytes past the config read back non-zero" : NULL);
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
