/*
 * The virtio PCI (virtio 1.2, 4.1) and virtio-mmio (4.2) transports and
 * split virtqueues (2.7), driven by polling: no interrupts, so the IDT
 * stays as it is and every wait is bounded.  The device files see one
 * driver; only the register accesses here differ.  Section numbers below
 * are virtio 1.2's.
 */
#include "virtio.h"

#define VIRTIO_VENDOR		0x1AF4
#define PCI_CAP_ID_VNDR		0x09

/* struct virtio_pci_cap (4.1.4) fields, as offsets from the capability. */
#define CAP_LEN			2
#define CAP_CFG_TYPE		3
#define CAP_BAR			4
#define CAP_OFFSET		8
#define CAP_LENGTH		12
#define CAP_NOTIFY_MULT		16	/* struct virtio_pci_notify_cap only */
#define CFG_COMMON		1
#define CFG_NOTIFY		2
#define CFG_DEVICE		4

/* struct virtio_pci_common_cfg (4.1.4.3). */
#define COMMON_DFSELECT		0x00
#define COMMON_DF		0x04
#define COMMON_GFSELECT		0x08
#define COMMON_GF		0x0C
#define COMMON_NUM_QUEUES	0x12
#define COMMON_STATUS		0x14
#define COMMON_CFG_GENERATION	0x15
#define COMMON_Q_SELECT		0x16
#define COMMON_Q_SIZE		0x18
#define COMMON_Q_ENABLE		0x1C
#define COMMON_Q_NOTIFY_OFF	0x1E
#define COMMON_Q_DESC		0x20
#define COMMON_Q_DRIVER		0x28
#define COMMON_Q_DEVICE		0x30
#define COMMON_LEN		0x38	/* all a 1.0 device must have */

/* Device status bits (2.1). */
#define S_ACKNOWLEDGE		1
#define S_DRIVER		2
#define S_DRIVER_OK		4
#define S_FEATURES_OK		8
#define S_FAILED		128

#define AVAIL_F_NO_INTERRUPT	1

/*
 * Ring memory for every queue one boot sets up (console 2, blk 1, rng 1,
 * net 2),
 * in .bss.  Alignment (2.7, table "Virtqueue Part Alignment"): descriptor
 * table 16, driver area 2, device area 4.
 */
struct ring_mem {
	struct vring_desc desc[VQ_MAX];
	u16 avail[3 + VQ_MAX];
	u32 used[2 + 2 * VQ_MAX];	/* u32s so it is 4-aligned */
} __attribute__((aligned(64)));
static struct ring_mem rings[9];
static unsigned rings_used;

static u64 common(struct virtio_dev *d, u32 off) { return d->common + off; }

/* virtio-mmio's registers are 32 bits wide, and accessed only so (4.2.2.2). */
static u64 reg(struct virtio_dev *d, u32 off) { return d->base + off; }

static void set_status(struct virtio_dev *d, u8 bits)
{
	if (d->mmio)
		mmio_wr32(reg(d, VMMIO_STATUS), bits);
	else
		mmio_wr8(common(d, COMMON_STATUS), bits);
}

static u8 status(struct virtio_dev *d)
{
	if (d->mmio)
		return (u8)mmio_rd32(reg(d, VMMIO_STATUS));
	return mmio_rd8(common(d, COMMON_STATUS));
}

/* 64-bit fields as two 32-bit halves, low first: 4.1.3.1 allows it, and
 * not every device model takes a 64-bit access. */
static void write64(u64 a, u64 v)
{
	mmio_wr32(a, (u32)v);
	mmio_wr32(a + 4, (u32)(v >> 32));
}

/* The select/window pairs: device features, then driver features. */
static u64 feature_select(struct virtio_dev *d, bool driver)
{
	if (d->mmio)
		return reg(d, driver ? VMMIO_DRIVER_FEATURES_SEL : VMMIO_DEVICE_FEATURES_SEL);
	return common(d, driver ? COMMON_GFSELECT : COMMON_DFSELECT);
}

static u64 feature_window(struct virtio_dev *d, bool driver)
{
	if (d->mmio)
		return reg(d, driver ? VMMIO_DRIVER_FEATURES : VMMIO_DEVICE_FEATURES);
	return common(d, driver ? COMMON_GF : COMMON_DF);
}

static u64 read_features(struct virtio_dev *d)
{
	mmio_wr32(feature_select(d, false), 0);
	u64 lo = mmio_rd32(feature_window(d, false));
	mmio_wr32(feature_select(d, false), 1);
	return lo | (u64)mmio_rd32(feature_window(d, false)) << 32;
}

static void write_features(struct virtio_dev *d, u64 f)
{
	mmio_wr32(feature_select(d, true), 0);
	mmio_wr32(feature_window(d, true), (u32)f);
	mmio_wr32(feature_select(d, true), 1);
	mmio_wr32(feature_window(d, true), (u32)(f >> 32));
}

bool virtio_present(u16 id)
{
	u16 devfn;
	u64 base;
	u32 irq;
	if (virtio_mmio_wanted())
		return mmio_find(id, &base, &irq);
	return pci_find(VIRTIO_VENDOR, (u16)(0x1040 + id), &devfn);
}

/*
 * Finds the common, notify and device-specific structures (4.1.4): the
 * first vendor capability of each type, as 4.1.4.1 tells drivers to use.
 * Types we do not use (ISR, PCI configuration access) and capabilities
 * naming a reserved BAR are passed over.  Returns NULL or what is wrong.
 */
static const char *map_structures(struct virtio_dev *d)
{
	u16 df = d->devfn;
	for (u8 cap = pci_find_cap(df, 0, PCI_CAP_ID_VNDR); cap;
	     cap = pci_find_cap(df, cap, PCI_CAP_ID_VNDR)) {
		u8 type = (u8)pci_read(df, cap + CAP_CFG_TYPE, 1);
		u8 bar = (u8)pci_read(df, cap + CAP_BAR, 1);
		u8 cap_len = (u8)pci_read(df, cap + CAP_LEN, 1);
		if (bar > 5 || cap_len < 16)
			continue;
		u64 *where = type == CFG_COMMON ? &d->common
			   : type == CFG_NOTIFY ? &d->notify
			   : type == CFG_DEVICE ? &d->device : NULL;
		if (!where || *where)
			continue;
		if (type == CFG_NOTIFY && cap_len < 20)
			return "notify capability shorter than 20 bytes";
		const char *err;
		u64 base = pci_bar(df, bar, &err);
		if (!base)
			return err;
		u32 off = pci_read(df, cap + CAP_OFFSET, 4);
		u32 len = pci_read(df, cap + CAP_LENGTH, 4);
		*where = base + off;
		if (type == CFG_COMMON && len < COMMON_LEN)
			return "common configuration shorter than 0x38 bytes";
		if (type == CFG_NOTIFY) {
			d->notify_len = len;
			d->notify_mult = pci_read(df, cap + CAP_NOTIFY_MULT, 4);
		}
		if (type == CFG_DEVICE)
			d->device_len = len;
	}
	if (!d->common)
		return "no common configuration capability";
	if (!d->notify)
		return "no notification capability";
	return NULL;
}

/* 4.1.5.1.3 (PCI) and 4.2.3.2 (MMIO): select, size, addresses, enable. */
static const char *setup_queue(struct virtio_dev *d, u16 i)
{
	struct virtq *q = &d->vq[i];
	u16 max;
	if (d->mmio) {
		mmio_wr32(reg(d, VMMIO_QUEUE_SEL), i);
		if (mmio_rd32(reg(d, VMMIO_QUEUE_READY)))
			return "QueueReady set right after reset";
		u32 num_max = mmio_rd32(reg(d, VMMIO_QUEUE_NUM_MAX));
		if (num_max > 0x8000)
			return "QueueNumMax above 32768";
		max = (u16)num_max;
	} else {
		mmio_wr16(common(d, COMMON_Q_SELECT), i);
		max = mmio_rd16(common(d, COMMON_Q_SIZE));
		if (max != 0 && mmio_rd16(common(d, COMMON_Q_ENABLE)))
			return "queue enabled right after reset";
	}
	if (max == 0)
		return "queue size 0 (no such queue)";
	if (rings_used == sizeof(rings) / sizeof(rings[0]))
		return "out of ring memory";
	struct ring_mem *r = &rings[rings_used++];
	memset(r, 0, sizeof(*r));
	/* Split ring sizes are powers of two (2.7); a smaller one than the
	 * device offers is ours to choose (4.1.4.3.2). */
	q->size = max < VQ_MAX ? max : VQ_MAX;
	if (q->size & (q->size - 1))
		return "queue size is not a power of two";
	q->index = i;
	q->avail_idx = q->last_used = 0;
	q->desc = r->desc;
	q->avail = r->avail;
	q->used = (volatile u16 *)r->used;
	/* We poll; interrupts would only cost the VMM an injection. */
	q->avail[0] = AVAIL_F_NO_INTERRUPT;

	if (d->mmio) {
		q->notify = reg(d, VMMIO_QUEUE_NOTIFY);
		q->notify32 = true;
		mmio_wr32(reg(d, VMMIO_QUEUE_NUM), q->size);
		write64(reg(d, VMMIO_QUEUE_DESC), (u64)(uintptr_t)r->desc);
		write64(reg(d, VMMIO_QUEUE_DRIVER), (u64)(uintptr_t)r->avail);
		write64(reg(d, VMMIO_QUEUE_DEVICE), (u64)(uintptr_t)r->used);
		mmio_wr32(reg(d, VMMIO_QUEUE_READY), 1);
		return NULL;
	}
	u16 notify_off = mmio_rd16(common(d, COMMON_Q_NOTIFY_OFF));
	u64 at = (u64)notify_off * d->notify_mult;
	if (at + 2 > d->notify_len)	/* 4.1.4.4.1 */
		return "queue notify address beyond the notification structure";
	q->notify = d->notify + at;
	q->notify32 = false;

	mmio_wr16(common(d, COMMON_Q_SIZE), q->size);
	write64(common(d, COMMON_Q_DESC), (u64)(uintptr_t)r->desc);
	write64(common(d, COMMON_Q_DRIVER), (u64)(uintptr_t)r->avail);
	write64(common(d, COMMON_Q_DEVICE), (u64)(uintptr_t)r->used);
	mmio_wr16(common(d, COMMON_Q_ENABLE), 1);
	return NULL;
}

/* 4.1.4.3.2: after writing 0, wait for the device to read back 0. */
static bool reset_and_wait(struct virtio_dev *d)
{
	set_status(d, 0);
	struct deadline t;
	deadline_start(&t, 1000);
	while (status(d) != 0)
		if (deadline_passed(&t))
			return false;
	return true;
}

void virtio_reset(struct virtio_dev *d)
{
	if (!reset_and_wait(d))
		print("virtio: %s: device status still %x a second after reset\n", d->name,
		      status(d));
}

/*
 * The initialization sequence of 3.1.1, reported as `<name>-init`.  We
 * accept VERSION_1 plus those bits of `want` the device offers, so a
 * caller learns what it got from d->features (and what was offered, even
 * if not wanted, from d->offered).
 */
bool virtio_init(struct virtio_dev *d, u16 id, u64 want, unsigned queues)
{
	char check_name[24];
	size_t n = strlen(d->name);
	memcpy(check_name, d->name, n);
	memcpy(check_name + n, "-init", 6);

	const char *err;
	d->mmio = virtio_mmio_wanted();
	if (d->mmio) {
		if (!mmio_find(id, &d->base, &d->irq))
			return check(check_name, false, "no virtio-mmio device of type %u", id);
		/* The device configuration runs from 0x100 to the end of the
		 * 0x200-byte window every VMM gives (4.2.2). */
		d->device = d->base + VMMIO_CONFIG;
		d->device_len = 0x100;
	} else {
		if (!pci_find(VIRTIO_VENDOR, (u16)(0x1040 + id), &d->devfn))
			return check(check_name, false, "no device 1af4:%04x on bus 0", 0x1040 + id);
		err = map_structures(d);
		if (err)
			return check(check_name, false, "00:%02x.%u: %s", d->devfn >> 3, d->devfn & 7, err);
		pci_enable(d->devfn);
	}

	if (!reset_and_wait(d))
		return check(check_name, false, "device status still %x after writing 0",
			     status(d));
	set_status(d, S_ACKNOWLEDGE);
	set_status(d, S_ACKNOWLEDGE | S_DRIVER);
	d->offered = read_features(d);
	if (!(d->offered & VIRTIO_F_VERSION_1)) {
		set_status(d, S_FAILED);
		return check(check_name, false, "VERSION_1 not offered (features %lx)", d->offered);
	}
	d->features = VIRTIO_F_VERSION_1 | (want & d->offered);
	write_features(d, d->features);
	set_status(d, S_ACKNOWLEDGE | S_DRIVER | S_FEATURES_OK);
	if (!(status(d) & S_FEATURES_OK)) {
		set_status(d, S_FAILED);
		return check(check_name, false, "FEATURES_OK did not stick for features %lx",
			     d->features);
	}
	/* virtio-mmio has no queue count: setup_queue asks QueueNumMax instead. */
	u16 nq = d->mmio ? (u16)queues : mmio_rd16(common(d, COMMON_NUM_QUEUES));
	if (nq < queues) {
		set_status(d, S_FAILED);
		return check(check_name, false, "num_queues is %u, need %u", nq, queues);
	}
	for (u16 i = 0; i < queues; i++) {
		err = setup_queue(d, i);
		if (err) {
			set_status(d, S_FAILED);
			return check(check_name, false, "queue %u: %s", i, err);
		}
	}
	set_status(d, S_ACKNOWLEDGE | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
	if (d->mmio)
		print("virtio: %s at mmio %lx (irq %u), features offered %lx, accepted %lx\n", d->name,
		      d->base, d->irq, d->offered, d->features);
	else
		print("virtio: %s at 00:%02x.%u, features offered %lx, accepted %lx\n", d->name,
		      d->devfn >> 3, d->devfn & 7, d->offered, d->features);
	u8 s = status(d);
	return check(check_name, !(s & S_FAILED) && (s & S_DRIVER_OK),
		     "device status %x after DRIVER_OK", s);
}

u8 virtio_status(struct virtio_dev *d)
{
	return status(d);
}

/* Device-specific configuration, 32 bits at a time (4.1.3.1). */
u32 virtio_config32(struct virtio_dev *d, u32 off)
{
	return mmio_rd32(d->device + off);
}

u8 virtio_config_generation(struct virtio_dev *d)
{
	if (d->mmio)
		return (u8)mmio_rd32(reg(d, VMMIO_CONFIG_GENERATION));
	return mmio_rd8(common(d, COMMON_CFG_GENERATION));
}

/*
 * Makes the chain segs[0..n-1], in descriptors head, head+1, ... (mod the
 * queue size), available and notifies the device (2.7.13).  We notify
 * every time rather than honour VIRTQ_USED_F_NO_NOTIFY: the spec only
 * says a driver SHOULD NOT notify then, and one notification too many
 * cannot hide a device bug.
 */
/* Puts the chain in the avail ring and publishes it, without a kick. */
static void vq_publish(struct virtq *q, u16 head, const struct vseg *segs, unsigned n)
{
	u16 mask = (u16)(q->size - 1);
	for (unsigned k = 0; k < n; k++) {
		struct vring_desc *dsc = &q->desc[(head + k) & mask];
		dsc->addr = (u64)(uintptr_t)segs[k].addr;
		dsc->len = segs[k].len;
		dsc->flags = (u16)((k + 1 < n ? VRING_DESC_F_NEXT : 0) |
				   (segs[k].device_writes ? VRING_DESC_F_WRITE : 0));
		dsc->next = (u16)((head + k + 1) & mask);
	}
	q->avail[2 + (q->avail_idx & mask)] = head;
	/* The device must see the descriptors and ring entry before the
	 * index that publishes them (2.7.13.3.1) ... */
	mb();
	q->avail_idx++;
	q->avail[1] = q->avail_idx;
	/* ... and the index before the notification, or before reading
	 * whether one is wanted (2.7.13.4). */
	mb();
}

static void vq_kick(struct virtq *q)
{
	if (q->notify32)
		mmio_wr32(q->notify, q->index);
	else
		mmio_wr16(q->notify, q->index);
}

void vq_submit(struct virtq *q, u16 head, const struct vseg *segs, unsigned n)
{
	vq_publish(q, head, segs, n);
	vq_kick(q);
}

void vq_submit_lazy(struct virtq *q, u16 head, const struct vseg *segs, unsigned n)
{
	vq_publish(q, head, segs, n);
	if (!(q->used[0] & VRING_USED_F_NO_NOTIFY))
		vq_kick(q);
}

/* Takes one used element if there is one (2.7.14). */
bool vq_reap(struct virtq *q, u32 *id, u32 *len)
{
	if (q->used[1] == q->last_used)
		return false;
	/* Read the element only after the index that published it. */
	mb();
	const volatile u32 *e = (const volatile u32 *)(q->used + 2) +
				2 * (q->last_used & (q->size - 1));
	*id = e[0];
	*len = e[1];
	q->last_used++;
	return true;
}

/* NULL once an element was taken, else why not. */
const char *vq_wait(struct virtq *q, u32 ms, u32 *id, u32 *len)
{
	struct deadline t;
	deadline_start(&t, ms);
	for (;;) {
		/* A device that returns more than we gave it is broken, and
		 * the elements it claims are garbage. */
		if ((u16)(q->used[1] - q->last_used) > (u16)(q->avail_idx - q->last_used))
			return "used idx ran ahead of the buffers made available";
		if (vq_reap(q, id, len))
			return NULL;
		if (deadline_passed(&t))
			return "no used buffer before the timeout";
	}
}

/* ---- mode=virtio-all ---- */

void mode_virtio_all(void)
{
	static const struct {
		const char *name;
		u16 id;
		void (*test)(void);
	} devices[] = {
		{ "console", VIRTIO_ID_CONSOLE, virtio_console_test },
		{ "blk", VIRTIO_ID_BLOCK, virtio_blk_test },
		{ "rng", VIRTIO_ID_RNG, virtio_rng_test },
		{ "net", VIRTIO_ID_NET, virtio_net_test },
	};
	for (unsigned i = 0; i < sizeof(devices) / sizeof(devices[0]); i++) {
		if (virtio_present(devices[i].id)) {
			devices[i].test();
			continue;
		}
		print("virtio: no %s device\n", devices[i].name);
		/* Absent and required: the test itself says so as `<name>-init`. */
		if (arg_lists("require", devices[i].name))
			devices[i].test();
	}
	finish();
}
