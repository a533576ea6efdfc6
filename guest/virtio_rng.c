/*
 * mode=virtio-rng (virtio 1.2, 5.4): one device-writable buffer on the
 * requestq; whatever comes back must not be a constant.
 */
#include "virtio.h"

#define RNG_BYTES 64

void virtio_rng_test(void)
{
	static struct virtio_dev d = { .name = "rng" };
	static u8 buf[RNG_BYTES];
	if (!virtio_init(&d, VIRTIO_ID_RNG, 0, 1))
		return;
	memset(buf, 0, sizeof(buf));
	struct vseg s = { buf, sizeof(buf), true };
	vq_submit(&d.vq[0], 0, &s, 1);
	u32 id, len;
	const char *err = vq_wait(&d.vq[0], VIRTIO_REQUEST_MS, &id, &len);
	if (err) {
		check("rng", false, "%s", err);
	} else {
		print("virtio-rng got %u bytes\n", len);
		/* Over the whole zeroed buffer: a device that wrote nothing, or
		 * one byte value throughout, fails; a short answer may pass. */
		bool varied = false;
		for (unsigned i = 1; i < sizeof(buf); i++)
			varied |= buf[i] != buf[0];
		if (id != 0 || len == 0 || len > sizeof(buf))
			check("rng", false, "used id %u len %u for one %u-byte buffer", id, len,
			      RNG_BYTES);
		else
			check("rng", varied, "all %u bytes are %02x", RNG_BYTES, buf[0]);
	}
	virtio_reset(&d);
}

void mode_virtio_rng(void)
{
	virtio_rng_test();
	finish();
}
