/*
 * mode=virtio-blk (virtio 1.2, 5.2): capacity, then the sub-steps the
 * command line asks for: write and flush, read back, a read-only disk,
 * requests past the end, the device ID.  One request at a time, each a
 * chain of header, data (if any) and status byte (5.2.6).
 */
#include "virtio.h"

#define BLK_F_RO	(1ull << 5)
#define BLK_F_FLUSH	(1ull << 9)

#define T_IN		0	/* read */
#define T_OUT		1	/* write */
#define T_FLUSH		4
#define T_GET_ID	8
#define S_OK		0
#define S_IOERR		1
#define ID_BYTES	20

#define SECTOR		512
#define CHUNK		0x10000		/* bytes per read or write request */
#define TEST_BYTES	0x100000	/* the 1 MiB blk_write and blk_read cover */

struct blk_header {
	u32 type;
	u32 reserved;
	u64 sector;
};

static struct virtio_dev d = { .name = "blk" };
static struct blk_header header;
static volatile u8 status_byte;
static u8 data[CHUNK] __attribute__((aligned(4096)));
static u64 capacity;

/* ---- the disk pattern (documented in README.md) ---- */

/* Byte i of the disk is (u8)((i * 131) ^ (i >> 9) ^ seed).  i * 131 mod
 * 256 depends only on i mod 256, so those 256 bytes are a table and the
 * rest is one XOR per 8-byte word: the check of 1 MiB costs ~1 M
 * instructions, which KVM's emulator (PVM) runs in about a second. */
static u64 pattern_table[256 / 8];
static u8 pattern_seed;

static void pattern_init(void)
{
	u64 seed = 0x5a;
	if (arg_number("pattern_seed", 0, &seed) < 0)
		print("virtio-blk: pattern_seed is not a number, using 0x5a\n");
	pattern_seed = (u8)seed;
	u8 *t = (u8 *)pattern_table;
	for (unsigned i = 0; i < 256; i++)
		t[i] = (u8)(i * 131);
}

/* The 8 pattern bytes at disk offset `off` (a multiple of 8), as the
 * little-endian word they form in memory. */
static u64 pattern_word(u64 off)
{
	u64 x = (u8)((off >> 9) ^ pattern_seed);
	return pattern_table[(off >> 3) & 31] ^ x * 0x0101010101010101ull;
}

static void pattern_fill(u64 off, u64 *buf, u32 len)
{
	for (u32 k = 0; k < len / 8; k++)
		buf[k] = pattern_word(off + 8 * k);
}

/* Disk offset of the first byte that differs, or ~0 when none does. */
static u64 pattern_mismatch(u64 off, const u64 *buf, u32 len)
{
	for (u32 k = 0; k < len / 8; k++) {
		u64 diff = buf[k] ^ pattern_word(off + 8 * k);
		if (!diff)
			continue;
		unsigned b = 0;	/* lowest differing byte; little-endian */
		while (!((diff >> (8 * b)) & 0xFF))
			b++;
		return off + 8 * k + b;
	}
	return ~0ull;
}

static u8 pattern_byte(u64 i)
{
	return (u8)((i * 131) ^ (i >> 9) ^ pattern_seed);
}

/* ---- requests ---- */

/*
 * One request; returns its status byte (0 OK, 1 IOERR, 2 UNSUPP), or -1
 * with *err set when the device did not complete it properly.  The status
 * byte starts as 0xFF so a device that never writes it is caught.
 */
static int request(u32 type, u64 sector, void *buf, u32 len, const char **err)
{
	header = (struct blk_header){ .type = type, .sector = sector };
	status_byte = 0xFF;
	struct vseg segs[3];
	unsigned n = 0;
	segs[n++] = (struct vseg){ &header, sizeof(header), false };
	if (len)
		segs[n++] = (struct vseg){ buf, len, type != T_OUT };
	segs[n++] = (struct vseg){ (const void *)&status_byte, 1, true };
	vq_submit(&d.vq[0], 0, segs, n);
	u32 id, used_len;
	*err = vq_wait(&d.vq[0], VIRTIO_REQUEST_MS, &id, &used_len);
	if (*err)
		return -1;
	if (id != 0) {
		*err = "used element names another chain";
		return -1;
	}
	if (status_byte > 2) {
		*err = "status byte not written";
		return -1;
	}
	return status_byte;
}

/* Reads or writes [0, TEST_BYTES) in CHUNK requests; for reads also
 * compares with the pattern.  Reports the first thing wrong as `name`. */
static void transfer_all(const char *name, u32 type)
{
	if (capacity * SECTOR < TEST_BYTES) {
		check(name, false, "the disk has %lu sectors, the test needs %u", capacity,
		      TEST_BYTES / SECTOR);
		return;
	}
	for (u64 off = 0; off < TEST_BYTES; off += CHUNK) {
		if (type == T_OUT)
			pattern_fill(off, (u64 *)data, CHUNK);
		else
			memset(data, 0, 64);	/* so stale data cannot pass */
		const char *err;
		int s = request(type, off / SECTOR, data, CHUNK, &err);
		if (s < 0) {
			check(name, false, "sector %lu: %s", off / SECTOR, err);
			return;
		}
		if (s != S_OK) {
			check(name, false, "sector %lu: status %u", off / SECTOR, s);
			return;
		}
		if (type == T_IN) {
			u64 bad = pattern_mismatch(off, (const u64 *)data, CHUNK);
			if (bad != ~0ull) {
				check(name, false, "byte %lu is %02x, the pattern has %02x", bad,
				      data[bad - off], pattern_byte(bad));
				return;
			}
		}
	}
	check(name, true, "%s", "");
}

static void test_flush(void)
{
	if (!(d.features & BLK_F_FLUSH)) {
		check("blk-flush", false, "VIRTIO_BLK_F_FLUSH not offered (features %lx)",
		      d.offered);
		return;
	}
	const char *err;
	int s = request(T_FLUSH, 0, NULL, 0, &err);
	if (s < 0)
		check("blk-flush", false, "%s", err);
	else
		check("blk-flush", s == S_OK, "status %u", s);
}

/* A device offering RO must fail every write with IOERR and write nothing
 * (5.2.6.2), negotiated or not.  We leave RO unaccepted all the same: a
 * driver that accepted it has no business writing. */
static void test_read_only(void)
{
	check("blk-ro-flag", d.offered & BLK_F_RO, "VIRTIO_BLK_F_RO not offered (features %lx)",
	      d.offered);
	/* The pattern, so a device that writes anyway does no more harm to a
	 * pattern disk than it must. */
	pattern_fill(0, (u64 *)data, 8 * SECTOR);
	const char *err;
	int s = request(T_OUT, 0, data, 8 * SECTOR, &err);
	if (s < 0)
		check("blk-ro-write-fails", false, "%s", err);
	else
		check("blk-ro-write-fails", s == S_IOERR, "status %u, expected 1 (IOERR)", s);
}

/* 5.2.6.1 forbids drivers these requests; we make them on purpose, since
 * a VMM must bound-check what a guest asks, not trust it to behave. */
static void test_past_end(void)
{
	const char *err;
	int across = -1, beyond = -1;
	if (capacity >= 4) {
		across = request(T_IN, capacity - 4, data, 8 * SECTOR, &err);
		if (across >= 0)
			beyond = request(T_IN, capacity, data, 8 * SECTOR, &err);
	}
	if (capacity < 4)
		check("blk-past-end", false, "capacity %lu is under 4 sectors", capacity);
	else if (across < 0 || beyond < 0)
		check("blk-past-end", false, "%s", err);
	else
		check("blk-past-end", across == S_IOERR && beyond == S_IOERR,
		      "status %u for 8 sectors at capacity-4, %u at capacity; expected 1 (IOERR)",
		      across, beyond);
	int s = request(T_IN, 0, data, 8 * SECTOR, &err);
	if (s < 0)
		check("blk-after-error", false, "%s", err);
	else
		check("blk-after-error", s == S_OK, "status %u reading sector 0", s);
}

static void test_id(void)
{
	u8 id[ID_BYTES + 1];
	memset(id, 0, sizeof(id));
	const char *err;
	int s = request(T_GET_ID, 0, id, ID_BYTES, &err);
	if (s < 0) {
		check("blk-id", false, "%s", err);
		return;
	}
	/* 5.2.6: up to 20 bytes, NUL-terminated only when shorter. */
	for (int i = 0; i < ID_BYTES && id[i]; i++)
		if (id[i] < 0x20 || id[i] >= 0x7f)
			id[i] = '.';
	print("virtio-blk id %s\n", (const char *)id);
	check("blk-id", s == S_OK, "status %u", s);
}

/* Capacity is a 64-bit field read as two halves: the generation counter
 * tells us whether the device changed it in between (4.1.4.3.1). */
static bool read_capacity(void)
{
	if (d.device_len < 8 || !d.device) {
		check("blk-capacity", false, "device configuration missing or under 8 bytes");
		return false;
	}
	for (int tries = 0; tries < 10; tries++) {
		u8 g = virtio_config_generation(&d);
		u64 lo = virtio_config32(&d, 0), hi = virtio_config32(&d, 4);
		if (virtio_config_generation(&d) == g) {
			capacity = lo | hi << 32;
			return true;
		}
	}
	check("blk-capacity", false, "config_generation never settled");
	return false;
}

void virtio_blk_test(void)
{
	pattern_init();
	if (!virtio_init(&d, VIRTIO_ID_BLOCK, BLK_F_FLUSH, 1))
		return;
	if (!read_capacity()) {
		virtio_reset(&d);
		return;
	}
	print("virtio-blk capacity %lu\n", capacity);
	u64 want;
	int r = arg_number("expect_sectors", 10, &want);
	if (r < 0)
		check("blk-capacity", false, "expect_sectors is not a decimal number");
	else if (r > 0)
		check("blk-capacity", capacity == want, "%lu sectors, expected %lu", capacity, want);

	if (arg_is("blk_write", "1")) {
		transfer_all("blk-write", T_OUT);
		test_flush();
	}
	if (arg_is("blk_read", "1"))
		transfer_all("blk-read", T_IN);
	if (arg_is("blk_ro", "1"))
		test_read_only();
	if (arg_is("blk_past_end", "1"))
		test_past_end();
	if (arg_is("blk_id", "1"))
		test_id();
	virtio_reset(&d);
}

/*
 * mode=blk-write-loop: batch n (4 KiB at byte n * 4096) filled with the
 * 64-bit word LOOP_MAGIC | n, written and flushed, then `flushed <n>`:
 * from that line on, batches 0..n must survive whatever happens to the
 * VMM short of the host's own crash.  Forever, until the disk is full.
 */
#define LOOP_BATCH	4096
#define LOOP_MAGIC	0x5357494600000000ull

void mode_blk_write_loop(void)
{
	if (!virtio_init(&d, VIRTIO_ID_BLOCK, BLK_F_FLUSH, 1) || !read_capacity())
		finish();
	if (!(d.features & BLK_F_FLUSH)) {
		check("blk-flush", false, "VIRTIO_BLK_F_FLUSH not offered");
		finish();
	}
	u64 batches = capacity * SECTOR / LOOP_BATCH;
	for (u64 n = 0; n < batches; n++) {
		for (u32 k = 0; k < LOOP_BATCH / 8; k++)
			((u64 *)data)[k] = LOOP_MAGIC | n;
		const char *err;
		int s = request(T_OUT, n * (LOOP_BATCH / SECTOR), data, LOOP_BATCH, &err);
		if (s == S_OK)
			s = request(T_FLUSH, 0, NULL, 0, &err);
		if (s != S_OK) {
			check("blk-write-loop", false, "batch %lu: %s (status %d)", n, s < 0 ? err : "", s);
			finish();
		}
		print("flushed %lu\n", n);
	}
	print("testguest: the disk is full\n");
	halt_forever();
}

void mode_virtio_blk(void)
{
	virtio_blk_test();
	finish();
}
