#include "config.h"

#include "common/audit_record.h"

#include "common/cleanup.h"
#include "common/escape.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HASH_MEMBER ",\"hash\":\""
#define HASH_SUFFIX_LEN (sizeof(HASH_MEMBER) - 1 + (SHA256_HEX_SIZE - 1) + 2)

bool audit_field_key_valid(const char *key)
{
	static const char prefix[] = "SANDBOX_";
	if (!key || strncmp(key, prefix, sizeof(prefix) - 1) != 0)
		return false;
	const char *p = key + sizeof(prefix) - 1;
	if (!*p || strlen(key) > 64)
		return false;
	for (; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_'))
			return false;
	return true;
}

int audit_buf_append(struct audit_buf *b, const void *data, size_t len)
{
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + len + 1)
			cap *= 2;
		char *p = realloc(b->data, cap);
		if (!p)
			return -ENOMEM;
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int audit_buf_puts(struct audit_buf *b, const char *s)
{
	return audit_buf_append(b, s, strlen(s));
}

void audit_buf_free(struct audit_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

/* Length of the valid UTF-8 sequence at s (shortest form, no surrogates, at most U+10FFFF) and
 * its code point; 0 when s does not start one. */
static size_t utf8_decode(const unsigned char *s, size_t len, uint32_t *ret_cp)
{
	size_t n;
	uint32_t cp, min;
	if (s[0] >= 0xc0 && s[0] < 0xe0) {
		n = 2, cp = s[0] & 0x1f, min = 0x80;
	} else if (s[0] >= 0xe0 && s[0] < 0xf0) {
		n = 3, cp = s[0] & 0x0f, min = 0x800;
	} else if (s[0] >= 0xf0 && s[0] < 0xf5) {
		n = 4, cp = s[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n > len)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*ret_cp = cp;
	return n;
}

static int json_u(struct audit_buf *b, uint32_t unit)
{
	char tmp[8];
	snprintf(tmp, sizeof(tmp), "\\u%04x", (unsigned)unit);
	return audit_buf_append(b, tmp, 6);
}

int audit_json_escape(struct audit_buf *b, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	int r = audit_buf_append(b, "\"", 1);
	for (size_t i = 0; r == 0 && i < len;) {
		unsigned char c = p[i];
		const char *short_esc = NULL;
		switch (c) {
		case '"':
			short_esc = "\\\"";
			break;
		case '\\':
			short_esc = "\\\\";
			break;
		case '\b':
			short_esc = "\\b";
			break;
		case '\f':
			short_esc = "\\f";
			break;
		case '\n':
			short_esc = "\\n";
			break;
		case '\r':
			short_esc = "\\r";
			break;
		case '\t':
			short_esc = "\\t";
			break;
		}
		if (short_esc) {
			r = audit_buf_append(b, short_esc, 2);
			i++;
		} else if (c >= 0x20 && c < 0x7f) {
			r = audit_buf_append(b, &p[i], 1);
			i++;
		} else if (c < 0x80) {
			r = json_u(b, c);
			i++;
		} else {
			uint32_t cp;
			size_t n = utf8_decode(p + i, len - i, &cp);
			if (n == 0) {
				r = json_u(b, 0xdc00 | c);
				i++;
			} else if (cp < 0x10000) {
				r = json_u(b, cp);
				i += n;
			} else {
				cp -= 0x10000;
				r = json_u(b, 0xd800 | (cp >> 10));
				if (r == 0)
					r = json_u(b, 0xdc00 | (cp & 0x3ff));
				i += n;
			}
		}
	}
	return r ? r : audit_buf_append(b, "\"", 1);
}

int audit_record_encode(struct audit_buf *out, uint64_t seq, const char *time,
			const struct audit_event_info *ev, const struct audit_field *fields,
			size_t n, const char *prev, char ret_hash[SHA256_HEX_SIZE])
{
	char num[32];
	int r;
	out->len = 0;
	snprintf(num, sizeof(num), "%llu", (unsigned long long)seq);
	if ((r = audit_buf_puts(out, "{\"seq\":")) < 0 || (r = audit_buf_puts(out, num)) < 0 ||
	    (r = audit_buf_puts(out, ",\"time\":")) < 0 ||
	    (r = audit_json_escape(out, time, strlen(time))) < 0 ||
	    (r = audit_buf_puts(out, ",\"event\":")) < 0 ||
	    (r = audit_json_escape(out, ev->name, strlen(ev->name))) < 0 ||
	    (r = audit_buf_puts(out, ",\"message_id\":")) < 0 ||
	    (r = audit_json_escape(out, ev->message_id, strlen(ev->message_id))) < 0 ||
	    (r = audit_buf_puts(out, ",\"fields\":{")) < 0)
		return r;
	bool first = true;
	for (size_t i = 0; i < n; i++) {
		if (!fields[i].value)
			continue;
		if (!audit_field_key_valid(fields[i].key))
			return -EINVAL;
		if ((!first && (r = audit_buf_puts(out, ",")) < 0) ||
		    (r = audit_json_escape(out, fields[i].key, strlen(fields[i].key))) < 0 ||
		    (r = audit_buf_puts(out, ":")) < 0 ||
		    (r = audit_json_escape(out, fields[i].value, strlen(fields[i].value))) < 0)
			return r;
		first = false;
	}
	if ((r = audit_buf_puts(out, "},\"prev\":")) < 0 ||
	    (r = audit_json_escape(out, prev, strlen(prev))) < 0 ||
	    (r = audit_buf_puts(out, "}")) < 0)
		return r;
	/* The hash covers exactly the bytes of the record without its hash member. */
	sha256_hex(out->data, out->len, ret_hash);
	out->len--;
	if ((r = audit_buf_puts(out, HASH_MEMBER)) < 0 || (r = audit_buf_puts(out, ret_hash)) < 0 ||
	    (r = audit_buf_puts(out, "\"}\n")) < 0)
		return r;
	return 0;
}

static bool is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

int audit_line_hash(const char *line, size_t len, char ret_computed[SHA256_HEX_SIZE],
		    char ret_claimed[SHA256_HEX_SIZE])
{
	if (len < HASH_SUFFIX_LEN + 1)
		return -EBADMSG;
	const char *suffix = line + len - HASH_SUFFIX_LEN;
	const char *hex = suffix + sizeof(HASH_MEMBER) - 1;
	if (memcmp(suffix, HASH_MEMBER, sizeof(HASH_MEMBER) - 1) != 0 ||
	    !is_hex(hex, SHA256_HEX_SIZE - 1) || memcmp(line + len - 2, "\"}", 2) != 0)
		return -EBADMSG;
	memcpy(ret_claimed, hex, SHA256_HEX_SIZE - 1);
	ret_claimed[SHA256_HEX_SIZE - 1] = '\0';
	struct sha256_ctx ctx;
	uint8_t d[SHA256_DIGEST_SIZE];
	sha256_init(&ctx);
	sha256_update(&ctx, line, (size_t)(suffix - line));
	sha256_update(&ctx, "}", 1);
	sha256_final(&ctx, d);
	for (int i = 0; i < SHA256_DIGEST_SIZE; i++)
		snprintf(ret_computed + 2 * i, 3, "%02x", d[i]);
	return 0;
}

struct json_in {
	const char *p;
	const char *end;
};

static void json_ws(struct json_in *in)
{
	while (in->p < in->end &&
	       (*in->p == ' ' || *in->p == '\t' || *in->p == '\r' || *in->p == '\n'))
		in->p++;
}

static bool json_lit(struct json_in *in, char c)
{
	json_ws(in);
	if (in->p < in->end && *in->p == c) {
		in->p++;
		return true;
	}
	return false;
}

static int json_hex4(struct json_in *in, uint32_t *ret)
{
	uint32_t v = 0;
	if (in->end - in->p < 4)
		return -EBADMSG;
	for (int i = 0; i < 4; i++) {
		char c = *in->p++;
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (uint32_t)(c - 'A' + 10);
		else
			return -EBADMSG;
	}
	*ret = v;
	return 0;
}

static int utf8_put(struct audit_buf *b, uint32_t cp)
{
	unsigned char u[4];
	size_t n;
	if (cp < 0x80) {
		u[0] = (unsigned char)cp, n = 1;
	} else if (cp < 0x800) {
		u[0] = (unsigned char)(0xc0 | cp >> 6), n = 2;
	} else if (cp < 0x10000) {
		u[0] = (unsigned char)(0xe0 | cp >> 12), n = 3;
	} else {
		u[0] = (unsigned char)(0xf0 | cp >> 18), n = 4;
	}
	for (size_t i = 1; i < n; i++)
		u[i] = (unsigned char)(0x80 | ((cp >> (6 * (n - 1 - i))) & 0x3f));
	return audit_buf_append(b, u, n);
}

/* Decodes a JSON string into *ret (malloc'd, NUL-terminated) and its length. */
static int json_string(struct json_in *in, char **ret, size_t *ret_len)
{
	struct audit_buf b = {0};
	int r = 0;
	if (!json_lit(in, '"'))
		return -EBADMSG;
	if ((r = audit_buf_append(&b, "", 0)) < 0)
		return r;
	for (;;) {
		if (in->p >= in->end) {
			r = -EBADMSG;
			break;
		}
		unsigned char c = (unsigned char)*in->p++;
		if (c == '"')
			break;
		if (c < 0x20) {
			r = -EBADMSG;
			break;
		}
		if (c != '\\') {
			r = audit_buf_append(&b, &c, 1);
		} else if (in->p >= in->end) {
			r = -EBADMSG;
		} else {
			char e = *in->p++, d = 0;
			uint32_t u, lo;
			switch (e) {
			case '"':
				d = '"';
				break;
			case '\\':
				d = '\\';
				break;
			case '/':
				d = '/';
				break;
			case 'b':
				d = '\b';
				break;
			case 'f':
				d = '\f';
				break;
			case 'n':
				d = '\n';
				break;
			case 'r':
				d = '\r';
				break;
			case 't':
				d = '\t';
				break;
			}
			if (d) {
				r = audit_buf_append(&b, &d, 1);
			} else if (e != 'u') {
				r = -EBADMSG;
			} else if ((r = json_hex4(in, &u)) < 0) {
			} else if (u >= 0xd800 && u < 0xdc00 && in->end - in->p >= 6 &&
				   in->p[0] == '\\' && in->p[1] == 'u') {
				struct json_in save = *in;
				in->p += 2;
				if (json_hex4(in, &lo) == 0 && lo >= 0xdc00 && lo < 0xe000) {
					r = utf8_put(&b, 0x10000 + ((u - 0xd800) << 10) +
							     (lo - 0xdc00));
				} else {
					*in = save;
					r = utf8_put(&b, 0xfffd);
				}
			} else if (u >= 0xdc80 && u <= 0xdcff) {
				unsigned char raw = (unsigned char)(u & 0xff);
				r = audit_buf_append(&b, &raw, 1);
			} else if (u >= 0xd800 && u < 0xe000) {
				r = utf8_put(&b, 0xfffd);
			} else {
				r = utf8_put(&b, u);
			}
		}
		if (r < 0)
			break;
	}
	if (r < 0) {
		audit_buf_free(&b);
		return r;
	}
	*ret = b.data;
	if (ret_len)
		*ret_len = b.len;
	return 0;
}

static int json_uint(struct json_in *in, uint64_t *ret)
{
	json_ws(in);
	uint64_t v = 0;
	const char *start = in->p;
	while (in->p < in->end && *in->p >= '0' && *in->p <= '9') {
		if (v > (UINT64_MAX - 9) / 10)
			return -EBADMSG;
		v = v * 10 + (uint64_t)(*in->p++ - '0');
	}
	if (in->p == start)
		return -EBADMSG;
	*ret = v;
	return 0;
}

static int parse_fields(struct json_in *in, struct audit_record *rec)
{
	if (!json_lit(in, '{'))
		return -EBADMSG;
	if (json_lit(in, '}'))
		return 0;
	do {
		if (rec->n_fields >= AUDIT_FIELDS_MAX * 2)
			return -EBADMSG;
		struct audit_kv *kv = realloc(rec->fields, (rec->n_fields + 1) * sizeof(*kv));
		if (!kv)
			return -ENOMEM;
		rec->fields = kv;
		kv = &rec->fields[rec->n_fields];
		memset(kv, 0, sizeof(*kv));
		int r = json_string(in, &kv->key, NULL);
		if (r < 0)
			return r;
		rec->n_fields++;
		if (!audit_field_key_valid(kv->key) || !json_lit(in, ':'))
			return -EBADMSG;
		if ((r = json_string(in, &kv->value, &kv->value_len)) < 0)
			return r;
	} while (json_lit(in, ','));
	return json_lit(in, '}') ? 0 : -EBADMSG;
}

static int parse_record(struct json_in *in, struct audit_record *rec)
{
	bool have_seq = false;
	if (!json_lit(in, '{'))
		return -EBADMSG;
	do {
		_cleanup_free_ char *key = NULL;
		char **target = NULL;
		int r = json_string(in, &key, NULL);
		if (r < 0)
			return r;
		if (!json_lit(in, ':'))
			return -EBADMSG;
		if (strcmp(key, "seq") == 0) {
			if (have_seq || (r = json_uint(in, &rec->seq)) < 0)
				return -EBADMSG;
			have_seq = true;
			continue;
		}
		if (strcmp(key, "fields") == 0) {
			if (rec->fields || (r = parse_fields(in, rec)) < 0)
				return r < 0 ? r : -EBADMSG;
			continue;
		}
		if (strcmp(key, "time") == 0)
			target = &rec->time;
		else if (strcmp(key, "event") == 0)
			target = &rec->event;
		else if (strcmp(key, "message_id") == 0)
			target = &rec->message_id;
		else if (strcmp(key, "prev") == 0)
			target = &rec->prev;
		else if (strcmp(key, "hash") == 0)
			target = &rec->hash;
		else
			return -EBADMSG;
		if (*target)
			return -EBADMSG;
		if ((r = json_string(in, target, NULL)) < 0)
			return r;
	} while (json_lit(in, ','));
	if (!json_lit(in, '}'))
		return -EBADMSG;
	json_ws(in);
	if (in->p != in->end || !have_seq || !rec->time || !rec->event || !rec->message_id ||
	    !rec->prev || !rec->hash)
		return -EBADMSG;
	return 0;
}

int audit_record_parse(const char *line, size_t len, struct audit_record *ret)
{
	struct json_in in = {line, line + len};
	memset(ret, 0, sizeof(*ret));
	int r = parse_record(&in, ret);
	if (r < 0)
		audit_record_free(ret);
	return r;
}

void audit_record_free(struct audit_record *r)
{
	if (!r)
		return;
	free(r->time);
	free(r->event);
	free(r->message_id);
	free(r->prev);
	free(r->hash);
	for (size_t i = 0; i < r->n_fields; i++) {
		free(r->fields[i].key);
		free(r->fields[i].value);
	}
	free(r->fields);
	memset(r, 0, sizeof(*r));
}

const struct audit_kv *audit_record_field(const struct audit_record *r, const char *key)
{
	for (size_t i = 0; i < r->n_fields; i++)
		if (strcmp(r->fields[i].key, key) == 0)
			return &r->fields[i];
	return NULL;
}

void audit_verifier_init(struct audit_verifier *v)
{
	memset(v, 0, sizeof(*v));
}

void audit_verifier_next_file(struct audit_verifier *v)
{
	v->line = 0;
	v->expect_rotation = v->have_last;
}

static bool is_chain_start(const char *prev)
{
	size_t plen = sizeof(AUDIT_ROTATED_PREFIX) - 1;
	if (strcmp(prev, AUDIT_GENESIS_PREV) == 0)
		return true;
	return strncmp(prev, AUDIT_ROTATED_PREFIX, plen) == 0 &&
	       strlen(prev + plen) == SHA256_HEX_SIZE - 1 &&
	       is_hex(prev + plen, SHA256_HEX_SIZE - 1);
}

int audit_verify_line(struct audit_verifier *v, const char *line, size_t len, char *msg,
		      size_t msg_size)
{
	unsigned long long n = ++v->line;
	char computed[SHA256_HEX_SIZE], claimed[SHA256_HEX_SIZE];
	struct audit_record rec;
	int r;

	if (audit_record_parse(line, len, &rec) < 0 ||
	    audit_line_hash(line, len, computed, claimed) < 0) {
		/* A record whose hash member is not the last one still parsed. */
		audit_record_free(&rec);
		snprintf(msg, msg_size, "line %llu: not a valid record (truncated or edited?)", n);
		return -EBADMSG;
	}
	r = -EBADMSG;
	if (strcmp(computed, claimed) != 0 || strcmp(rec.hash, claimed) != 0) {
		snprintf(msg, msg_size, "line %llu: hash mismatch (record edited?)", n);
	} else if (n == 1 && v->expect_rotation &&
		   (strncmp(rec.prev, AUDIT_ROTATED_PREFIX, sizeof(AUDIT_ROTATED_PREFIX) - 1) !=
			0 ||
		    strcmp(rec.prev + sizeof(AUDIT_ROTATED_PREFIX) - 1, v->last_hash) != 0)) {
		snprintf(
		    msg, msg_size,
		    "line 1: chain broken: does not continue the previous file (prev \"%.80s\")",
		    rec.prev);
	} else if (n == 1 && !is_chain_start(rec.prev)) {
		snprintf(msg, msg_size,
			 "line 1: chain broken: the first record does not start a chain (lines "
			 "before it removed?)");
	} else if (n > 1 && strcmp(rec.prev, v->last_hash) != 0) {
		snprintf(msg, msg_size, "line %llu: chain broken: prev does not match line %llu", n,
			 n - 1);
	} else if (n > 1 && rec.seq != v->last_seq + 1) {
		snprintf(msg, msg_size, "line %llu: sequence gap: seq %llu after %llu", n,
			 (unsigned long long)rec.seq, (unsigned long long)v->last_seq);
	} else {
		r = 0;
		if (n == 1)
			snprintf(v->first_prev, sizeof(v->first_prev), "%s", rec.prev);
		memcpy(v->last_hash, claimed, sizeof(v->last_hash));
		v->last_seq = rec.seq;
		v->have_last = true;
		v->records++;
	}
	audit_record_free(&rec);
	return r;
}

void audit_bucket_init(struct audit_bucket *b, double burst, uint64_t now_usec)
{
	b->tokens = burst;
	b->refilled_usec = now_usec;
}

bool audit_bucket_take(struct audit_bucket *b, double rate, double burst, uint64_t now_usec)
{
	if (now_usec > b->refilled_usec) {
		b->tokens += (double)(now_usec - b->refilled_usec) / 1e6 * rate;
		if (b->tokens > burst)
			b->tokens = burst;
		b->refilled_usec = now_usec;
	}
	if (b->tokens < 1.0)
		return false;
	b->tokens -= 1.0;
	return true;
}

void audit_format_time(uint64_t realtime_usec, char out[AUDIT_TIME_SIZE])
{
	time_t t = (time_t)(realtime_usec / 1000000);
	struct tm tm;
	gmtime_r(&t, &tm);
	size_t n = strftime(out, AUDIT_TIME_SIZE - 9, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, AUDIT_TIME_SIZE - n, ".%06uZ", (unsigned)(realtime_usec % 1000000));
}

static bool parse_digits(const char **p, int n, int *ret)
{
	int v = 0;
	for (int i = 0; i < n; i++, (*p)++) {
		if (**p < '0' || **p > '9')
			return false;
		v = v * 10 + (**p - '0');
	}
	*ret = v;
	return true;
}

int audit_parse_iso_time(const char *s, uint64_t *ret_usec)
{
	struct tm tm = {0};
	int year, mon, day, hour = 0, min = 0, sec = 0;
	uint64_t usec = 0;
	const char *p = s;
	if (!parse_digits(&p, 4, &year) || *p++ != '-' || !parse_digits(&p, 2, &mon) ||
	    *p++ != '-' || !parse_digits(&p, 2, &day))
		return -EINVAL;
	if (*p == 'T' || *p == ' ') {
		p++;
		if (!parse_digits(&p, 2, &hour) || *p++ != ':' || !parse_digits(&p, 2, &min))
			return -EINVAL;
		if (*p == ':') {
			p++;
			if (!parse_digits(&p, 2, &sec))
				return -EINVAL;
			if (*p == '.') {
				uint64_t scale = 100000;
				p++;
				if (*p < '0' || *p > '9')
					return -EINVAL;
				for (; *p >= '0' && *p <= '9'; p++, scale /= 10)
					usec += (uint64_t)(*p - '0') * scale;
			}
		}
	}
	bool utc = false;
	if (*p == 'Z') {
		utc = true;
		p++;
	}
	if (*p || mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60)
		return -EINVAL;
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	tm.tm_isdst = -1;
	time_t t = utc ? timegm(&tm) : mktime(&tm);
	if (t == (time_t)-1 || t < 0)
		return -EINVAL;
	*ret_usec = (uint64_t)t * 1000000 + usec;
	return 0;
}

int audit_parse_time_spec(const char *s, uint64_t now_usec, uint64_t *ret_usec)
{
	if (strcmp(s, "now") == 0) {
		*ret_usec = now_usec;
		return 0;
	}
	if (strcmp(s, "today") == 0 || strcmp(s, "yesterday") == 0) {
		time_t t = (time_t)(now_usec / 1000000);
		struct tm tm;
		localtime_r(&t, &tm);
		tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
		if (s[0] == 'y')
			tm.tm_mday--;
		tm.tm_isdst = -1;
		t = mktime(&tm);
		if (t == (time_t)-1)
			return -EINVAL;
		*ret_usec = (uint64_t)t * 1000000;
		return 0;
	}
	if (s[0] == '-') {
		char *end;
		errno = 0;
		unsigned long long v = strtoull(s + 1, &end, 10);
		uint64_t unit;
		if (errno || end == s + 1 || s[1] < '0' || s[1] > '9')
			return -EINVAL;
		if (strcmp(end, "s") == 0)
			unit = 1;
		else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
			unit = 60;
		else if (strcmp(end, "h") == 0)
			unit = 3600;
		else if (strcmp(end, "d") == 0)
			unit = 86400;
		else if (strcmp(end, "w") == 0)
			unit = 7 * 86400;
		else
			return -EINVAL;
		if (v > now_usec / 1000000 / unit)
			return -ERANGE;
		*ret_usec = now_usec - (uint64_t)v * unit * 1000000;
		return 0;
	}
	return audit_parse_iso_time(s, ret_usec);
}

int audit_format_value(struct audit_buf *b, const char *value, size_t len)
{
	_cleanup_free_ char *esc = malloc(len * 4 + 1);
	if (!esc)
		return -ENOMEM;
	escape_untrusted(value, len, esc, len * 4 + 1);
	bool quote = !*esc || strpbrk(esc, " \"=") != NULL;
	if (!quote)
		return audit_buf_puts(b, esc);
	int r = audit_buf_append(b, "\"", 1);
	for (const char *p = esc; r == 0 && *p; p++)
		r = *p == '"' ? audit_buf_append(b, "\\x22", 4) : audit_buf_append(b, p, 1);
	return r ? r : audit_buf_append(b, "\"", 1);
}

void audit_field_short_name(const char *key, char *out, size_t size)
{
	static const char prefix[] = "SANDBOX_";
	size_t o = 0;
	if (size == 0)
		return;
	if (strncmp(key, prefix, sizeof(prefix) - 1) == 0)
		key += sizeof(prefix) - 1;
	for (; *key && o + 1 < size; key++)
		out[o++] = (*key >= 'A' && *key <= 'Z') ? (char)(*key - 'A' + 'a') : *key;
	out[o] = '\0';
}
