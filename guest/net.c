/*
 * mode=virtio-net (virtio 1.2, 5.1): learn the peer's MAC by ARP, ping it,
 * send it a burst of UDP datagrams, answering ARP for our own address all
 * along.  Queue 0 is the receiveq, queue 1 the transmitq (no MQ, no
 * control queue).  Every buffer holds one descriptor: the 12-byte
 * virtio_net_hdr followed by the frame, which VERSION_1 allows (any
 * layout, 5.1.6.6 / 2.6.4).
 *
 * Addresses are host-order u32s; inet.c turns them into wire order.
 */
#include "virtio.h"
#include "inet.h"

#define NET_F_MAC		(1ull << 5)
#define NET_F_MRG_RXBUF		(1ull << 15)

#define RECEIVEQ		0
#define TRANSMITQ		1

/* struct virtio_net_hdr (5.1.6): flags, gso_type, hdr_len, gso_size,
 * csum_start, csum_offset, num_buffers.  Under VERSION_1 it is 12 bytes
 * with or without MRG_RXBUF; num_buffers only means something with it. */
#define NET_HDR_LEN		12
#define NET_HDR_NUM_BUFFERS	10

/* 2048 >= 12 + 1514: a whole frame fits one buffer (5.1.6.3.1 asks for
 * at least 1526 bytes without MRG_RXBUF, GSO and TSO). */
#define BUF_LEN			2048

#define ARP_TRIES		3
#define ARP_WAIT_MS		2000
#define PING_WAIT_MS		3000
#define PING_ID			0x5447	/* "TG": our echo identifier */
#define MAX_PAYLOAD		(ETH_DATA_LEN - IP_HLEN - UDP_HLEN)	/* 1472, also ICMP's */

static struct virtio_dev d = { .name = "net" };
static u8 rx_buf[VQ_MAX][BUF_LEN] __attribute__((aligned(64)));
static u8 tx_buf[VQ_MAX][BUF_LEN] __attribute__((aligned(64)));
static bool tx_busy[VQ_MAX];	/* given to the device, not yet used */
static unsigned tx_in_flight;
static const char *broken;	/* first misbehaviour of the device, for FAIL lines */

/* A locally administered address for a device without VIRTIO_NET_F_MAC. */
static const u8 fallback_mac[ETH_ALEN] = { 0x02, 0x74, 0x67, 0x00, 0x00, 0x01 };
static const u8 broadcast[ETH_ALEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const u8 unknown_mac[ETH_ALEN];

static u8 our_mac[ETH_ALEN], host_mac[ETH_ALEN];
static bool host_mac_known;
static u32 our_ip, host_ip;
static u16 ip_id;		/* IPv4 identification of our next packet */

/* The echo request we wait for an answer to. */
static u16 ping_seq, ping_size;
static bool ping_answered;
static unsigned ping_bad;	/* replies to it that were not right */

/* Byte k of an echo payload or of a UDP payload (k >= 4 there). */
static u8 pattern_byte(u32 k, u32 seq)
{
	return (u8)(k * 7 + seq);
}

/* ---- transmit ---- */

/* Frees the transmit buffers the device has used. */
static void reap_tx(void)
{
	struct virtq *q = &d.vq[TRANSMITQ];
	u32 id, len;
	while (vq_reap(q, &id, &len)) {
		if (id >= q->size || !tx_busy[id]) {
			broken = "transmit used element names no buffer in flight";
			continue;
		}
		tx_busy[id] = false;
		tx_in_flight--;
	}
}

/* A free transmit buffer's frame area (after the header), or NULL when
 * all are in flight; *slot names it for tx_send. */
static u8 *tx_try(u16 *slot)
{
	reap_tx();
	for (u16 i = 0; i < d.vq[TRANSMITQ].size; i++) {
		if (!tx_busy[i]) {
			*slot = i;
			return tx_buf[i] + NET_HDR_LEN;
		}
	}
	return NULL;
}

static void poll_rx(void);

/* As tx_try, but waits (bounded) for the device to use a buffer: this is
 * what paces a burst, so the guest never drops a frame itself.  It keeps
 * receiving meanwhile, so the host's ARP requests are still answered. */
static u8 *tx_wait(u16 *slot)
{
	struct deadline t;
	deadline_start(&t, VIRTIO_REQUEST_MS);
	for (;;) {
		u8 *f = tx_try(slot);
		if (f)
			return f;
		poll_rx();
		if (deadline_passed(&t))
			return NULL;
	}
}

/* Sends the len-byte frame built in slot's buffer behind a zeroed header:
 * no checksum offload, no GSO (5.1.6.2), num_buffers 0 (5.1.6.2.1). */
static void tx_send(u16 slot, size_t len)
{
	u8 *b = tx_buf[slot];
	memset(b, 0, NET_HDR_LEN);
	/* Pad to Ethernet's minimum, as a NIC would (IEEE 802.3 4.2.3.3). */
	if (len < ETH_ZLEN) {
		memset(b + NET_HDR_LEN + len, 0, ETH_ZLEN - len);
		len = ETH_ZLEN;
	}
	tx_busy[slot] = true;
	tx_in_flight++;
	struct vseg s = { b, (u32)(NET_HDR_LEN + len), false };
	vq_submit(&d.vq[TRANSMITQ], slot, &s, 1);
}

/* Waits until the device has used every transmit buffer: for QEMU and
 * Swiftlet that means each frame has gone to the host's tap. */
static bool tx_drain(void)
{
	struct deadline t;
	deadline_start(&t, VIRTIO_REQUEST_MS);
	while (tx_in_flight) {
		reap_tx();
		poll_rx();
		if (deadline_passed(&t))
			return false;
	}
	return true;
}

/* ---- receive ---- */

static void post_rx(u16 i)
{
	struct vseg s = { rx_buf[i], BUF_LEN, true };
	vq_submit(&d.vq[RECEIVEQ], i, &s, 1);
}

/* RFC 826 for Ethernet/IPv4: a reply from the host gives its MAC; a
 * request for our address is answered straight back to its sender. */
static void handle_arp(const u8 *a, size_t n)
{
	if (n < ARP_LEN || get16be(a) != 1 || get16be(a + 2) != ETH_P_IP || a[4] != ETH_ALEN ||
	    a[5] != 4)
		return;
	u16 op = get16be(a + 6);
	u32 spa = get32be(a + 14), tpa = get32be(a + 24);
	if (tpa != our_ip)
		return;
	if (op == ARP_REPLY && spa == host_ip) {
		memcpy(host_mac, a + 8, ETH_ALEN);
		host_mac_known = true;
	} else if (op == ARP_REQUEST) {
		/* Not tx_wait: we may be inside it.  With every buffer in
		 * flight the answer is dropped; the host asks again. */
		u16 slot;
		u8 *f = tx_try(&slot);
		if (!f)
			return;
		size_t len = eth_header(f, a + 8, our_mac, ETH_P_ARP);
		len += arp_body(f + len, ARP_REPLY, our_mac, our_ip, a + 8, spa);
		tx_send(slot, len);
	}
}

/* An echo reply to the request outstanding: same identifier, sequence
 * and payload, and a correct ICMP checksum. */
static void handle_icmp(const u8 *p, size_t n)
{
	if (n < ICMP_HLEN || p[0] != ICMP_ECHOREPLY || get16be(p + 4) != PING_ID ||
	    get16be(p + 6) != ping_seq || ping_answered)
		return;
	bool ok = inet_checksum(p, n) == 0 && n == ICMP_HLEN + (size_t)ping_size;
	for (u32 k = 0; ok && k < ping_size; k++)
		ok = p[ICMP_HLEN + k] == pattern_byte(k, ping_seq);
	if (ok)
		ping_answered = true;
	else
		ping_bad++;
}

static void handle_frame(const u8 *f, size_t n)
{
	u16 type = get16be(f + 2 * ETH_ALEN);
	if (type == ETH_P_ARP) {
		handle_arp(f + ETH_HLEN, n - ETH_HLEN);
		return;
	}
	u8 proto;
	u32 src, dst;
	const u8 *payload;
	size_t len;
	if (type == ETH_P_IP && memcmp(f, our_mac, ETH_ALEN) == 0 &&
	    ipv4_parse_packet(f + ETH_HLEN, n - ETH_HLEN, &proto, &src, &dst, &payload, &len) &&
	    proto == IPPROTO_ICMP && src == host_ip && dst == our_ip)
		handle_icmp(payload, len);
	/* Anything else (IPv6 from the host's stack, ICMP errors) is ignored. */
}

/* Handles every frame the device has written and gives its buffer back. */
static void poll_rx(void)
{
	struct virtq *q = &d.vq[RECEIVEQ];
	u32 id, len;
	while (vq_reap(q, &id, &len)) {
		if (id >= q->size || len > BUF_LEN) {
			broken = "receive used element with a bad id or length";
			continue;
		}
		const u8 *b = rx_buf[id];
		/* With MRG_RXBUF a frame could span buffers (num_buffers > 1,
		 * 5.1.6.4); ours are large enough that it never should, and
		 * we do not reassemble. */
		bool whole = !(d.features & NET_F_MRG_RXBUF) ||
			     (b[NET_HDR_NUM_BUFFERS] | b[NET_HDR_NUM_BUFFERS + 1] << 8) == 1;
		if (!whole)
			broken = "received frame spans more than one 2048-byte buffer";
		else if (len >= NET_HDR_LEN + ETH_HLEN)
			handle_frame(b + NET_HDR_LEN, len - NET_HDR_LEN);
		post_rx((u16)id);
	}
}

/* ---- the steps ---- */

static void step_arp(void)
{
	char ip[IPV4_TEXT], mac[MAC_TEXT];
	ipv4_format(ip, host_ip);
	for (int i = 0; i < ARP_TRIES && !host_mac_known; i++) {
		u16 slot;
		u8 *f = tx_wait(&slot);
		if (!f)
			break;
		size_t len = eth_header(f, broadcast, our_mac, ETH_P_ARP);
		len += arp_body(f + len, ARP_REQUEST, our_mac, our_ip, unknown_mac, host_ip);
		tx_send(slot, len);
		struct deadline t;
		deadline_start(&t, ARP_WAIT_MS);
		while (!host_mac_known && !deadline_passed(&t)) {
			reap_tx();
			poll_rx();
		}
	}
	if (host_mac_known) {
		mac_format(mac, host_mac);
		print("virtio-net: %s is at %s\n", ip, mac);
	}
	if (broken)
		check("net-arp", false, "%s", broken);
	else
		check("net-arp", host_mac_known, "no ARP reply for %s to %u requests", ip, ARP_TRIES);
}

/* One echo request (RFC 792) of ping_size payload bytes, sequence ping_seq. */
static bool send_echo(void)
{
	u16 slot;
	u8 *f = tx_wait(&slot);
	if (!f)
		return false;
	size_t len = eth_header(f, host_mac, our_mac, ETH_P_IP);
	len += ipv4_header(f + len, IPPROTO_ICMP, our_ip, host_ip, (u16)(ICMP_HLEN + ping_size),
			   ip_id++);
	u8 *icmp = f + len;
	icmp[0] = ICMP_ECHO;
	icmp[1] = 0;
	put16be(icmp + 2, 0);
	put16be(icmp + 4, PING_ID);
	put16be(icmp + 6, ping_seq);
	for (u32 k = 0; k < ping_size; k++)
		icmp[ICMP_HLEN + k] = pattern_byte(k, ping_seq);
	put16be(icmp + 2, inet_checksum(icmp, ICMP_HLEN + ping_size));
	tx_send(slot, len + ICMP_HLEN + ping_size);
	return true;
}

/* count echo requests one after another, sequence 1..count, each waiting
 * for its reply; a lost one costs PING_WAIT_MS and the next goes out. */
static void step_ping(u32 count, u16 size)
{
	u32 replies = 0;
	if (!host_mac_known) {
		check("net-ping", false, "no MAC for the host (ARP failed)");
		return;
	}
	ping_size = size;
	ping_bad = 0;
	for (u32 i = 1; i <= count; i++) {
		ping_seq = (u16)i;
		ping_answered = false;
		if (!send_echo())
			break;
		struct deadline t;
		deadline_start(&t, PING_WAIT_MS);
		while (!ping_answered && !deadline_passed(&t)) {
			reap_tx();
			poll_rx();
		}
		replies += ping_answered;
	}
	print("virtio-net: %u/%u replies\n", replies, count);
	if (broken)
		check("net-ping", false, "%s", broken);
	else
		check("net-ping", replies == count, "%u of %u echo requests unanswered, %u bad replies",
		      count - replies, count, ping_bad);
}

/* count datagrams to host_ip:port (from the same port), payload size
 * bytes: the sequence number (big-endian u32), then pattern_byte(k, seq)
 * for k = 4 .. size-1.  Checksum 0: none, which IPv4 allows (RFC 768). */
static void step_udp(u32 count, u16 port, u16 size)
{
	char ip[IPV4_TEXT];
	ipv4_format(ip, host_ip);
	if (!host_mac_known) {
		check("net-udp-sent", false, "no MAC for the host (ARP failed)");
		return;
	}
	for (u32 seq = 0; seq < count; seq++) {
		u16 slot;
		u8 *f = tx_wait(&slot);
		if (!f) {
			check("net-udp-sent", false, "datagram %u: no transmit buffer used before the timeout",
			      seq);
			return;
		}
		size_t len = eth_header(f, host_mac, our_mac, ETH_P_IP);
		len += ipv4_header(f + len, IPPROTO_UDP, our_ip, host_ip, (u16)(UDP_HLEN + size),
				   ip_id++);
		u8 *udp = f + len;
		put16be(udp, port);
		put16be(udp + 2, port);
		put16be(udp + 4, (u16)(UDP_HLEN + size));
		put16be(udp + 6, 0);
		put32be(udp + UDP_HLEN, seq);
		for (u32 k = 4; k < size; k++)
			udp[UDP_HLEN + k] = pattern_byte(k, seq);
		tx_send(slot, len + UDP_HLEN + size);
		poll_rx();
	}
	bool drained = tx_drain();
	print("virtio-net: sent %u datagrams of %u bytes to %s:%u\n", count, size, ip, port);
	if (broken)
		check("net-udp-sent", false, "%s", broken);
	else
		check("net-udp-sent", drained, "%u datagrams still not used after the timeout",
		      tx_in_flight);
}

/* ---- arguments and setup ---- */

/* An address argument, or def when absent; false (with a FAIL) when malformed. */
static bool ip_arg(const char *key, const char *def, u32 *ip)
{
	size_t len;
	const char *v = arg_get(key, &len);
	if (!v) {
		v = def;
		len = strlen(def);
	}
	if (ipv4_parse(v, len, ip))
		return true;
	return check("net-args", false, "%s is not an IPv4 address a.b.c.d", key);
}

/* A decimal argument in [lo, hi], or def when absent. */
static bool num_arg(const char *key, u32 def, u32 lo, u32 hi, u32 *out)
{
	u64 v = def;
	if (arg_number(key, 10, &v) < 0 || v < lo || v > hi)
		return check("net-args", false, "%s must be a number from %u to %u", key, lo, hi);
	*out = (u32)v;
	return true;
}

/* The MAC from device config offset 0 (5.1.4), read until the generation
 * is stable since it is wider than 32 bits (2.5.1). */
static void read_mac(void)
{
	if (!(d.features & NET_F_MAC) || !d.device || d.device_len < ETH_ALEN) {
		memcpy(our_mac, fallback_mac, ETH_ALEN);
		return;
	}
	u8 gen;
	do {
		gen = virtio_config_generation(&d);
		for (int i = 0; i < ETH_ALEN; i++)
			our_mac[i] = mmio_rd8(d.device + (u64)i);
	} while (gen != virtio_config_generation(&d));
}

void virtio_net_test(void)
{
	u32 ping, ping_bytes, udp, udp_port, udp_bytes;
	if (!ip_arg("net_ip", "10.0.2.15", &our_ip) || !ip_arg("net_host", "10.0.2.1", &host_ip) ||
	    !num_arg("net_ping", 0, 0, 65535, &ping) ||
	    !num_arg("net_ping_size", 56, 0, MAX_PAYLOAD, &ping_bytes) ||
	    !num_arg("net_udp", 0, 0, 1000000, &udp) ||
	    !num_arg("net_udp_port", 7777, 1, 65535, &udp_port) ||
	    !num_arg("net_udp_size", 512, 4, MAX_PAYLOAD, &udp_bytes))
		return;
	if (!virtio_init(&d, VIRTIO_ID_NET, NET_F_MAC | NET_F_MRG_RXBUF, 2))
		return;
	read_mac();
	char mac[MAC_TEXT];
	mac_format(mac, our_mac);
	print("virtio-net: mac %s%s\n", mac, d.features & NET_F_MAC ? "" : " (ours, none offered)");
	/* Receive buffers first: the host's answers must find room. */
	for (u16 i = 0; i < d.vq[RECEIVEQ].size; i++)
		post_rx(i);
	step_arp();
	if (ping)
		step_ping(ping, (u16)ping_bytes);
	if (udp)
		step_udp(udp, (u16)udp_port, (u16)udp_bytes);
	virtio_reset(&d);
}

void mode_virtio_net(void)
{
	virtio_net_test();
	finish();
}

/* ---- mode=bench-net ---- */

/* bench/run's guest-to-host throughput: after ARP, iters=N datagrams of
 * net_udp_size bytes (default 1472: full frames) to net_host:net_udp_port,
 * as fast as the device takes them.  Every slot's frame is built once
 * before the clock starts; the timed loop only hands slots over in ring
 * order (so finding a free one costs nothing) and kicks only when the
 * device has not set VRING_USED_F_NO_NOTIFY, as Linux does.  Timed with
 * the TSC from the first hand-over to the last buffer used; prints
 * `bench net: <n> iterations, <c> cycles/iteration` and powers off. */
void mode_bench_net(void)
{
	u32 port, size;
	u64 n;
	if (!ip_arg("net_ip", "10.0.2.15", &our_ip) || !ip_arg("net_host", "10.0.2.1", &host_ip) ||
	    !num_arg("net_udp_port", 7777, 1, 65535, &port) ||
	    !num_arg("net_udp_size", MAX_PAYLOAD, 4, MAX_PAYLOAD, &size))
		finish();
	if (arg_number("iters", 10, &n) != 1 || n == 0)
		n = 1000;
	if (!virtio_init(&d, VIRTIO_ID_NET, NET_F_MAC | NET_F_MRG_RXBUF, 2)) {
		print("testguest: no virtio-net device\n");
		power_off();
	}
	read_mac();
	struct virtq *q = &d.vq[TRANSMITQ];
	for (u16 i = 0; i < d.vq[RECEIVEQ].size; i++)
		post_rx(i);
	step_arp();
	if (!host_mac_known || !tx_drain() || broken) {
		print("FAIL bench-net: %s\n", broken ? broken : "no ARP reply, or transmit stuck");
		power_off();
	}
	size_t len = 0;
	for (u16 i = 0; i < q->size; i++) {
		u8 *f = tx_buf[i] + NET_HDR_LEN;
		memset(tx_buf[i], 0, NET_HDR_LEN);
		len = eth_header(f, host_mac, our_mac, ETH_P_IP);
		len += ipv4_header(f + len, IPPROTO_UDP, our_ip, host_ip, (u16)(UDP_HLEN + size), ip_id++);
		u8 *udp = f + len;
		put16be(udp, (u16)port);
		put16be(udp + 2, (u16)port);
		put16be(udp + 4, (u16)(UDP_HLEN + size));
		put16be(udp + 6, 0);
		put32be(udp + UDP_HLEN, i);
		for (u32 k = 4; k < size; k++)
			udp[UDP_HLEN + k] = pattern_byte(k, i);
		len += UDP_HLEN + size;
	}
	u64 t0 = tsc_read();
	for (u64 i = 0; i < n; i++) {
		u16 slot = (u16)(i & (q->size - 1));
		struct deadline t;
		deadline_start(&t, VIRTIO_REQUEST_MS);
		while (tx_busy[slot]) {
			reap_tx();
			poll_rx();
			if (deadline_passed(&t)) {
				print("FAIL bench-net: datagram %lu: no transmit buffer used before the timeout\n", i);
				power_off();
			}
		}
		tx_busy[slot] = true;
		tx_in_flight++;
		struct vseg s = { tx_buf[slot], (u32)(NET_HDR_LEN + len), false };
		vq_submit_lazy(q, slot, &s, 1);
	}
	bool drained = tx_drain();
	u64 cycles = tsc_read() - t0;
	virtio_reset(&d);
	if (!drained || broken) {
		print("FAIL bench-net: %s\n", broken ? broken : "datagrams still not used after the timeout");
		power_off();
	}
	print("bench net: %lu iterations, %lu cycles/iteration\n", n, cycles / n);
	power_off();
}
