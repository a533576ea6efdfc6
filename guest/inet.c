/*
 * Header writers and readers for mode=virtio-net (see inet.h).
 */
#include "inet.h"

u16 inet_checksum(const u8 *p, size_t len)
{
	u32 sum = 0;
	for (; len > 1; len -= 2, p += 2)
		sum += get16be(p);
	if (len)	/* an odd last byte is padded with a zero byte */
		sum += (u32)p[0] << 8;
	while (sum >> 16)	/* end-around carry */
		sum = (sum & 0xFFFF) + (sum >> 16);
	return (u16)~sum;
}

bool ipv4_parse(const char *s, size_t len, u32 *ip)
{
	u32 v = 0;
	const char *end = s + len;
	for (int part = 0; part < 4; part++) {
		if (part && (s == end || *s++ != '.'))
			return false;
		u32 octet = 0;
		const char *digits = s;
		while (s < end && *s >= '0' && *s <= '9' && s - digits < 3)
			octet = octet * 10 + (u32)(*s++ - '0');
		if (s == digits || octet > 255)
			return false;
		v = v << 8 | octet;
	}
	*ip = v;
	return s == end;
}

size_t eth_header(u8 *f, const u8 *dst, const u8 *src, u16 type)
{
	memcpy(f, dst, ETH_ALEN);
	memcpy(f + ETH_ALEN, src, ETH_ALEN);
	put16be(f + 2 * ETH_ALEN, type);
	return ETH_HLEN;
}

/* RFC 826 for hardware type 1 (Ethernet) and protocol type IPv4. */
size_t arp_body(u8 *f, u16 op, const u8 *sha, u32 spa, const u8 *tha, u32 tpa)
{
	put16be(f, 1);
	put16be(f + 2, ETH_P_IP);
	f[4] = ETH_ALEN;
	f[5] = 4;
	put16be(f + 6, op);
	memcpy(f + 8, sha, ETH_ALEN);
	put32be(f + 14, spa);
	memcpy(f + 18, tha, ETH_ALEN);
	put32be(f + 24, tpa);
	return ARP_LEN;
}

size_t ipv4_header(u8 *f, u8 proto, u32 src, u32 dst, u16 payload_len, u16 id)
{
	f[0] = 0x45;		/* version 4, 5 words of header */
	f[1] = 0;		/* DSCP/ECN */
	put16be(f + 2, (u16)(IP_HLEN + payload_len));
	put16be(f + 4, id);
	put16be(f + 6, 0);	/* no flags, fragment offset 0 */
	f[8] = 64;		/* TTL */
	f[9] = proto;
	put16be(f + 10, 0);
	put32be(f + 12, src);
	put32be(f + 16, dst);
	put16be(f + 10, inet_checksum(f, IP_HLEN));
	return IP_HLEN;
}

bool ipv4_parse_packet(const u8 *p, size_t n, u8 *proto, u32 *src, u32 *dst,
		       const u8 **payload, size_t *payload_len)
{
	if (n < IP_HLEN || p[0] >> 4 != 4)
		return false;
	size_t hlen = (size_t)(p[0] & 0xF) * 4;
	size_t total = get16be(p + 2);
	/* Ethernet pads short packets, so the frame may be longer than the
	 * packet, never shorter. */
	if (hlen < IP_HLEN || total < hlen || total > n || inet_checksum(p, hlen) != 0)
		return false;
	/* MF flag or a fragment offset: a fragment, which we never ask for. */
	if (get16be(p + 6) & 0x3FFF)
		return false;
	*proto = p[9];
	*src = get32be(p + 12);
	*dst = get32be(p + 16);
	*payload = p + hlen;
	*payload_len = total - hlen;
	return true;
}

static char *put_decimal(char *p, unsigned v)
{
	if (v >= 10)
		p = put_decimal(p, v / 10);
	*p++ = (char)('0' + v % 10);
	return p;
}

void ipv4_format(char *out, u32 ip)
{
	for (int shift = 24; shift >= 0; shift -= 8) {
		out = put_decimal(out, (ip >> shift) & 0xFF);
		*out++ = shift ? '.' : '\0';
	}
}

void mac_format(char *out, const u8 *mac)
{
	for (int i = 0; i < ETH_ALEN; i++) {
		*out++ = "0123456789abcdef"[mac[i] >> 4];
		*out++ = "0123456789abcdef"[mac[i] & 0xF];
		*out++ = i + 1 < ETH_ALEN ? ':' : '\0';
	}
}
