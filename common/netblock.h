/* Source addresses grouped into network blocks (10.1.0.0/16, 2001:db8::/48), for the listener's
 * per-source limits and penalties and for the configuration that names exempt networks.
 * IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) count as the IPv4 address they carry. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* "255.255.255.255/32" or a full IPv6 address with "/128". */
#define NETBLOCK_STRLEN 64

struct netblock {
	int family;	  /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* network byte order; bits past `bits` are zero */
	unsigned bits;	  /* prefix length: 0-32 for IPv4, 0-128 for IPv6 */
};

/* "192.0.2.7", "192.0.2.0/24", "2001:db8::/32", "::1". Bits set past the prefix are an error
 * ("10.1.2.3/8" is a typo for "10.0.0.0/8" more often than not): -EDOM, with *ret set to the
 * block the text probably meant, for the message. -EINVAL on anything else. */
int netblock_parse(const char *text, struct netblock *ret);
/* The block of bits4 (IPv4) or bits6 (IPv6) leading bits that holds the socket address;
 * -EAFNOSUPPORT for other families. */
int netblock_from_sockaddr(const struct sockaddr *sa, socklen_t len, unsigned bits4, unsigned bits6,
			   struct netblock *ret);
/* The address's block of the given prefix length (at most addr->bits). */
struct netblock netblock_mask(const struct netblock *addr, unsigned bits);
/* True when every address of inner lies inside outer (same family, outer's prefix no longer). */
bool netblock_contains(const struct netblock *outer, const struct netblock *inner);
bool netblock_equal(const struct netblock *a, const struct netblock *b);
/* "192.0.2.0/24"; size at least NETBLOCK_STRLEN. */
void netblock_format(const struct netblock *net, char *buf, size_t size);
