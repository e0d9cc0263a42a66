/* asciicast v2 strings and lines; see asciicast.h. */
#include "config.h"

#include "common/asciicast.h"

#include "common/cleanup.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int asciicast_buf_reserve(struct asciicast_buf *b, size_t extra)
{
	if (b->len + extra < b->len)
		return -ENOMEM;
	if (b->len + extra <= b->size)
		return 0;
	size_t size = b->size ? b->size : 256;
	while (size < b->len + extra) {
		if (size > SIZE_MAX / 2)
			return -ENOMEM;
		size *= 2;
	}
	char *p = realloc(b->data, size);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->size = size;
	return 0;
}

int asciicast_buf_append(struct asciicast_buf *b, const char *s, size_t len)
{
	int r = asciicast_buf_reserve(b, len + 1);
	if (r < 0)
		return r;
	memcpy(b->data + b->len, s, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

/* The length of the character a lead byte starts (0: never valid) and the range its second
 * byte must be in (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF). */
static unsigned utf8_lead(unsigned char c, unsigned char *lo, unsigned char *hi)
{
	*lo = 0x80;
	*hi = 0xBF;
	if (c < 0x80)
		return 1;
	if (c < 0xC2)
		return 0;
	if (c < 0xE0)
		return 2;
	if (c == 0xE0)
		*lo = 0xA0;
	else if (c == 0xED)
		*hi = 0x9F;
	if (c < 0xF0)
		return 3;
	if (c == 0xF0)
		*lo = 0x90;
	else if (c == 0xF4)
		*hi = 0x8F;
	return c <= 0xF4 ? 4 : 0;
}

int asciicast_json_string(struct asciicast_buf *b, struct asciicast_utf8 *state, const char *data,
			  size_t len)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char pend[3];
	size_t np = 0, n, i = 0;
	int r;

	if (state) {
		np = state->n_pending;
		memcpy(pend, state->pending, np);
		state->n_pending = 0;
	}
	n = np + len;
	if (n < len || n > (SIZE_MAX - 8) / 6)
		return -ENOMEM;
	/* Worst case: every byte becomes \u00XX. */
	r = asciicast_buf_reserve(b, n * 6 + 1);
	if (r < 0)
		return r;
#define AT(j) ((j) < np ? pend[(j)] : (unsigned char)data[(j)-np])
	char *o = b->data + b->len;
	while (i < n) {
		unsigned char c = AT(i), lo, hi;
		if (c < 0x80) {
			if (c == '"' || c == '\\') {
				*o++ = '\\';
				*o++ = (char)c;
			} else if (c < 0x20 || c == 0x7f) {
				memcpy(o, "\\u00", 4);
				o[4] = hex[c >> 4];
				o[5] = hex[c & 15];
				o += 6;
			} else
				*o++ = (char)c;
			i++;
			continue;
		}
		unsigned need = utf8_lead(c, &lo, &hi), k = 1;
		if (need) {
			while (k < need && i + k < n) {
				unsigned char cc = AT(i + k);
				if (cc < (k == 1 ? lo : 0x80) || cc > (k == 1 ? hi : 0xBF))
					break;
				k++;
			}
			if (k == need) {
				for (unsigned j = 0; j < k; j++)
					*o++ = (char)AT(i + j);
				i += k;
				continue;
			}
			if (i + k == n && state) {
				/* Cut short by the end of this chunk: wait for the rest. */
				for (unsigned j = 0; j < k; j++)
					state->pending[j] = AT(i + j);
				state->n_pending = k;
				break;
			}
		}
		memcpy(o, "\xef\xbf\xbd", 3); /* U+FFFD for the maximal invalid subpart */
		o += 3;
		i += k;
	}
#undef AT
	b->len = (size_t)(o - b->data);
	b->data[b->len] = '\0';
	return 0;
}

int asciicast_format_event(struct asciicast_buf *b, uint64_t usec, const char *code,
			   struct asciicast_utf8 *state, const char *data, size_t len)
{
	char head[64];
	size_t start;
	int r, n;

	n = snprintf(head, sizeof(head), "[%" PRIu64 ".%06" PRIu64 ", \"%s\", \"", usec / 1000000,
		     usec % 1000000, code);
	if (n < 0 || (size_t)n >= sizeof(head))
		return -EINVAL;
	r = asciicast_buf_append(b, head, (size_t)n);
	if (r < 0)
		return r;
	start = b->len;
	r = asciicast_json_string(b, state, data, len);
	if (r < 0)
		return r;
	size_t written = b->len - start;
	r = asciicast_buf_append(b, "\"]\n", 3);
	if (r < 0)
		return r;
	return written > INT32_MAX ? INT32_MAX : (int)written;
}

/* ---- reading ---- */

struct json {
	const char *s;
	size_t len, pos;
	sbx_error *err;
};

static int json_fail(struct json *p, const char *what)
{
	if (p->pos >= p->len)
		return sbx_error_set(p->err, EINVAL, "%s at end of line", what);
	return sbx_error_set(p->err, EINVAL, "%s at column %zu", what, p->pos + 1);
}

static void json_ws(struct json *p)
{
	while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
				   p->s[p->pos] == '\r' || p->s[p->pos] == '\n'))
		p->pos++;
}

static int json_expect(struct json *p, char c)
{
	char what[32];
	json_ws(p);
	if (p->pos < p->len && p->s[p->pos] == c) {
		p->pos++;
		return 0;
	}
	snprintf(what, sizeof(what), "expected '%c'", c);
	return json_fail(p, what);
}

static int hex4(const char *s, unsigned *ret)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		char c = s[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -EINVAL;
	}
	*ret = v;
	return 0;
}

static int put_utf8(struct asciicast_buf *out, unsigned cp)
{
	char u[4];
	size_t n;
	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xC0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		u[0] = (char)(0xF0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	return asciicast_buf_append(out, u, n);
}

/* A JSON string at p->pos, decoded into OUT (NULL: only checked). */
static int json_string(struct json *p, struct asciicast_buf *out)
{
	int r;
	json_ws(p);
	if (p->pos >= p->len || p->s[p->pos] != '"')
		return json_fail(p, "expected a string");
	p->pos++;
	if (out && (r = asciicast_buf_append(out, "", 0)) < 0)
		return r;
	for (;;) {
		size_t run = p->pos;
		while (p->pos < p->len && p->s[p->pos] != '"' && p->s[p->pos] != '\\' &&
		       (unsigned char)p->s[p->pos] >= 0x20)
			p->pos++;
		if (out && p->pos > run &&
		    (r = asciicast_buf_append(out, p->s + run, p->pos - run)) < 0)
			return r;
		if (p->pos >= p->len)
			return json_fail(p, "unterminated string");
		char c = p->s[p->pos];
		if (c == '"') {
			p->pos++;
			return 0;
		}
		if (c != '\\')
			return json_fail(p, "control character in string");
		if (p->pos + 1 >= p->len)
			return json_fail(p, "unterminated string");
		char e = p->s[p->pos + 1], lit;
		unsigned cp;
		p->pos += 2;
		switch (e) {
		case '"':
			lit = '"';
			break;
		case '\\':
			lit = '\\';
			break;
		case '/':
			lit = '/';
			break;
		case 'b':
			lit = '\b';
			break;
		case 'f':
			lit = '\f';
			break;
		case 'n':
			lit = '\n';
			break;
		case 'r':
			lit = '\r';
			break;
		case 't':
			lit = '\t';
			break;
		case 'u':
			if (p->pos + 4 > p->len || hex4(p->s + p->pos, &cp) < 0)
				return json_fail(p, "bad \\u escape");
			p->pos += 4;
			if (cp >= 0xD800 && cp < 0xDC00) {
				unsigned lo;
				if (p->pos + 6 <= p->len && p->s[p->pos] == '\\' &&
				    p->s[p->pos + 1] == 'u' && hex4(p->s + p->pos + 2, &lo) == 0 &&
				    lo >= 0xDC00 && lo < 0xE000) {
					p->pos += 6;
					cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
				} else
					cp = 0xFFFD;
			} else if (cp >= 0xDC00 && cp < 0xE000)
				cp = 0xFFFD;
			if (out && (r = put_utf8(out, cp)) < 0)
				return r;
			continue;
		default:
			p->pos--;
			return json_fail(p, "bad escape");
		}
		if (out && (r = asciicast_buf_append(out, &lit, 1)) < 0)
			return r;
	}
}

/* A JSON number; its value in *RET when RET is not NULL. */
static int json_number(struct json *p, double *ret)
{
	char tok[64];
	size_t start;

	json_ws(p);
	start = p->pos;
#define DIGITS()                                                                                   \
	({                                                                                         \
		size_t _d = p->pos;                                                                \
		while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')              \
			p->pos++;                                                                  \
		p->pos - _d;                                                                       \
	})
	if (p->pos < p->len && p->s[p->pos] == '-')
		p->pos++;
	if (p->pos < p->len && p->s[p->pos] == '0')
		p->pos++;
	else if (DIGITS() == 0)
		return json_fail(p, "expected a number");
	if (p->pos < p->len && p->s[p->pos] == '.') {
		p->pos++;
		if (DIGITS() == 0)
			return json_fail(p, "bad number");
	}
	if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
		p->pos++;
		if (p->pos < p->len && (p->s[p->pos] == '+' || p->s[p->pos] == '-'))
			p->pos++;
		if (DIGITS() == 0)
			return json_fail(p, "bad number");
	}
#undef DIGITS
	if (!ret)
		return 0;
	if (p->pos - start >= sizeof(tok)) {
		p->pos = start;
		return json_fail(p, "number too long");
	}
	memcpy(tok, p->s + start, p->pos - start);
	tok[p->pos - start] = '\0';
	*ret = strtod(tok, NULL);
	return 0;
}

static int json_value(struct json *p, unsigned depth);

static int json_literal(struct json *p, const char *word)
{
	size_t n = strlen(word);
	if (p->len - p->pos >= n && memcmp(p->s + p->pos, word, n) == 0) {
		p->pos += n;
		return 0;
	}
	return json_fail(p, "unexpected character");
}

static int json_container(struct json *p, unsigned depth, char close)
{
	int r;
	p->pos++;
	json_ws(p);
	if (p->pos < p->len && p->s[p->pos] == close) {
		p->pos++;
		return 0;
	}
	for (;;) {
		if (close == '}') {
			if ((r = json_string(p, NULL)) < 0 || (r = json_expect(p, ':')) < 0)
				return r;
		}
		if ((r = json_value(p, depth + 1)) < 0)
			return r;
		json_ws(p);
		if (p->pos < p->len && p->s[p->pos] == ',') {
			p->pos++;
			continue;
		}
		return json_expect(p, close);
	}
}

/* Checks and skips any JSON value. */
static int json_value(struct json *p, unsigned depth)
{
	if (depth > 32)
		return json_fail(p, "nested too deeply");
	json_ws(p);
	if (p->pos >= p->len)
		return json_fail(p, "expected a value");
	switch (p->s[p->pos]) {
	case '"':
		return json_string(p, NULL);
	case '{':
		return json_container(p, depth, '}');
	case '[':
		return json_container(p, depth, ']');
	case 't':
		return json_literal(p, "true");
	case 'f':
		return json_literal(p, "false");
	case 'n':
		return json_literal(p, "null");
	default:
		return json_number(p, NULL);
	}
}

static int json_end(struct json *p)
{
	json_ws(p);
	return p->pos == p->len ? 0 : json_fail(p, "trailing characters");
}

static int json_dimension(struct json *p, unsigned *ret)
{
	double v;
	int r = json_number(p, &v);
	if (r < 0)
		return r;
	if (!(v >= 0 && v <= 65535) || v != (double)(unsigned)v)
		return json_fail(p, "bad terminal size");
	*ret = (unsigned)v;
	return 0;
}

int asciicast_parse_header(const char *line, size_t len, unsigned *width, unsigned *height,
			   sbx_error *err)
{
	struct json p = {.s = line, .len = len, .err = err};
	_cleanup_free_ char *key_data = NULL;
	struct asciicast_buf key = {0};
	bool have_version = false;
	int r;

	*width = *height = 0;
	json_ws(&p);
	if (p.pos >= p.len || line[p.pos] != '{')
		return sbx_error_set(err, EINVAL, "not an asciicast header (no JSON object)");
	p.pos++;
	json_ws(&p);
	if (p.pos < p.len && line[p.pos] == '}')
		p.pos++;
	else
		for (;;) {
			key.len = 0;
			r = json_string(&p, &key);
			key_data = key.data;
			if (r < 0 || (r = json_expect(&p, ':')) < 0)
				return r;
			if (strcmp(key.data, "version") == 0) {
				double v;
				if ((r = json_number(&p, &v)) < 0)
					return r;
				if (v != 2)
					return sbx_error_set(
					    err, EINVAL, "unsupported asciicast version (not 2)");
				have_version = true;
			} else if (strcmp(key.data, "width") == 0)
				r = json_dimension(&p, width);
			else if (strcmp(key.data, "height") == 0)
				r = json_dimension(&p, height);
			else
				r = json_value(&p, 1);
			if (r < 0)
				return r;
			json_ws(&p);
			if (p.pos < p.len && line[p.pos] == ',') {
				p.pos++;
				continue;
			}
			if ((r = json_expect(&p, '}')) < 0)
				return r;
			break;
		}
	if ((r = json_end(&p)) < 0)
		return r;
	if (!have_version)
		return sbx_error_set(err, EINVAL, "not an asciicast header (no \"version\")");
	return 0;
}

int asciicast_parse_event(const char *line, size_t len, struct asciicast_event *ev, sbx_error *err)
{
	struct json p = {.s = line, .len = len, .err = err};
	struct asciicast_buf code = {0}, data = {0};
	double t;
	int r;

	memset(ev, 0, sizeof(*ev));
	if ((r = json_expect(&p, '[')) < 0 || (r = json_number(&p, &t)) < 0)
		return r;
	if (!(t >= 0 && t < 1e12))
		return json_fail(&p, "bad event time");
	if ((r = json_expect(&p, ',')) < 0)
		return r;
	r = json_string(&p, &code);
	if (r >= 0 &&
	    (code.len == 0 || code.len >= sizeof(ev->code) || memchr(code.data, '\0', code.len)))
		r = json_fail(&p, "bad event code");
	if (r >= 0) {
		memcpy(ev->code, code.data, code.len + 1);
		r = json_expect(&p, ',');
	}
	free(code.data);
	if (r < 0)
		return r;
	json_ws(&p);
	if (p.pos < p.len && line[p.pos] == '"')
		r = json_string(&p, &data);
	else
		r = json_value(&p, 1);
	if (r >= 0 && (r = json_expect(&p, ']')) >= 0)
		r = json_end(&p);
	if (r < 0) {
		free(data.data);
		return r;
	}
	ev->usec = (uint64_t)(t * 1e6 + 0.5);
	ev->data = data.data;
	ev->len = data.len;
	return 0;
}
