// stamps.so: an LD_PRELOAD shim that stamps the syscalls of a seal -> wake path with CLOCK_MONOTONIC,
// for Benchmarks/wake-breakdown.sh. perf's syscall tracing stretches every step of a 50 us path several
// microseconds each, and this VM has no PMU to sample user time; a stamp here costs one vDSO clock read
// and a 32-byte store (the thread id is cached), so user-space stretches between syscalls can be timed
// as they run.
//
// Each process writes its records to $STAMPS_DIR/stamps.<pid>, a file mapped MAP_SHARED, so nothing is
// lost when the benchmark ends its processes with a signal. The records hold no payload, only sizes.
// Without STAMPS_DIR, or when the file can't be made, the shim says so once and stamps nothing.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

// The record's layout is read by breakdown.py (struct "<QiiqiI").
struct stamp { uint64_t nanoseconds; int32_t event, descriptor; int64_t size; int32_t thread, unused; };

// The events breakdown.py reads (its EPOLL, READ, SEND, POLL, RECVMSG, CLOCK).
enum event {
    epoll_returned = 1, read_returned = 2, send_entered = 3, poll_returned = 4,
    recvmsg_returned = 5, clock_returned = 6,
};

static const uint64_t capacity = 1u << 20;
static struct stamp *stamps;
static uint64_t *count;
static __thread int32_t thread_id;
static int (*real_clock_gettime)(clockid_t, struct timespec *);

static uint64_t now(void) {
    struct timespec t;
    real_clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

// Maps this process's file; on any failure says so and leaves `stamps` null (nothing is stamped).
static void open_file(void) {
    stamps = NULL;
    count = NULL;
    const char *dir = getenv("STAMPS_DIR");
    if (!dir) {
        fprintf(stderr, "stamps.so: STAMPS_DIR is not set; stamping nothing\n");
        return;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/stamps.%d", dir, getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    size_t length = sizeof(uint64_t) + capacity * sizeof(struct stamp);
    void *memory = MAP_FAILED;
    if (fd >= 0 && ftruncate(fd, (off_t)length) == 0)
        memory = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (fd >= 0) close(fd);
    if (memory == MAP_FAILED) {
        fprintf(stderr, "stamps.so: can't map %s; stamping nothing\n", path);
        return;
    }
    count = memory;
    stamps = (struct stamp *)((char *)memory + sizeof(uint64_t));
}

// A forked child (one that doesn't exec) gets a file of its own rather than writing into its parent's.
static void after_fork_in_child(void) {
    thread_id = 0;
    open_file();
}

// Everything is set up before main, so no wrapper initialises anything (not in a signal handler, not
// on two threads at once).
static void resolve_all(void);
__attribute__((constructor)) static void set_up(void) {
    real_clock_gettime = (__typeof__(real_clock_gettime))dlsym(RTLD_NEXT, "clock_gettime");
    resolve_all();
    open_file();
    pthread_atfork(NULL, NULL, after_fork_in_child);
}

// Keeps errno: a wrapper stamps after the real call, whose caller may read errno next.
static void stamp(int event, int descriptor, int64_t size) {
    if (!stamps) return;
    int saved = errno;
    if (!thread_id) thread_id = (int32_t)syscall(SYS_gettid);
    uint64_t index = __atomic_fetch_add(count, 1, __ATOMIC_RELAXED);
    if (index < capacity) stamps[index] = (struct stamp){now(), event, descriptor, size, thread_id, 0};
    errno = saved;
}

// The wrapped functions themselves, found past this library by set_up (or by the first call, should
// another library's constructor call one before ours ran).
#define WRAPPED(X) X(epoll_wait) X(read) X(send) X(sendto) X(sendmsg) X(poll) X(recvmsg)
#define DECLARE(name) static __typeof__(&name) real_##name;
WRAPPED(DECLARE)
#define RESOLVE(name) real_##name = (__typeof__(&name))dlsym(RTLD_NEXT, #name);
#define REAL(name) if (!real_##name) RESOLVE(name)
static void resolve_all(void) { WRAPPED(RESOLVE) }

int epoll_wait(int epoll, struct epoll_event *events, int maximum, int timeout) {
    REAL(epoll_wait);
    int ready = real_epoll_wait(epoll, events, maximum, timeout);
    stamp(epoll_returned, epoll, ready);
    return ready;
}

ssize_t read(int fd, void *buffer, size_t length) {
    REAL(read);
    ssize_t got = real_read(fd, buffer, length);
    stamp(read_returned, fd, got);
    return got;
}

ssize_t send(int fd, const void *buffer, size_t length, int flags) {
    REAL(send);
    stamp(send_entered, fd, (int64_t)length);
    return real_send(fd, buffer, length, flags);
}

ssize_t sendto(int fd, const void *buffer, size_t length, int flags, const struct sockaddr *to, socklen_t size) {
    REAL(sendto);
    stamp(send_entered, fd, (int64_t)length);
    return real_sendto(fd, buffer, length, flags, to, size);
}

ssize_t sendmsg(int fd, const struct msghdr *message, int flags) {
    REAL(sendmsg);
    size_t length = 0;
    for (size_t i = 0; i < message->msg_iovlen; i++) length += message->msg_iov[i].iov_len;
    stamp(send_entered, fd, (int64_t)length);
    return real_sendmsg(fd, message, flags);
}

int poll(struct pollfd *fds, nfds_t count_of_fds, int timeout) {
    REAL(poll);
    int ready = real_poll(fds, count_of_fds, timeout);
    stamp(poll_returned, count_of_fds ? fds[0].fd : -1, ready);
    return ready;
}

ssize_t recvmsg(int fd, struct msghdr *message, int flags) {
    REAL(recvmsg);
    ssize_t got = real_recvmsg(fd, message, flags);
    stamp(recvmsg_returned, fd, got);
    return got;
}


// The benchmark's processes read the clock through glibc, so the waiter's stamp of its wake is seen here.
int clock_gettime(clockid_t clock, struct timespec *time) {
    if (!real_clock_gettime) real_clock_gettime = (__typeof__(real_clock_gettime))dlsym(RTLD_NEXT, "clock_gettime");
    int result = real_clock_gettime(clock, time);
    stamp(clock_returned, (int)clock, 0);
    return result;
}
