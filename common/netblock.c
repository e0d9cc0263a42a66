#include "config.h"

#include "common/netblock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

static unsigned netblock_max_bits(int family)
{
	return family == AF_INET ? 32 : 128;
}

static size_t netblock_addr_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

static void netblock_clear_host_bits(struct netblock *net)
{
	size_t len = netblock_addr_len(net->family);
	for (size_t i = 0; i < len; i++) {
		unsigned first = (unsigned)i * 8;
		if (first >= net->bits)
			net->addr[i] = 0;
		else if (net->bits - first < 8)
			net->addr[i] &= (uint8_t)(0xff00u >> (net->bits - first));
	}
}

static bool netblock_host_bits_set(const struct netblock *net)
{
	struct netblock masked = *net;
	netblock_clear_host_bits(&masked);
	return memcmp(masked.addr, net->addr, sizeof(net->addr)) != 0;
}

/* ::ffff:a.b.c.d is the IPv4 address a.b.c.d. */
static void netblock_unmap_v4(struct netblock *net)
{
	static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (net->family != AF_INET6 || memcmp(net->addr, prefix, sizeof(prefix)) != 0 ||
	    net->bits < 96)
		return;
	uint8_t v4[4];
	memcpy(v4, net->addr + 12, 4);
	memset(net->addr, 0, sizeof(net->addr));
	memcpy(net->addr, v4, 4);
	net->family = AF_INET;
	net->bits -= 96;
}

int netblock_parse(const char *text, struct netblock *ret)
{
	char host[INET6_ADDRSTRLEN];
	const char *slash = strchr(text, '/');
	size_t host_len = slash ? (size_t)(slash - text) : strlen(text);
	struct netblock net = {0};

	if (host_len == 0 || host_len >= sizeof(host))
		return -EINVAL;
	memcpy(host, text, host_len);
	host[host_len] = '\0';
	if (inet_pton(AF_INET, host, net.addr) == 1)
		net.family = AF_INET;
	else if (inet_pton(AF_INET6, host, net.addr) == 1)
		net.family = AF_INET6;
	else
		return -EINVAL;
	net.bits = netblock_max_bits(net.family);
	if (slash) {
		const char *p = slash + 1;
		unsigned bits = 0;
		if (*p == '\0' || strlen(p) > 3)
			return -EINVAL;
		for (; *p; p++) {
			if (*p < '0' || *p > '9')
				return -EINVAL;
			bits = bits * 10 + (unsigned)(*p - '0');
		}
		if (bits > net.bits)
			return -EINVAL;
		net.bits = bits;
	}
	if (netblock_host_bits_set(&net)) {
		netblock_clear_host_bits(&net);
		netblock_unmap_v4(&net);
		*ret = net;
		return -EDOM;
	}
	netblock_unmap_v4(&net);
	*ret = net;
	return 0;
}

int netblock_from_sockaddr(const struct sockaddr *sa, socklen_t len, unsigned bits4, unsigned bits6,
			   struct netblock *ret)
{
	struct netblock net = {0};

	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		net.family = AF_INET;
		memcpy(net.addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		net.bits = 32;
	} else if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		net.family = AF_INET6;
		memcpy(net.addr, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
		net.bits = 128;
		netblock_unmap_v4(&net);
	} else {
		return -EAFNOSUPPORT;
	}
	*ret = netblock_mask(&net, net.family == AF_INET ? bits4 : bits6);
	return 0;
}

struct netblock netblock_mask(const struct netblock *addr, unsigned bits)
{
	struct netblock net = *addr;
	if (bits < net.bits)
		net.bits = bits;
	netblock_clear_host_bits(&net);
	return net;
}

bool netblock_contains(const struct netblock *outer, const struct netblock *inner)
{
	if (outer->family != inner->family || inner->bits < outer->bits)
		return false;
	struct netblock masked = netblock_mask(inner, outer->bits);
	return memcmp(masked.addr, outer->addr, sizeof(outer->addr)) == 0;
}

bool netblock_equal(const struct netblock *a, const struct netblock *b)
{
	return a->family == b->family && a->bits == b->bits &&
	       memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

void netblock_format(const struct netblock *net, char *buf, size_t size)
{
	char host[INET6_ADDRSTRLEN] = "?";
	inet_ntop(net->family, net->addr, host, sizeof(host));
	snprintf(buf, size, "%s/%u", host, net->bits);
}
