/*
 * Ethernet, ARP (RFC 826), IPv4 (RFC 791), ICMP echo (RFC 792) and UDP
 * (RFC 768), as much as mode=virtio-net speaks: building headers into a
 * frame and reading them back.  Wire order is big-endian and headers
 * after the 14-byte Ethernet header are not aligned, so every field goes
 * through the byte-wise helpers below.
 */
#ifndef INET_H
#define INET_H

#include "guest.h"

#define ETH_ALEN	6
#define ETH_HLEN	14	/* destination, source, EtherType */
#define ETH_ZLEN	60	/* shortest frame without the FCS (IEEE 802.3) */
#define ETH_DATA_LEN	1500	/* the MTU our frames stay within */
#define ETH_P_IP	0x0800
#define ETH_P_ARP	0x0806

#define ARP_LEN		28	/* Ethernet/IPv4 ARP body */
#define ARP_REQUEST	1
#define ARP_REPLY	2

#define IP_HLEN		20	/* we send no options */
#define IPPROTO_ICMP	1
#define IPPROTO_UDP	17
#define ICMP_HLEN	8	/* type, code, checksum, identifier, sequence */
#define ICMP_ECHOREPLY	0
#define ICMP_ECHO	8
#define UDP_HLEN	8

static inline u16 get16be(const u8 *p) { return (u16)(p[0] << 8 | p[1]); }
static inline u32 get32be(const u8 *p) { return (u32)get16be(p) << 16 | get16be(p + 2); }
static inline void put16be(u8 *p, u16 v) { p[0] = (u8)(v >> 8); p[1] = (u8)v; }
static inline void put32be(u8 *p, u32 v) { put16be(p, (u16)(v >> 16)); put16be(p + 2, (u16)v); }

/* The Internet checksum (RFC 1071) of len bytes: store it as is (big-endian)
 * into a zeroed checksum field; over a header holding a correct one it is 0. */
u16 inet_checksum(const u8 *p, size_t len);

/* "a.b.c.d" (len bytes, not NUL-terminated) into a host-order address. */
bool ipv4_parse(const char *s, size_t len, u32 *ip);

/* Text forms for output lines: "10.0.2.1" and "52:54:00:12:34:56". */
#define IPV4_TEXT	16
#define MAC_TEXT	18
void ipv4_format(char *out, u32 ip);
void mac_format(char *out, const u8 *mac);

/* Writers return the bytes written; `f` is where the header starts. */
size_t eth_header(u8 *f, const u8 *dst, const u8 *src, u16 type);
size_t arp_body(u8 *f, u16 op, const u8 *sha, u32 spa, const u8 *tha, u32 tpa);
/* An IPv4 header for payload_len bytes after it, checksum filled in. */
size_t ipv4_header(u8 *f, u8 proto, u32 src, u32 dst, u16 payload_len, u16 id);

/*
 * A received IPv4 packet (from its header at p, n bytes of frame left):
 * true when the header is well-formed, its checksum right, the packet
 * unfragmented and no longer than n.  Then *proto, *src and *dst are
 * filled in and *payload / *payload_len give what follows the header.
 */
bool ipv4_parse_packet(const u8 *p, size_t n, u8 *proto, u32 *src, u32 *dst,
		       const u8 **payload, size_t *payload_len);

#endif
