/*
 * mode=virtio-console (virtio 1.2, 5.3): one line out through port 0's
 * transmitq, one line back through its receiveq.  Without
 * VIRTIO_CONSOLE_F_MULTIPORT there is only port 0, on queues 0 and 1,
 * and no control queue.
 */
#include "virtio.h"

#define RECEIVEQ	0
#define TRANSMITQ	1
#define RX_BUFS		4
#define RX_BUF_LEN	64
#define LINE_MAX	128
#define RX_WAIT_MS	30000	/* the host side may be a person typing */

static const char hello[] = "virtio-console: hello from the guest\n";

static u8 rx_buf[RX_BUFS][RX_BUF_LEN];
static char line[LINE_MAX];

static void post_rx(struct virtq *q, u16 i)
{
	struct vseg s = { rx_buf[i], RX_BUF_LEN, true };
	vq_submit(q, i, &s, 1);
}

static void test_tx(struct virtio_dev *d)
{
	struct virtq *q = &d->vq[TRANSMITQ];
	struct vseg s = { hello, sizeof(hello) - 1, false };
	vq_submit(q, 0, &s, 1);
	u32 id, len;
	const char *err = vq_wait(q, VIRTIO_REQUEST_MS, &id, &len);
	if (err)
		check("console-tx", false, "%s", err);
	else
		check("console-tx", id == 0, "used id %u, expected 0", id);
}

/* Collects received bytes until a newline, reposting each buffer once
 * its bytes are copied.  Descriptor i is rx_buf[i], one per chain. */
static void test_rx(struct virtio_dev *d)
{
	struct virtq *q = &d->vq[RECEIVEQ];
	size_t n = 0;
	struct deadline t;
	deadline_start(&t, RX_WAIT_MS);
	for (;;) {
		u32 id, len;
		if (!vq_reap(q, &id, &len)) {
			if (deadline_passed(&t)) {
				check("console-rx", false, "no newline within %u s (%lu bytes came)",
				      RX_WAIT_MS / 1000, n);
				return;
			}
			continue;
		}
		if (id >= RX_BUFS || len > RX_BUF_LEN) {
			check("console-rx", false, "used element id %u len %u, gave ids < %u of %u bytes",
			      id, len, RX_BUFS, RX_BUF_LEN);
			return;
		}
		for (u32 k = 0; k < len; k++) {
			char c = (char)rx_buf[id][k];
			if (c == '\n') {
				line[n] = 0;
				print("virtio-console got: %s\n", line);
				check("console-rx", true, "%s", "");
				return;
			}
			if (n + 1 == LINE_MAX) {
				check("console-rx", false, "no newline in the first %u bytes",
				      LINE_MAX - 1);
				return;
			}
			/* A carriage return from a terminal is not part of the line;
			 * other control bytes would garble our own output. */
			if (c != '\r')
				line[n++] = c >= 0x20 && c < 0x7f ? c : '.';
		}
		post_rx(q, (u16)id);
	}
}

void virtio_console_test(void)
{
	static struct virtio_dev d = { .name = "console" };
	if (!virtio_init(&d, VIRTIO_ID_CONSOLE, 0, 2))
		return;
	/* Buffers first, so nothing the host sends in answer is held up. */
	for (u16 i = 0; i < RX_BUFS; i++)
		post_rx(&d.vq[RECEIVEQ], i);
	test_tx(&d);
	/* console_rx=0 for a host that has nothing to say. */
	if (!arg_is("console_rx", "0"))
		test_rx(&d);
	virtio_reset(&d);
}

void mode_virtio_console(void)
{
	virtio_console_test();
	finish();
}
