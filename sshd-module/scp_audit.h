/* Legacy scp (scp -O) has no transaction log, so the monitor looks at the home itself: before
 * an `scp -t TARGET` run it notes what is under TARGET, afterwards it records every file that
 * appeared or changed (uploads, with their sizes) and every new directory; `scp -f PATH...`
 * records the files sent (downloads). Kernel-side evidence, no parsing of the student's bytes.
 * Walks are bounded and never follow symbolic links. */
#pragma once

#include "sshd-module/sftp_log.h"

struct scp_audit;

/* argv is scp's (argv[0] "scp"); home_host is where the home is on the host, home_jail where the
 * program sees it. Returns 0 with *ret NULL when there is nothing to watch (not in the home). */
int scp_audit_begin(char *const *argv, const char *home_host, const char *home_jail,
		    struct scp_audit **ret);
/* After the run: calls emit for every change (or sent file) and frees; with emit NULL it only
 * frees. a NULL is fine. */
void scp_audit_end(struct scp_audit *a, sftp_log_emit_fn emit, void *userdata);
