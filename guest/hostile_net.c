/*
 * Guests for issue 17's busy loops, where a virtio-net device listening to
 * a tap must not keep the host's event loop spinning.
 *
 * mode=net-break-rx starts the device with every receive buffer posted,
 * then moves the receive ring's avail index more than a ring ahead of
 * anything the device can have taken, without a kick, and says so.  The
 * host's frames use up the buffers and then meet the broken index: the
 * device must set DEVICE_NEEDS_RESET (virtio 1.2, 2.1.2) and stop reading
 * the tap, which still holds frames.
 *
 * mode=net-listen starts the device with every receive buffer posted and
 * does nothing more: the host may then take the tap away under it.
 *
 * Both end halted with interrupts off, so a host measuring swiftlet's CPU
 * time sees the device thread alone.
 */
#include "virtio.h"

#define RECEIVEQ	0
#define BUF_LEN		2048
#define S_NEEDS_RESET	0x40

static u8 rx_buf[VQ_MAX][BUF_LEN] __attribute__((aligned(64)));

static struct virtio_dev d = { .name = "net" };

/* The device running, every receive buffer posted and kicked: it listens. */
static struct virtq *listen(void)
{
	if (!virtio_init(&d, VIRTIO_ID_NET, 0, 2))
		finish();
	struct virtq *q = &d.vq[RECEIVEQ];
	for (u16 i = 0; i < q->size; i++) {
		struct vseg s = { rx_buf[i], BUF_LEN, true };
		vq_submit(q, i, &s, 1);
	}
	return q;
}

void mode_net_listen(void)
{
	listen();
	print("net-listen: listening\n");
	print("testguest: hanging\n");
	halt_forever();
}

void mode_net_break_rx(void)
{
	struct virtq *q = listen();
	/* The device has taken at most q->size entries, so an index a ring
	 * and one past ours is more than a ring ahead of wherever it is. */
	q->avail[1] = (u16)(q->avail_idx + q->size + 1);
	mb();
	print("net-break-rx: receive ring broken, waiting for frames\n");
	struct deadline t;
	deadline_start(&t, 60000);
	while (!(virtio_status(&d) & S_NEEDS_RESET) && !deadline_passed(&t))
		;
	u16 used = q->used[1];
	check("net-rx-needs-reset", virtio_status(&d) & S_NEEDS_RESET,
	      "status %x: no DEVICE_NEEDS_RESET after %u frames", virtio_status(&d), used);
	print("net-break-rx: %u frames delivered before the break\n", used);
	print("testguest: hanging\n");
	halt_forever();
}
