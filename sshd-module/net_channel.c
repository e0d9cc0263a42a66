/* Session channels in the network child: requests go to the monitor, which starts the program
 * in a jail and hands back its terminal or pipes; bytes are relayed here under SSH flow
 * control. */
#include "config.h"

#include "sshd-module/net_child.h"

#include "common/cleanup.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <libssh/server.h>

#define STDIN_BUFFER_MAX (1024 * 1024)
#define OUTPUT_CHUNK (32 * 1024)
/* After the program ends, output still in flight gets this long to reach EOF (a busy host can
 * be slow to close the jail's last copy of a pipe); what is already readable is always sent. */
#define EXIT_DRAIN_SECONDS 5

enum { KIND_SHELL, KIND_EXEC, KIND_SUBSYSTEM }; /* as enum session_kind in the monitor */

static const struct {
	const char *name;
	int number;
} signal_names[] = {
    {"ABRT", SIGABRT}, {"ALRM", SIGALRM}, {"FPE", SIGFPE},   {"HUP", SIGHUP},	{"ILL", SIGILL},
    {"INT", SIGINT},   {"KILL", SIGKILL}, {"PIPE", SIGPIPE}, {"QUIT", SIGQUIT}, {"SEGV", SIGSEGV},
    {"TERM", SIGTERM}, {"USR1", SIGUSR1}, {"USR2", SIGUSR2},
};

static int signal_from_name(const char *name)
{
	for (size_t i = 0; i < ELEMENTSOF(signal_names); i++)
		if (strcmp(signal_names[i].name, name) == 0)
			return signal_names[i].number;
	return -1;
}

static const char *signal_to_name(int sig)
{
	for (size_t i = 0; i < ELEMENTSOF(signal_names); i++)
		if (signal_names[i].number == sig)
			return signal_names[i].name;
	return "KILL";
}

static struct net_channel *channel_by_id(struct net_child *net, uint32_t id)
{
	for (size_t i = 0; i < NET_MAX_CHANNELS; i++)
		if (net->channels[i].used && net->channels[i].id == id)
			return &net->channels[i];
	return NULL;
}

static void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void channel_close_stdin(struct net_channel *c)
{
	if (c->pty || c->in_fd < 0)
		return;
	close(c->in_fd);
	c->in_fd = -1;
	c->stdin_buf.len = 0;
}

static void channel_flush_stdin(struct net_channel *c)
{
	struct net_buffer *b = &c->stdin_buf;
	while (b->len > 0 && c->in_fd >= 0) {
		ssize_t n = write(c->in_fd, b->data, b->len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				channel_close_stdin(c); /* the program closed its input */
			break;
		}
		memmove(b->data, b->data + n, b->len - (size_t)n);
		b->len -= (size_t)n;
	}
	if (c->client_eof && b->len == 0)
		channel_close_stdin(c);
}

static size_t channel_buffer_append(struct net_channel *c, const void *data, size_t len)
{
	struct net_buffer *b = &c->stdin_buf;
	if (!b->data) {
		b->data = malloc(STDIN_BUFFER_MAX);
		if (!b->data)
			return 0;
		b->cap = STDIN_BUFFER_MAX;
	}
	size_t n = b->cap - b->len < len ? b->cap - b->len : len;
	memcpy(b->data + b->len, data, n);
	b->len += n;
	return n;
}

/* A copy for the session recording, written by the monitor. */
static void channel_record(struct net_channel *c, char kind, const void *data, size_t len)
{
	static struct wire_msg req;
	wire_init(&req, WIRE_REQ_RECORD);
	wire_put_u32(&req, c->id);
	wire_put_u32(&req, (uint32_t)kind);
	if (wire_put_bytes(&req, data, len) == 0)
		wire_send(c->net->mon, &req);
}

/* Typed input is recorded only where policy asks for it, and never while the terminal hides
 * it (a password prompt inside the jail). */
static bool channel_record_input(struct net_channel *c)
{
	struct termios t;
	return c->record >= 2 && c->pty && c->in_fd >= 0 && tcgetattr(c->in_fd, &t) == 0 &&
	       (t.c_lflag & ECHO);
}

static int on_data(ssh_session session, ssh_channel channel, void *data, uint32_t len,
		   int is_stderr, void *userdata)
{
	struct net_channel *c = userdata;
	c->net->activity = true;
	if (!c->spawned)
		return 0; /* libssh keeps it until the program exists */
	if (c->in_fd < 0)
		return (int)len; /* the program closed its input: dropped, as sshd does */
	size_t n = channel_buffer_append(c, data, len);
	if (n && channel_record_input(c))
		channel_record(c, 'i', data, n);
	channel_flush_stdin(c);
	return (int)n;
}

static void on_eof(ssh_session session, ssh_channel channel, void *userdata)
{
	struct net_channel *c = userdata;
	c->client_eof = true;
	if (c->stdin_buf.len == 0)
		channel_close_stdin(c);
}

static void on_close(ssh_session session, ssh_channel channel, void *userdata)
{
	struct net_channel *c = userdata;
	c->closed = true;
	if (c->spawned && !c->exited) {
		static struct wire_msg req;
		wire_init(&req, WIRE_REQ_CHANNEL_CLOSE);
		wire_put_u32(&req, c->id);
		wire_send(c->net->mon, &req);
	}
}

static void on_signal(ssh_session session, ssh_channel channel, const char *signal, void *userdata)
{
	struct net_channel *c = userdata;
	int sig = signal_from_name(signal);
	if (!c->spawned || c->exited || sig < 0)
		return;
	static struct wire_msg req;
	wire_init(&req, WIRE_REQ_CHANNEL_SIGNAL);
	wire_put_u32(&req, c->id);
	wire_put_u32(&req, (uint32_t)sig);
	wire_send(c->net->mon, &req);
}

/* Terminal sizes beyond any real screen are clamped: the student loses nothing. */
static unsigned pty_dim(int value, unsigned fallback)
{
	if (value <= 0)
		return fallback;
	return value > INPUT_PTY_DIM_MAX ? INPUT_PTY_DIM_MAX : (unsigned)value;
}

static void channel_stderr_line(struct net_channel *c, const char *text);

static int on_pty_request(ssh_session session, ssh_channel channel, const char *term, int width,
			  int height, int pxwidth, int pxheight, void *userdata)
{
	struct net_channel *c = userdata;
	if (c->spawned || c->pty)
		return -1;
	if (term && *term && !input_term_valid(term)) {
		char line[160];
		snprintf(line, sizeof(line),
			 "sandbox: terminal type refused: at most %d letters, digits and ._+- "
			 "(set TERM to e.g. xterm-256color)",
			 INPUT_TERM_MAX);
		channel_stderr_line(c, line);
		return -1;
	}
	c->pty = true;
	snprintf(c->term, sizeof(c->term), "%s", term ? term : "");
	c->cols = pty_dim(width, 80);
	c->rows = pty_dim(height, 24);
	return 0;
}

static int on_window_change(ssh_session session, ssh_channel channel, int width, int height,
			    int pxwidth, int pxheight, void *userdata)
{
	struct net_channel *c = userdata;
	if (!c->pty || c->in_fd < 0)
		return -1;
	struct winsize ws = {.ws_row = (unsigned short)pty_dim(height, 24),
			     .ws_col = (unsigned short)pty_dim(width, 80)};
	if (c->record) {
		char size[32];
		int n = snprintf(size, sizeof(size), "%ux%u", ws.ws_col, ws.ws_row);
		channel_record(c, 'r', size, (size_t)n);
	}
	return ioctl(c->in_fd, TIOCSWINSZ, &ws) < 0 ? -1 : 0;
}

static bool env_name_allowed(const char *name)
{
	return strcmp(name, "LANG") == 0 || strcmp(name, "TERM") == 0 ||
	       strncmp(name, "LC_", 3) == 0;
}

static int on_env_request(ssh_session session, ssh_channel channel, const char *name,
			  const char *value, void *userdata)
{
	struct net_channel *c = userdata;
	/* Refused variables are dropped, as sshd drops those AcceptEnv does not name. */
	if (c->spawned || !env_name_allowed(name) || c->n_env >= ELEMENTSOF(c->env) ||
	    strlen(name) > INPUT_ENV_NAME_MAX || !input_text_valid(value, INPUT_ENV_VALUE_MAX))
		return -1;
	if (asprintf(&c->env[c->n_env], "%s=%s", name, value) < 0)
		return -1;
	c->n_env++;
	return 0;
}

static void channel_stderr_line(struct net_channel *c, const char *text)
{
	if (!text || !*text)
		return;
	char line[1024];
	int n = snprintf(line, sizeof(line), "%s%s", text, c->pty ? "\r\n" : "\n");
	if (n > 0)
		ssh_channel_write_stderr(
		    c->channel, line,
		    (uint32_t)((size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1));
}

/* Accepts the request so that the student reads TEXT before the channel ends with exit
 * status 1 (net_channels_service sends both). */
static int channel_refuse(struct net_channel *c, const char *text)
{
	c->refused = true;
	snprintf(c->refusal, sizeof(c->refusal), "%s", text && *text ? text : "sandbox: refused");
	return 0;
}

/* Requests over a bound are refused here with words for the student (the monitor checks
 * the same bounds again). */
static bool channel_request_fits(struct net_channel *c, uint32_t kind, const char *command)
{
	char line[160];
	size_t len = command ? strlen(command) : 0;
	if (kind == KIND_EXEC && len > INPUT_COMMAND_MAX)
		snprintf(line, sizeof(line),
			 "sandbox: the command is too long (%zu bytes, at most %d)", len,
			 INPUT_COMMAND_MAX);
	else if (kind == KIND_SUBSYSTEM && len > INPUT_SUBSYSTEM_MAX)
		snprintf(line, sizeof(line),
			 "sandbox: the subsystem name is too long (%zu bytes, at most %d)", len,
			 INPUT_SUBSYSTEM_MAX);
	else
		return true;
	channel_refuse(c, line);
	return false;
}

static int channel_spawn(struct net_channel *c, uint32_t kind, const char *command)
{
	if (c->spawned || c->refused)
		return -1;
	if (!channel_request_fits(c, kind, command))
		return 0;
	static struct wire_msg req, ans;
	wire_init(&req, WIRE_REQ_CHANNEL_SPAWN);
	wire_put_u32(&req, c->id);
	wire_put_u32(&req, kind);
	if (wire_put_str(&req, command) < 0)
		return -1;
	wire_put_u32(&req, c->pty);
	wire_put_str(&req, c->term);
	wire_put_u32(&req, c->rows);
	wire_put_u32(&req, c->cols);
	wire_put_u32(&req, (uint32_t)c->n_env);
	for (size_t i = 0; i < c->n_env; i++)
		wire_put_str(&req, c->env[i]);
	net_monitor_call(c->net, &req, WIRE_ANS_SPAWNED, &ans);
	uint32_t id = 0, result = 1;
	_cleanup_free_ char *message = NULL;
	if (wire_get_u32(&ans, &id) < 0 || wire_get_u32(&ans, &result) < 0 ||
	    wire_get_str(&ans, &message) < 0 || wire_get_u32(&ans, &c->record) < 0 || id != c->id) {
		wire_close_fds(&ans);
		return -1;
	}
	if (result != 0) {
		wire_close_fds(&ans);
		return channel_refuse(c, message);
	}
	if (c->pty) {
		c->in_fd = c->out_fd = wire_take_fd(&ans);
		c->err_fd = -1;
		c->err_eof = true;
	} else {
		c->in_fd = wire_take_fd(&ans);
		c->out_fd = wire_take_fd(&ans);
		c->err_fd = wire_take_fd(&ans);
	}
	wire_close_fds(&ans);
	if (c->in_fd < 0 || c->out_fd < 0 || (!c->pty && c->err_fd < 0))
		return -1;
	set_nonblock(c->in_fd);
	set_nonblock(c->out_fd);
	if (c->err_fd >= 0)
		set_nonblock(c->err_fd);
	c->spawned = true;
	if (c->client_eof)
		channel_close_stdin(c);
	return 0;
}

static int on_shell_request(ssh_session session, ssh_channel channel, void *userdata)
{
	return channel_spawn(userdata, KIND_SHELL, NULL);
}

static int on_exec_request(ssh_session session, ssh_channel channel, const char *command,
			   void *userdata)
{
	return channel_spawn(userdata, KIND_EXEC, command);
}

static int on_subsystem_request(ssh_session session, ssh_channel channel, const char *subsystem,
				void *userdata)
{
	return channel_spawn(userdata, KIND_SUBSYSTEM, subsystem);
}

ssh_channel net_channel_open(ssh_session session, void *userdata)
{
	struct net_child *net = userdata;
	if (!net->session_open)
		return NULL;
	/* MaxSessions, as in sshd: the client hears "open failed" for one more. */
	struct net_channel *c = NULL;
	size_t open = 0;
	for (size_t i = 0; i < NET_MAX_CHANNELS; i++) {
		if (net->channels[i].used)
			open++;
		else if (!c)
			c = &net->channels[i];
	}
	if (!c || open >= net->cfg->max_sessions) {
		log_info("network child: channel refused, %zu open (MaxSessions %u)", open,
			 net->cfg->max_sessions);
		return NULL;
	}
	ssh_channel channel = ssh_channel_new(session);
	if (!channel)
		return NULL;
	*c = (struct net_channel){
	    .used = true,
	    .id = net->next_channel_id++,
	    .channel = channel,
	    .net = net,
	    .in_fd = -1,
	    .out_fd = -1,
	    .err_fd = -1,
	};
	c->cb = (struct ssh_channel_callbacks_struct){
	    .userdata = c,
	    .channel_data_function = on_data,
	    .channel_eof_function = on_eof,
	    .channel_close_function = on_close,
	    .channel_signal_function = on_signal,
	    .channel_pty_request_function = on_pty_request,
	    .channel_shell_request_function = on_shell_request,
	    .channel_pty_window_change_function = on_window_change,
	    .channel_exec_request_function = on_exec_request,
	    .channel_env_request_function = on_env_request,
	    .channel_subsystem_request_function = on_subsystem_request,
	};
	ssh_callbacks_init(&c->cb);
	ssh_set_channel_callbacks(channel, &c->cb);
	return channel;
}

void net_channel_handle_event(struct net_child *net, struct wire_msg *msg)
{
	uint32_t id = 0;
	if (msg->type == WIRE_EVT_DISCONNECT) {
		_cleanup_free_ char *reason = NULL;
		wire_get_str(msg, &reason);
		for (size_t i = 0; i < NET_MAX_CHANNELS; i++)
			if (net->channels[i].used && net->channels[i].spawned)
				channel_stderr_line(&net->channels[i], reason);
		net_hang_up(net, reason);
		return;
	}
	if (wire_get_u32(msg, &id) < 0)
		return;
	struct net_channel *c = channel_by_id(net, id);
	if (!c)
		return;
	if (msg->type == WIRE_EVT_MESSAGE) {
		_cleanup_free_ char *text = NULL;
		if (wire_get_str(msg, &text) == 0)
			channel_stderr_line(c, text);
		return;
	}
	if (msg->type != WIRE_EVT_CHANNEL_EXIT)
		return;
	uint32_t exited = 0, code = 0;
	_cleanup_free_ char *message = NULL;
	if (wire_get_u32(msg, &exited) < 0 || wire_get_u32(msg, &code) < 0 ||
	    wire_get_str(msg, &message) < 0)
		return;
	c->exited = true;
	c->exit_by_signal = !exited;
	c->exit_code = code;
	c->exit_time = time(NULL);
	if (message)
		channel_stderr_line(c, message);
}

size_t net_channels_pollfds(struct net_child *net, struct pollfd *pfd, void **owner, size_t n)
{
	for (size_t i = 0; i < NET_MAX_CHANNELS; i++) {
		struct net_channel *c = &net->channels[i];
		if (!c->used || !c->spawned || c->reported)
			continue;
		bool window = ssh_channel_window_size(c->channel) > 0;
		short out_events = 0;
		if (!c->out_eof && window)
			out_events |= POLLIN;
		if (c->pty && c->stdin_buf.len > 0)
			out_events |= POLLOUT;
		if (out_events) {
			pfd[n] = (struct pollfd){.fd = c->out_fd, .events = out_events};
			owner[n++] = c;
		}
		if (c->err_fd >= 0 && !c->err_eof && window) {
			pfd[n] = (struct pollfd){.fd = c->err_fd, .events = POLLIN};
			owner[n++] = c;
		}
		if (!c->pty && c->in_fd >= 0 && c->stdin_buf.len > 0) {
			pfd[n] = (struct pollfd){.fd = c->in_fd, .events = POLLOUT};
			owner[n++] = c;
		}
	}
	return n;
}

static void channel_pump_output(struct net_channel *c, int fd, bool is_stderr)
{
	uint32_t window = ssh_channel_window_size(c->channel);
	if (window == 0)
		return;
	char buf[OUTPUT_CHUNK];
	size_t want = window < sizeof(buf) ? window : sizeof(buf);
	ssize_t n = read(fd, buf, want);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* EOF, or EIO from a terminal whose last slave closed. */
		if (is_stderr)
			c->err_eof = true;
		else
			c->out_eof = true;
		return;
	}
	c->net->activity = true;
	if (c->record && c->pty)
		channel_record(c, 'o', buf, (size_t)n);
	if (is_stderr)
		ssh_channel_write_stderr(c->channel, buf, (uint32_t)n);
	else
		ssh_channel_write(c->channel, buf, (uint32_t)n);
}

/* Before the exit status goes out: whatever the program wrote and nobody has read yet
 * (bounded; the pipes are non-blocking). */
static void channel_drain_output(struct net_channel *c)
{
	for (int i = 0; i < 256 && !c->out_eof && ssh_channel_window_size(c->channel) > 0; i++) {
		struct pollfd p = {.fd = c->out_fd, .events = POLLIN};
		if (poll(&p, 1, 0) <= 0)
			break;
		channel_pump_output(c, c->out_fd, false);
	}
	for (int i = 0;
	     i < 256 && c->err_fd >= 0 && !c->err_eof && ssh_channel_window_size(c->channel) > 0;
	     i++) {
		struct pollfd p = {.fd = c->err_fd, .events = POLLIN};
		if (poll(&p, 1, 0) <= 0)
			break;
		channel_pump_output(c, c->err_fd, true);
	}
}

/* Bytes libssh kept because the buffer was full are pulled once there is room again. */
static void channel_refill_stdin(struct net_channel *c)
{
	char buf[OUTPUT_CHUNK];
	while (c->in_fd >= 0 && c->stdin_buf.len < STDIN_BUFFER_MAX / 2) {
		int n = ssh_channel_read_nonblocking(c->channel, buf, sizeof(buf), 0);
		if (n <= 0)
			break;
		channel_buffer_append(c, buf, (size_t)n);
		channel_flush_stdin(c);
	}
}

static void channel_release(struct net_channel *c)
{
	if (c->in_fd >= 0)
		close(c->in_fd);
	if (c->out_fd >= 0 && c->out_fd != c->in_fd)
		close(c->out_fd);
	if (c->err_fd >= 0)
		close(c->err_fd);
	free(c->stdin_buf.data);
	for (size_t i = 0; i < c->n_env; i++)
		free(c->env[i]);
	ssh_channel_free(c->channel);
	*c = (struct net_channel){0};
}

static void channel_report_exit(struct net_channel *c)
{
	if (c->exit_by_signal)
		ssh_channel_request_send_exit_signal(c->channel, signal_to_name((int)c->exit_code),
						     0, "", "");
	else
		ssh_channel_request_send_exit_status(c->channel, (int)c->exit_code);
	ssh_channel_send_eof(c->channel);
	ssh_channel_close(c->channel);
	c->reported = true;
}

void net_channels_service(struct net_child *net, struct pollfd *pfd, void **owner, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct net_channel *c = owner[i];
		if (!c || !pfd[i].revents)
			continue;
		if (pfd[i].revents & POLLOUT)
			channel_flush_stdin(c);
		if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) {
			if (pfd[i].fd == c->out_fd && !c->out_eof)
				channel_pump_output(c, c->out_fd, false);
			else if (pfd[i].fd == c->err_fd && !c->err_eof)
				channel_pump_output(c, c->err_fd, true);
		}
	}
	time_t now = time(NULL);
	for (size_t i = 0; i < NET_MAX_CHANNELS; i++) {
		struct net_channel *c = &net->channels[i];
		if (!c->used)
			continue;
		if (c->refused && !c->reported) {
			channel_stderr_line(c, c->refusal);
			c->exit_code = 1;
			channel_report_exit(c);
		}
		if (c->spawned && !c->reported)
			channel_refill_stdin(c);
		if (c->spawned && c->exited && !c->reported &&
		    ((c->out_eof && c->err_eof) || now - c->exit_time > EXIT_DRAIN_SECONDS)) {
			channel_drain_output(c);
			channel_report_exit(c);
		}
		if (c->closed && (!c->spawned || c->exited))
			channel_release(c);
	}
}
