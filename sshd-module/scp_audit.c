#include "config.h"

#include "sshd-module/scp_audit.h"

#include "common/cleanup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SCP_AUDIT_MAX_ENTRIES 20000
#define SCP_AUDIT_MAX_DEPTH 16

struct scp_entry {
	char *rel; /* path below the watched root */
	bool dir;
	off_t size;
	struct timespec mtime;
	ino_t ino;
};

struct scp_snapshot {
	struct scp_entry *e;
	size_t n, cap;
};

struct scp_audit {
	bool sink;               /* scp -t: uploads into root */
	char root_host[PATH_MAX];
	char root_jail[PATH_MAX];
	struct scp_snapshot before;
	char **sources;          /* scp -f: the paths sent, already mapped to the host */
	size_t n_sources;
	bool recursive;
};

static void snapshot_free(struct scp_snapshot *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->e[i].rel);
	free(s->e);
	*s = (struct scp_snapshot){0};
}

static void snapshot_add(struct scp_snapshot *s, const char *rel, const struct stat *st)
{
	if (s->n >= SCP_AUDIT_MAX_ENTRIES)
		return;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct scp_entry *e = realloc(s->e, cap * sizeof(*e));
		if (!e)
			return;
		s->e = e;
		s->cap = cap;
	}
	char *copy = strdup(rel);
	if (!copy)
		return;
	s->e[s->n++] = (struct scp_entry){.rel = copy,
					  .dir = S_ISDIR(st->st_mode),
					  .size = st->st_size,
					  .mtime = st->st_mtim,
					  .ino = st->st_ino};
}

/* Walks the tree below dirfd, never following a symbolic link. */
static void snapshot_walk(struct scp_snapshot *s, int dirfd, const char *prefix, int depth)
{
	DIR *d = fdopendir(dirfd);
	if (!d) {
		close(dirfd);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d)) && s->n < SCP_AUDIT_MAX_ENTRIES) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		struct stat st;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		char rel[PATH_MAX];
		if (snprintf(rel, sizeof(rel), "%s%s%s", prefix, *prefix ? "/" : "", de->d_name) >=
		    (int)sizeof(rel))
			continue;
		if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
			continue;
		snapshot_add(s, rel, &st);
		if (S_ISDIR(st.st_mode) && depth < SCP_AUDIT_MAX_DEPTH) {
			int sub = openat(dirfd, de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0)
				snapshot_walk(s, sub, rel, depth + 1);
		}
	}
	closedir(d);
}

static void snapshot_take(struct scp_snapshot *s, const char *root)
{
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0)
		snapshot_walk(s, fd, "", 0);
}

static const struct scp_entry *snapshot_find(const struct scp_snapshot *s, const char *rel)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->e[i].rel, rel) == 0)
			return &s->e[i];
	return NULL;
}

/* The program's path (relative to its home, or absolute inside the jail) on the host; false
 * for paths outside the home (the jail's /tmp does not outlive the session). */
static bool map_path(const char *path, const char *home_host, const char *home_jail, char *out,
		     size_t size)
{
	size_t jl = strlen(home_jail);
	const char *rest;
	if (path[0] != '/')
		rest = path;
	else if (strncmp(path, home_jail, jl) == 0 && (path[jl] == '/' || path[jl] == '\0'))
		rest = path + jl + (path[jl] == '/');
	else
		return false;
	if (strstr(rest, ".."))
		return false; /* never guessed: the jail resolves those, we do not */
	return snprintf(out, size, "%s%s%s", home_host, *rest ? "/" : "", rest) < (int)size;
}

int scp_audit_begin(char *const *argv, const char *home_host, const char *home_jail,
		    struct scp_audit **ret)
{
	*ret = NULL;
	bool sink = false, source = false, recursive = false;
	int i = 1;
	for (; argv[i] && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		sink |= strchr(argv[i], 't') != NULL;
		source |= strchr(argv[i], 'f') != NULL;
		recursive |= strchr(argv[i], 'r') != NULL;
	}
	if (sink == source)
		return 0;
	struct scp_audit *a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->sink = sink;
	a->recursive = recursive;
	if (sink) {
		const char *target = argv[i] ? argv[i] : ".";
		char host[PATH_MAX];
		struct stat st;
		if (!map_path(target, home_host, home_jail, host, sizeof(host))) {
			free(a);
			return 0;
		}
		/* A target that is not a directory is a file name: watch the folder it is in. */
		if (lstat(host, &st) < 0 || !S_ISDIR(st.st_mode)) {
			char *slash = strrchr(host, '/');
			if (slash && slash > host + strlen(home_host) - 1)
				*slash = '\0';
		}
		snprintf(a->root_host, sizeof(a->root_host), "%s", host);
		if (snprintf(a->root_jail, sizeof(a->root_jail), "%s%s", home_jail,
			     host + strlen(home_host)) >= (int)sizeof(a->root_jail)) {
			free(a);
			return 0;
		}
		snapshot_take(&a->before, a->root_host);
	} else {
		for (; argv[i]; i++) {
			char host[PATH_MAX];
			if (!map_path(argv[i], home_host, home_jail, host, sizeof(host)))
				continue;
			char **s = realloc(a->sources, (a->n_sources + 1) * sizeof(char *));
			if (!s)
				break;
			a->sources = s;
			if ((a->sources[a->n_sources] = strdup(host)))
				a->n_sources++;
		}
		snprintf(a->root_host, sizeof(a->root_host), "%s", home_host);
		snprintf(a->root_jail, sizeof(a->root_jail), "%s", home_jail);
	}
	*ret = a;
	return 0;
}

static void emit_op(sftp_log_emit_fn emit, void *ud, const char *op, const char *path,
		    unsigned long long bytes, bool has_bytes)
{
	struct sftp_file_op o = {.op = op,
				 .path = path,
				 .bytes = bytes,
				 .has_bytes = has_bytes,
				 .result = "success",
				 .detail = "scp (legacy protocol): seen in the home after the run"};
	emit(&o, ud);
}

void scp_audit_end(struct scp_audit *a, sftp_log_emit_fn emit, void *userdata)
{
	if (!a)
		return;
	if (!emit) {
		a->sink = false; /* nothing to report: only free */
		for (size_t i = 0; i < a->n_sources; i++)
			free(a->sources[i]);
		a->n_sources = 0;
	}
	char jail_path[PATH_MAX];
	if (a->sink) {
		struct scp_snapshot after = {0};
		snapshot_take(&after, a->root_host);
		for (size_t i = 0; i < after.n; i++) {
			const struct scp_entry *e = &after.e[i];
			const struct scp_entry *old = snapshot_find(&a->before, e->rel);
			bool changed = !old || old->dir != e->dir || old->ino != e->ino ||
				       old->size != e->size ||
				       old->mtime.tv_sec != e->mtime.tv_sec ||
				       old->mtime.tv_nsec != e->mtime.tv_nsec;
			if (!changed)
				continue;
			if (snprintf(jail_path, sizeof(jail_path), "%s/%s", a->root_jail, e->rel) >=
			    (int)sizeof(jail_path))
				continue;
			if (e->dir)
				emit_op(emit, userdata, "mkdir", jail_path, 0, false);
			else
				emit_op(emit, userdata, "upload", jail_path,
					(unsigned long long)e->size, true);
		}
		snapshot_free(&after);
	} else {
		for (size_t i = 0; i < a->n_sources; i++) {
			struct stat st;
			const char *src = a->sources[i];
			if (snprintf(jail_path, sizeof(jail_path), "%s%s", a->root_jail,
				     src + strlen(a->root_host)) >= (int)sizeof(jail_path) ||
			    lstat(src, &st) < 0)
				continue;
			if (S_ISREG(st.st_mode)) {
				struct sftp_file_op o = {.op = "download",
							 .path = jail_path,
							 .bytes = (unsigned long long)st.st_size,
							 .has_bytes = true,
							 .result = "success",
							 .detail = "scp (legacy protocol): file requested"};
				emit(&o, userdata);
			} else if (S_ISDIR(st.st_mode) && a->recursive) {
				struct scp_snapshot tree = {0};
				snapshot_take(&tree, src);
				for (size_t k = 0; k < tree.n; k++) {
					if (tree.e[k].dir)
						continue;
					char p[PATH_MAX];
					if (snprintf(p, sizeof(p), "%s/%s", jail_path, tree.e[k].rel) >=
					    (int)sizeof(p))
						continue;
					struct sftp_file_op o = {
						.op = "download",
						.path = p,
						.bytes = (unsigned long long)tree.e[k].size,
						.has_bytes = true,
						.result = "success",
						.detail = "scp (legacy protocol): directory requested"};
					emit(&o, userdata);
				}
				snapshot_free(&tree);
			}
		}
		for (size_t i = 0; i < a->n_sources; i++)
			free(a->sources[i]);
		free(a->sources);
	}
	snapshot_free(&a->before);
	free(a);
}
