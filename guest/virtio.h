/*
 * A polling virtio 1.2 driver over PCI or virtio-mmio (modern devices
 * only): the transports (virtio.c, virtio_mmio.c) and what the device
 * files share.  `transport=mmio` on the command line picks virtio-mmio.
 */
#ifndef VIRTIO_H
#define VIRTIO_H

#include "guest.h"

/* Virtio device IDs (virtio 1.2, 5); the PCI device ID is 0x1040 + id. */
#define VIRTIO_ID_NET		1
#define VIRTIO_ID_BLOCK		2
#define VIRTIO_ID_CONSOLE	3
#define VIRTIO_ID_RNG		4

#define VIRTIO_F_VERSION_1	(1ull << 32)

/* Split virtqueue (2.7), little-endian like the guest. */
struct vring_desc {
	u64 addr;
	u32 len;
	u16 flags;
	u16 next;
};
#define VRING_DESC_F_NEXT	1
#define VRING_DESC_F_WRITE	2	/* device writes, rather than reads, the buffer */
#define VRING_USED_F_NO_NOTIFY	1	/* used->flags: the device asks for no kicks (2.7.10) */

struct vring_used_elem {
	u32 id;
	u32 len;
};

/* Our queues never have more entries than this (a device may offer more). */
#define VQ_MAX 16

struct virtq {
	u16 index, size;
	u16 avail_idx;	/* our next avail->idx */
	u16 last_used;	/* used->idx we have consumed up to */
	struct vring_desc *desc;
	volatile u16 *avail;	/* flags, idx, ring[size], used_event */
	volatile u16 *used;	/* flags, idx, then vring_used_elem[size] */
	u64 notify;		/* where the queue index is written to kick it */
	bool notify32;		/* with a 32-bit write (virtio-mmio), else 16-bit */
};

struct virtio_dev {
	const char *name;	/* "console", "blk", "rng", "net": line and check prefix */
	u16 devfn;
	bool mmio;			/* on virtio-mmio at `base`, not PCI */
	u64 base;
	u32 irq;			/* virtio-mmio: the pin discovery named */
	u64 common, device, notify;	/* mapped structures (4.1.4) */
	u32 device_len, notify_len, notify_mult;
	u64 offered, features;		/* device features, negotiated ones */
	struct virtq vq[3];
};

/* One buffer of a chain, in guest-physical (== our virtual) memory. */
struct vseg {
	const void *addr;
	u32 len;
	bool device_writes;
};

/* virtio-mmio registers, version 2 (4.2.2), from the window's base. */
#define VMMIO_MAGIC		0x000	/* "virt" */
#define VMMIO_VERSION		0x004
#define VMMIO_DEVICE_ID		0x008
#define VMMIO_VENDOR_ID		0x00C
#define VMMIO_DEVICE_FEATURES	0x010
#define VMMIO_DEVICE_FEATURES_SEL 0x014
#define VMMIO_DRIVER_FEATURES	0x020
#define VMMIO_DRIVER_FEATURES_SEL 0x024
#define VMMIO_QUEUE_SEL		0x030
#define VMMIO_QUEUE_NUM_MAX	0x034
#define VMMIO_QUEUE_NUM		0x038
#define VMMIO_QUEUE_READY	0x044
#define VMMIO_QUEUE_NOTIFY	0x050
#define VMMIO_INTERRUPT_STATUS	0x060
#define VMMIO_INTERRUPT_ACK	0x064
#define VMMIO_STATUS		0x070
#define VMMIO_QUEUE_DESC	0x080	/* low, then high at +4 */
#define VMMIO_QUEUE_DRIVER	0x090
#define VMMIO_QUEUE_DEVICE	0x0A0
#define VMMIO_CONFIG_GENERATION	0x0FC
#define VMMIO_CONFIG		0x100
#define VMMIO_MAGIC_VALUE	0x74726976

/* virtio_mmio.c: whether this boot drives virtio-mmio (transport=mmio),
 * and the first window holding a version-2 device of type `id`. */
bool virtio_mmio_wanted(void);
bool mmio_find(u16 id, u64 *base, u32 *irq);

bool virtio_present(u16 id);
bool virtio_init(struct virtio_dev *d, u16 id, u64 want, unsigned queues);
void virtio_reset(struct virtio_dev *d);
/* The device status register (2.1): DEVICE_NEEDS_RESET is 0x40. */
u8 virtio_status(struct virtio_dev *d);
u32 virtio_config32(struct virtio_dev *d, u32 off);
u8 virtio_config_generation(struct virtio_dev *d);
void vq_submit(struct virtq *q, u16 head, const struct vseg *segs, unsigned n);
/* As vq_submit, but no kick while the device says VRING_USED_F_NO_NOTIFY
 * (2.7.10), as a driver going fast does (the benchmark modes). */
void vq_submit_lazy(struct virtq *q, u16 head, const struct vseg *segs, unsigned n);
bool vq_reap(struct virtq *q, u32 *id, u32 *len);
const char *vq_wait(struct virtq *q, u32 ms, u32 *id, u32 *len);

/* How long a request may take (ms, see struct deadline): generous for a
 * device model that is itself emulated or stopped in a debugger. */
#define VIRTIO_REQUEST_MS 10000

/* Device tests; each is one part of mode=virtio-all. */
void virtio_console_test(void);
void virtio_blk_test(void);
void virtio_rng_test(void);
void virtio_net_test(void);

#endif
