/*
 * mode=vsock (virtio 1.2, 5.10): a stream-socket driver, polled.  The guest
 * listens on vsock_port for vsock_conns host connections and echoes every
 * byte back, then (with vsock_connect=P) connects out to host port P and
 * sends vsock_send bytes of a pattern.  Anything else that reaches us is
 * answered as a socket layer would: RST for a port nobody listens on or a
 * packet for no connection, never an RST for an RST.
 *
 * Echoing is zero-copy while the host has credit for it: the receive buffer
 * itself goes out as the transmit payload (the emulator runs our ring-0
 * code slowly, so a byte loop over a megabyte costs seconds).  Without
 * credit the bytes are copied to the connection's spill ring and the
 * buffer goes back: a receive ring we hold on to could not bring the very
 * CREDIT_UPDATE we wait for.  Our buf_alloc is the spill ring's size, so
 * the device never sends more than fits in it.
 */
#include "virtio.h"

#define VIRTIO_ID_VSOCK 19
#define HOST_CID 2
#define HDR 44
#define RX_PAYLOAD 4096
#define RX_N 16
#define MAX_CONNS 16
#define SPILL 16384

enum { OP_REQUEST = 1, OP_RESPONSE, OP_RST, OP_SHUTDOWN, OP_RW, OP_CREDIT_UPDATE, OP_CREDIT_REQUEST };
#define SHUT_BOTH 3

struct hdr {
	u64 src_cid, dst_cid;
	u32 src_port, dst_port, len;
	u16 type, op;
	u32 flags, buf_alloc, fwd_cnt;
} __attribute__((packed));

struct conn {
	bool used, open, peer_closed, we_closed;
	u32 local, remote;	/* our port, the host's */
	u32 rx_cnt, fwd_cnt;	/* bytes received; bytes echoed (consumed) */
	u32 tx_cnt;		/* bytes we sent */
	u32 peer_buf, peer_fwd;
	u32 spill_head, spill_len;
	u64 echoed;
};

static struct virtio_dev d = { .name = "vsock" };
static u8 rxbuf[RX_N][HDR + RX_PAYLOAD] __attribute__((aligned(64)));
static u8 txhdr[HDR] __attribute__((aligned(64)));
static u8 evbuf[8];
static u8 spill[MAX_CONNS][SPILL];
static struct conn conns[MAX_CONNS];
static u64 cid;
static u8 pattern[4096];

static u32 host_credit(struct conn *c)
{
	u32 inflight = c->tx_cnt - c->peer_fwd;
	return inflight <= c->peer_buf ? c->peer_buf - inflight : 0;
}

/* One packet out, waited for: the header, then the payload if any. */
static bool send(u32 local, u32 remote, u16 op, u32 flags, struct conn *c, const void *data, u32 len)
{
	struct hdr h = { cid, HOST_CID, local, remote, len, 1, op, flags,
			 c ? SPILL : 0, c ? c->fwd_cnt : 0 };
	memcpy(txhdr, &h, HDR);
	struct vseg s[2] = { { txhdr, HDR, false }, { data, len, false } };
	vq_submit(&d.vq[1], 0, s, len ? 2 : 1);
	u32 id, used;
	const char *err = vq_wait(&d.vq[1], VIRTIO_REQUEST_MS, &id, &used);
	if (err) {
		print("vsock: transmit: %s\n", err);
		return false;
	}
	if (c && op == OP_RW)
		c->tx_cnt += len;
	return true;
}

static void repost(u32 i)
{
	struct vseg s = { rxbuf[i], sizeof(rxbuf[i]), true };
	vq_submit(&d.vq[0], (u16)i, &s, 1);
}

static struct conn *find(u32 local, u32 remote)
{
	for (unsigned i = 0; i < MAX_CONNS; i++)
		if (conns[i].used && conns[i].local == local && conns[i].remote == remote)
			return &conns[i];
	return NULL;
}

static struct conn *add(u32 local, u32 remote)
{
	for (unsigned i = 0; i < MAX_CONNS; i++) {
		if (!conns[i].used) {
			memset(&conns[i], 0, sizeof(conns[i]));
			conns[i].used = true;
			conns[i].local = local;
			conns[i].remote = remote;
			return &conns[i];
		}
	}
	return NULL;
}

/* Echo what the spill ring holds, as far as the host's credit goes. */
static void drain(struct conn *c)
{
	u8 *ring = spill[c - conns];
	while (c->spill_len && c->open) {
		u32 n = host_credit(c);
		u32 run = SPILL - c->spill_head;
		if (n > run) n = run;
		if (n > c->spill_len) n = c->spill_len;
		if (n > RX_PAYLOAD) n = RX_PAYLOAD;
		if (!n)
			return;
		c->fwd_cnt += n;
		if (!send(c->local, c->remote, OP_RW, 0, c, ring + c->spill_head, n))
			return;
		c->echoed += n;
		c->spill_head = (c->spill_head + n) % SPILL;
		c->spill_len -= n;
	}
}

/* The host said it is done: once our echo is out, close both ways and wait
 * for the device's RST (5.10.6.6). */
static void maybe_close(struct conn *c)
{
	if (c->open && c->peer_closed && !c->spill_len && !c->we_closed) {
		c->we_closed = true;
		send(c->local, c->remote, OP_SHUTDOWN, SHUT_BOTH, c, NULL, 0);
	}
}

static u32 listen_port, accepted, finished;

static void handle(u32 i, u32 len)
{
	struct hdr h;
	memcpy(&h, rxbuf[i], HDR);
	u8 *payload = rxbuf[i] + HDR;
	bool ok = len >= HDR && h.dst_cid == cid && h.src_cid == HOST_CID && h.type == 1 &&
		  h.len <= RX_PAYLOAD && HDR + h.len <= len;
	if (!ok) {
		print("vsock: bad packet from the device: len %u op %u\n", len, h.op);
		check("vsock-packets", false, "a malformed packet");
		return;
	}
	struct conn *c = find(h.dst_port, h.src_port);
	if (c) {
		c->peer_buf = h.buf_alloc;
		c->peer_fwd = h.fwd_cnt;
	}
	switch (h.op) {
	case OP_REQUEST:
		if (c || h.dst_port != listen_port || accepted >= MAX_CONNS || !(c = add(h.dst_port, h.src_port))) {
			send(h.dst_port, h.src_port, OP_RST, 0, NULL, NULL, 0);
			return;
		}
		c->peer_buf = h.buf_alloc;
		c->peer_fwd = h.fwd_cnt;
		c->open = true;
		accepted++;
		send(c->local, c->remote, OP_RESPONSE, 0, c, NULL, 0);
		return;
	case OP_RST:
		if (c) {
			if (c->open && !c->we_closed)
				print("vsock: port %u: reset by the host\n", c->local);
			if (c->local == listen_port)
				finished++;
			if (c->echoed || c->local == listen_port)
				print("vsock: port %u from %u: echoed %lu bytes\n", c->local, c->remote, c->echoed);
			c->used = c->open = false;
		}
		return;
	case OP_RW:
		if (!c || !c->open || c->we_closed) {
			send(h.dst_port, h.src_port, OP_RST, 0, NULL, NULL, 0);
			return;
		}
		c->rx_cnt += h.len;
		if (!c->spill_len && host_credit(c) >= h.len) {
			c->fwd_cnt += h.len;
			if (send(c->local, c->remote, OP_RW, 0, c, payload, h.len))
				c->echoed += h.len;
		} else if (c->spill_len + h.len <= SPILL) {
			u32 at = (c->spill_head + c->spill_len) % SPILL;
			for (u32 k = 0; k < h.len; k++)
				spill[c - conns][(at + k) % SPILL] = payload[k];
			c->spill_len += h.len;
		} else {
			check("vsock-credit", false, "the device sent past our buf_alloc");
		}
		return;
	case OP_SHUTDOWN:
		if (c)
			c->peer_closed = true;
		return;
	case OP_CREDIT_REQUEST:
		if (c)
			send(c->local, c->remote, OP_CREDIT_UPDATE, 0, c, NULL, 0);
		return;
	case OP_RESPONSE:
		if (c && !c->open)
			c->open = true;
		else
			send(h.dst_port, h.src_port, OP_RST, 0, NULL, NULL, 0);
		return;
	case OP_CREDIT_UPDATE:
		return;
	default:
		send(h.dst_port, h.src_port, OP_RST, 0, NULL, NULL, 0);
	}
}

/* Serves received packets until `done` or the deadline; false on timeout. */
static bool serve(u32 ms, bool (*done)(void))
{
	struct deadline t;
	deadline_start(&t, ms);
	while (!done()) {
		u32 id, len;
		if (vq_reap(&d.vq[0], &id, &len)) {
			if (id < RX_N) {
				handle(id, len);
				repost(id);
			}
			continue;
		}
		for (unsigned i = 0; i < MAX_CONNS; i++) {
			if (conns[i].used) {
				drain(&conns[i]);
				maybe_close(&conns[i]);
			}
		}
		if (deadline_passed(&t))
			return false;
	}
	return true;
}

static u32 want_conns;
static bool all_echoed(void) { return finished >= want_conns; }
static struct conn *out;
static bool out_answered(void) { return !out->used || out->open; }
static bool out_gone(void) { return !out->used; }

static void connect_out(u32 port, u64 bytes)
{
	out = add(2000, port);
	if (!out)
		return;
	out->peer_buf = 0;
	send(out->local, port, OP_REQUEST, 0, out, NULL, 0);
	if (!serve(VIRTIO_REQUEST_MS, out_answered)) {
		check("vsock-connect", false, "no answer from host port %u", port);
		return;
	}
	if (!out->used) {
		print("vsock: connect %u refused\n", port);
		return;
	}
	print("vsock: connect %u ok\n", port);
	u64 sent = 0;
	struct deadline t;
	deadline_start(&t, 30000);
	while (sent < bytes && !deadline_passed(&t)) {
		u32 n = host_credit(out);
		if (n > sizeof(pattern)) n = sizeof(pattern);
		if (n > bytes - sent) n = (u32)(bytes - sent);
		if (n == 0) {
			/* Wait for the host's credit (it comes with any packet). */
			u32 id, len;
			if (vq_reap(&d.vq[0], &id, &len) && id < RX_N) {
				handle(id, len);
				repost(id);
			}
			continue;
		}
		/* The pattern repeats every 4096 bytes: byte k is (k * 7 + 1) & 0xFF. */
		if (!send(out->local, port, OP_RW, 0, out, pattern + (sent % sizeof(pattern)), n))
			break;
		sent += n;
	}
	print("vsock: sent %lu bytes to host port %u\n", sent, port);
	out->we_closed = true;
	send(out->local, port, OP_SHUTDOWN, SHUT_BOTH, out, NULL, 0);
	check("vsock-connect", serve(VIRTIO_REQUEST_MS, out_gone) && sent == bytes,
	      "sent %lu of %lu bytes, or no RST after our SHUTDOWN", sent, bytes);
}

void mode_vsock(void)
{
	if (!virtio_init(&d, VIRTIO_ID_VSOCK, 0, 3))
		finish();
	cid = virtio_config32(&d, 0) | (u64)virtio_config32(&d, 4) << 32;
	print("vsock: guest_cid %lu\n", cid);
	for (u32 k = 0; k < sizeof(pattern); k++)
		pattern[k] = (u8)(k * 7 + 1);
	/* Event buffer first (5.10.6.1: the driver fills the event queue),
	 * then every receive buffer. */
	struct vseg ev = { evbuf, sizeof(evbuf), true };
	vq_submit(&d.vq[2], 0, &ev, 1);
	u16 n = d.vq[0].size < RX_N ? d.vq[0].size : RX_N;
	for (u32 i = 0; i < n; i++)
		repost(i);

	u64 v;
	listen_port = arg_number("vsock_port", 10, &v) == 1 ? (u32)v : 52;
	want_conns = arg_number("vsock_conns", 10, &v) == 1 ? (u32)v : 1;
	if (want_conns > MAX_CONNS)
		want_conns = MAX_CONNS;
	u32 wait_ms = arg_number("vsock_wait_ms", 10, &v) == 1 ? (u32)v : 120000;
	print("vsock: listening on port %u for %u connections\n", listen_port, want_conns);
	if (want_conns)
		check("vsock-echo", serve(wait_ms, all_echoed), "%u of %u connections finished", finished,
		      want_conns);

	if (arg_number("vsock_connect", 10, &v) == 1) {
		u64 bytes = 0;
		arg_number("vsock_send", 10, &bytes);
		connect_out((u32)v, bytes);
	}
	virtio_reset(&d);
	finish();
}
