// chain: the wake path's shape with nothing of ours in it, for Benchmarks/wake-breakdown.sh.
//
//   chain 3   a "sealer" sends 16 bytes to a "relay" waiting in epoll_wait, which forwards them to a
//             "waiter" waiting in poll and answers the sealer: the two hops of a seal -> wake, three
//             processes, each asleep before its message (the sealer pauses 200-600 us, as plasma-bench's
//             wake rows do). Timed from the sealer's clock read to the waiter's.
//   chain 2   two processes, the same pauses, each hop of a round trip timed one way and summed: the
//             wake rows' after-idle limit (plasma-bench's uds-round-trip-after-idle).
//
// Prints the p50 and p90 in microseconds. Pauses come from a fixed seed, so runs are comparable.
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void nonblocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

// Our clients wait in poll on a nonblocking socket, then read (after a first read finds nothing); these
// wait in poll, then read.
static void receive(int fd, uint64_t message[2]) {
    struct pollfd p = {fd, POLLIN, 0};
    while (poll(&p, 1, -1) != 1) {}
    if (read(fd, message, 16) != 16) exit(1);
}

static void send16(int fd, const uint64_t message[2]) {
    if (write(fd, message, 16) != 16) exit(1);
}

static void pause_before_sending(void) { usleep(200 + (useconds_t)(rand() % 400)); }

// Answers `rounds` stamped messages on `fd`, recording each one's one-way time in `latency`; with
// `second_hop`, pauses and stamps the answer first (the round trip's way back, timed by the sender).
static void answer_stamped(int fd, int rounds, uint64_t *latency, int second_hop) {
    nonblocking(fd);
    for (int i = 0; i < rounds; i++) {
        uint64_t message[2];
        receive(fd, message);
        latency[i] = now() - message[0];
        if (second_hop) {
            pause_before_sending();
            message[0] = now();
        }
        send16(fd, message);
    }
}

// Sends `rounds` stamped messages on `fd`, each after a pause, and waits for `answers` answers to each;
// with `latency`, adds the (one) answer's one-way time to what the other side recorded.
static void send_stamped(int fd, int rounds, int answers, uint64_t *latency) {
    nonblocking(fd);
    for (int i = 0; i < rounds; i++) {
        pause_before_sending();
        uint64_t message[2] = {now(), (uint64_t)i};
        send16(fd, message);
        for (int a = 0; a < answers; a++) receive(fd, message);
        // The other side wrote its hop before it paused, so before this hop began.
        if (latency) latency[i] += now() - message[0];
    }
}

static int ascending(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void relay(int from_sealer, int to_waiter) {
    int epoll = epoll_create1(0);
    struct epoll_event interest = {.events = EPOLLIN, .data.fd = from_sealer};
    epoll_ctl(epoll, EPOLL_CTL_ADD, from_sealer, &interest);
    interest.data.fd = to_waiter;
    epoll_ctl(epoll, EPOLL_CTL_ADD, to_waiter, &interest);
    nonblocking(from_sealer);
    nonblocking(to_waiter);
    for (;;) {
        struct epoll_event ready[4];
        int count = epoll_wait(epoll, ready, 4, -1);
        for (int i = 0; i < count; i++) {
            uint64_t message[2];
            if (read(ready[i].data.fd, message, 16) != 16) _exit(0);
            if (ready[i].data.fd == from_sealer) {
                send16(to_waiter, message);  // the waiter's answer first, as the store writes it
                send16(from_sealer, message);
            } else {
                send16(from_sealer, message);  // the waiter is done: tell the sealer
            }
        }
    }
}

int main(int argc, char **argv) {
    int rounds = argc > 2 ? atoi(argv[2]) : 2000;
    int processes = argc > 1 ? atoi(argv[1]) : 3;
    if (rounds < 10 || (processes != 2 && processes != 3)) {
        fprintf(stderr, "usage: chain 2|3 [rounds >= 10]\n");
        return 2;
    }
    uint64_t *latency = mmap(NULL, (size_t)rounds * 8, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (latency == MAP_FAILED) return 1;
    int sealer_relay[2], relay_waiter[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sealer_relay) || socketpair(AF_UNIX, SOCK_STREAM, 0, relay_waiter))
        return 1;
    srand(42);
    pid_t helper = fork();
    if (helper < 0) return 1;
    if (processes == 3) {
        if (helper == 0) relay(sealer_relay[1], relay_waiter[0]);
        pid_t waiter = fork();
        if (waiter < 0) {
            kill(helper, SIGKILL);
            return 1;
        }
        if (waiter == 0) {
            answer_stamped(relay_waiter[1], rounds, latency, 0);
            _exit(0);
        }
        send_stamped(sealer_relay[0], rounds, 2, NULL);  // the relay's answer, then the waiter's (forwarded)
        waitpid(waiter, NULL, 0);
    } else {
        if (helper == 0) {
            answer_stamped(sealer_relay[1], rounds, latency, 1);
            _exit(0);
        }
        send_stamped(sealer_relay[0], rounds, 1, latency);
    }
    kill(helper, SIGKILL);
    waitpid(helper, NULL, 0);
    qsort(latency, (size_t)rounds, 8, ascending);
    printf("%s p50 %.1f us p90 %.1f us (%d rounds)\n",
           processes == 3 ? "three-process chain (sealer -> relay in epoll -> waiter in poll)"
                          : "round trip after idle (two hops, each timed one way)",
           latency[rounds / 2] / 1e3, latency[rounds * 9 / 10] / 1e3, rounds);
    return 0;
}
