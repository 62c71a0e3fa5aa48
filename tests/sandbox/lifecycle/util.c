/* util.c: small helpers of the sandbox's lifecycle half: paths, atomic files, pid files, process
 * liveness and stopping, free ports, time, UUIDs, argument parsing, detached daemons. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rekey/fsutil.h"
#include "sandbox.h"

char *lc_path(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *out = NULL;
	int n = vasprintf(&out, fmt, ap);
	va_end(ap);
	if (n < 0) {
		fprintf(stderr, "rekey-sandbox: out of memory\n");
		abort();
	}
	return out;
}

int lc_write_file(const char *path, const void *data, size_t len, unsigned mode, rk_err *err)
{
	char *tmp = lc_path("%s.tmp.%ld", path, (long)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t)mode);
	if (fd < 0) {
		rk_err_set(err, RK_FAIL, "%s: %s", tmp, strerror(errno));
		free(tmp);
		return RK_FAIL;
	}
	int bad = fchmod(fd, (mode_t)mode) || rk_write_all(fd, data, len) || fsync(fd);
	bad = close(fd) || bad;
	if (bad || rename(tmp, path)) {
		rk_err_set(err, RK_FAIL, "%s: %s", path, strerror(errno));
		unlink(tmp);
		free(tmp);
		return RK_FAIL;
	}
	free(tmp);
	return RK_OK;
}

int lc_write_text(const char *path, const char *text, unsigned mode, rk_err *err)
{
	return lc_write_file(path, text, strlen(text), mode, err);
}

char *lc_read_text(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 4096, n = 0;
	char *data = malloc(cap);
	if (!data) {
		fclose(f);
		return NULL;
	}
	for (;;) {
		if (n + 1 >= cap) {
			char *bigger = realloc(data, cap *= 2);
			if (!bigger) {
				free(data);
				fclose(f);
				return NULL;
			}
			data = bigger;
		}
		size_t got = fread(data + n, 1, cap - n - 1, f);
		if (got == 0)
			break;
		n += got;
	}
	fclose(f);
	data[n] = '\0';
	if (len)
		*len = n;
	return data;
}

int lc_mkdirs(const char *path, rk_err *err)
{
	return rk_mkdir_p(path, 0700, err);
}

pid_t lc_read_pid(const char *path)
{
	char *text = lc_read_text(path, NULL);
	if (!text)
		return 0;
	long pid = strtol(text, NULL, 10);
	free(text);
	return pid > 0 && pid < INT_MAX ? (pid_t)pid : 0;
}

/* The process state letter from /proc/PID/stat ('Z' zombie), 0 when gone. */
static char proc_state(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	char *stat = lc_read_text(path, NULL);
	if (!stat)
		return 0;
	const char *close_paren = strrchr(stat, ')');
	char state = close_paren && close_paren[1] == ' ' ? close_paren[2] : 0;
	free(stat);
	return state;
}

static int cmdline_contains(pid_t pid, const char *marker)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%ld/cmdline", (long)pid);
	size_t len = 0;
	char *cmd = lc_read_text(path, &len);
	if (!cmd)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (cmd[i] == '\0')
			cmd[i] = ' ';
	int found = !marker || strstr(cmd, marker) != NULL;
	free(cmd);
	return found;
}

int lc_pid_alive(pid_t pid, const char *marker)
{
	if (pid <= 0)
		return 0;
	char state = proc_state(pid);
	if (!state || state == 'Z' || state == 'X')
		return 0;
	return cmdline_contains(pid, marker);
}

static int wait_gone(pid_t pid, double timeout)
{
	double deadline = lc_now() + timeout;
	do {
		waitpid(pid, NULL, WNOHANG); /* reaps it when it is our child; harmless otherwise */
		char state = proc_state(pid);
		if (!state || state == 'Z' || state == 'X')
			return 1;
		lc_sleep_ms(20);
	} while (lc_now() < deadline);
	return 0;
}

int lc_stop_pid(pid_t pid, const char *marker, double timeout)
{
	if (!lc_pid_alive(pid, marker))
		return 0;
	kill(pid, SIGTERM);
	if (wait_gone(pid, timeout))
		return 0;
	kill(pid, SIGKILL);
	return wait_gone(pid, 5) ? 0 : -1;
}

/* 1 when `port` (0 = any) can be bound on 127.0.0.1; *bound gets the port the kernel gave. */
static int try_bind(int port, int *bound)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	struct sockaddr_in addr = {.sin_family = AF_INET,
	                           .sin_port = htons((uint16_t)port),
	                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof addr;
	int ok = !bind(fd, (struct sockaddr *)&addr, sizeof addr) &&
	         !getsockname(fd, (struct sockaddr *)&addr, &alen);
	*bound = ntohs(addr.sin_port);
	close(fd);
	return ok;
}

/* The first port of the kernel's ephemeral (source port) range. */
static int ephemeral_low(void)
{
	char *text = lc_read_text("/proc/sys/net/ipv4/ip_local_port_range", NULL);
	long low = text ? strtol(text, NULL, 10) : 0;
	free(text);
	return low > 1024 && low <= 65535 ? (int)low : 32768;
}

/* Ports are taken below the ephemeral range when possible: a listening port the sandbox keeps for its
 * whole life (an apiserver restarts on it) cannot then be taken as some connection's source port. */
int lc_free_port(void)
{
	int low = ephemeral_low(), bound = -1;
	unsigned char r[2];
	for (int tries = 0; low > 12000 && tries < 64; tries++) {
		RAND_bytes(r, sizeof r);
		int port = 10000 + (int)(((unsigned)r[0] << 8 | r[1]) % (unsigned)(low - 10000));
		if (try_bind(port, &bound))
			return bound;
	}
	return try_bind(0, &bound) ? bound : -1;
}

double lc_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void lc_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

void lc_rfc3339(char out[32])
{
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void lc_uuid(char out[37])
{
	unsigned char b[16];
	if (RAND_bytes(b, sizeof b) != 1)
		abort();
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
	         b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

int lc_abs_dir(const char *dir, char out[4096], rk_err *err)
{
	if (!dir || !*dir)
		return rk_err_set(err, RK_BADINPUT, "--dir is required");
	if (dir[0] == '/') {
		snprintf(out, 4096, "%s", dir);
	} else {
		char cwd[PATH_MAX];
		if (!getcwd(cwd, sizeof cwd))
			return rk_err_set(err, RK_FAIL, "getcwd: %s", strerror(errno));
		if (snprintf(out, 4096, "%s/%s", cwd, dir) >= 4096)
			return rk_err_set(err, RK_BADINPUT, "--dir: path too long");
	}
	size_t n = strlen(out);
	while (n > 1 && out[n - 1] == '/')
		out[--n] = '\0';
	return RK_OK;
}

const char *lc_self_exe(void)
{
	static char exe[PATH_MAX];
	if (!exe[0]) {
		ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
		exe[n > 0 ? n : 0] = '\0';
	}
	return exe;
}

static void redirect_stdio(const char *log_path)
{
	int in = open("/dev/null", O_RDONLY);
	int out = open(log_path ? log_path : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0600);
	if (in >= 0)
		dup2(in, 0);
	if (out >= 0) {
		dup2(out, 1);
		dup2(out, 2);
	}
	if (in > 2)
		close(in);
	if (out > 2)
		close(out);
}

pid_t lc_spawn_daemon(char *const argv[], const char *log_path)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC))
		return -1;
	pid_t first = fork();
	if (first < 0)
		return -1;
	if (first == 0) {
		close(fds[0]);
		setsid();
		pid_t second = fork();
		if (second != 0) {
			long pid = second;
			ssize_t w = write(fds[1], &pid, sizeof pid);
			_exit(w == (ssize_t)sizeof pid ? 0 : 1);
		}
		redirect_stdio(log_path);
		execv(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	long pid = -1;
	ssize_t got = read(fds[0], &pid, sizeof pid);
	close(fds[0]);
	waitpid(first, NULL, 0);
	return got == (ssize_t)sizeof pid ? (pid_t)pid : -1;
}

int lc_parse_long(const char *flag, const char *text, long lo, long hi, long *out, rk_err *err)
{
	char *end = NULL;
	errno = 0;
	long v = text ? strtol(text, &end, 10) : 0;
	if (!text || !*text || *end || errno || v < lo || v > hi)
		return rk_err_set(err, RK_BADINPUT, "%s: want an integer in [%ld, %ld], got \"%s\"", flag, lo,
		                  hi, text ? text : "");
	*out = v;
	return RK_OK;
}

int lc_parse_double(const char *flag, const char *text, double lo, double hi, double *out, rk_err *err)
{
	char *end = NULL;
	errno = 0;
	double v = text ? strtod(text, &end) : 0;
	if (!text || !*text || *end || errno || !(v >= lo && v <= hi))
		return rk_err_set(err, RK_BADINPUT, "%s: want a number in [%g, %g], got \"%s\"", flag, lo, hi,
		                  text ? text : "");
	*out = v;
	return RK_OK;
}
