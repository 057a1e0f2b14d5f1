// stamps.so: an LD_PRELOAD shim that stamps the syscalls of a seal -> wake path with CLOCK_MONOTONIC,
// for Benchmarks/wake-breakdown.sh. perf's syscall tracing stretches every step of a 50 us path several
// microseconds each, and this VM has no PMU to sample user time; a stamp here costs one vDSO clock read
// and a 32-byte store (~50 ns), so user-space stretches between syscalls can be timed as they run.
//
// Each process writes its records to $STAMPS_DIR/stamps.<pid>, a file mapped MAP_SHARED, so nothing is
// lost when the benchmark ends its processes with a signal. The records hold no payload, only sizes.
#define _GNU_SOURCE
#include <dlfcn.h>
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

enum event {
    epoll_returned = 1, read_returned = 2, send_entered = 3, poll_returned = 4,
    recvmsg_returned = 5, clock_returned = 6, write_entered = 7, send_returned = 9,
};

static const uint64_t capacity = 1u << 20;
static struct stamp *stamps;
static uint64_t *count;
static int (*real_clock_gettime)(clockid_t, struct timespec *);

static uint64_t now(void) {
    if (!real_clock_gettime) real_clock_gettime = dlsym(RTLD_NEXT, "clock_gettime");
    struct timespec t;
    real_clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void open_file(void) {
    const char *dir = getenv("STAMPS_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/stamps.%d", dir ? dir : "/tmp", getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    size_t length = sizeof(uint64_t) + capacity * sizeof(struct stamp);
    if (fd < 0 || ftruncate(fd, (off_t)length) != 0) abort();
    void *memory = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (memory == MAP_FAILED) abort();
    close(fd);
    count = memory;
    stamps = (struct stamp *)((char *)memory + sizeof(uint64_t));
}

static void stamp(int event, int descriptor, int64_t size) {
    if (!stamps) open_file();
    uint64_t index = __atomic_fetch_add(count, 1, __ATOMIC_RELAXED);
    if (index < capacity)
        stamps[index] = (struct stamp){now(), event, descriptor, size, (int32_t)syscall(SYS_gettid), 0};
}

// The wrapped function itself, found past this library.
#define REAL(name) static __typeof__(&name) real; if (!real) real = (__typeof__(&name))dlsym(RTLD_NEXT, #name)

int epoll_wait(int epoll, struct epoll_event *events, int maximum, int timeout) {
    REAL(epoll_wait);
    int ready = real(epoll, events, maximum, timeout);
    stamp(epoll_returned, epoll, ready);
    return ready;
}

ssize_t read(int fd, void *buffer, size_t length) {
    REAL(read);
    ssize_t got = real(fd, buffer, length);
    stamp(read_returned, fd, got);
    return got;
}

ssize_t send(int fd, const void *buffer, size_t length, int flags) {
    REAL(send);
    stamp(send_entered, fd, (int64_t)length);
    ssize_t sent = real(fd, buffer, length, flags);
    stamp(send_returned, fd, sent);
    return sent;
}

ssize_t sendto(int fd, const void *buffer, size_t length, int flags, const struct sockaddr *to, socklen_t size) {
    REAL(sendto);
    stamp(send_entered, fd, (int64_t)length);
    ssize_t sent = real(fd, buffer, length, flags, to, size);
    stamp(send_returned, fd, sent);
    return sent;
}

ssize_t sendmsg(int fd, const struct msghdr *message, int flags) {
    REAL(sendmsg);
    size_t length = 0;
    for (size_t i = 0; i < message->msg_iovlen; i++) length += message->msg_iov[i].iov_len;
    stamp(send_entered, fd, (int64_t)length);
    ssize_t sent = real(fd, message, flags);
    stamp(send_returned, fd, sent);
    return sent;
}

int poll(struct pollfd *fds, nfds_t count_of_fds, int timeout) {
    REAL(poll);
    int ready = real(fds, count_of_fds, timeout);
    stamp(poll_returned, count_of_fds ? fds[0].fd : -1, ready);
    return ready;
}

ssize_t recvmsg(int fd, struct msghdr *message, int flags) {
    REAL(recvmsg);
    ssize_t got = real(fd, message, flags);
    stamp(recvmsg_returned, fd, got);
    return got;
}

ssize_t write(int fd, const void *buffer, size_t length) {
    REAL(write);
    stamp(write_entered, fd, (int64_t)length);
    return real(fd, buffer, length);
}

// The benchmark's processes read the clock through glibc, so the waiter's stamp of its wake is seen here.
int clock_gettime(clockid_t clock, struct timespec *time) {
    if (!real_clock_gettime) real_clock_gettime = dlsym(RTLD_NEXT, "clock_gettime");
    int result = real_clock_gettime(clock, time);
    if (stamps) stamp(clock_returned, (int)clock, 0);
    return result;
}
