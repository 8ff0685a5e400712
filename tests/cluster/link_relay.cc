// link_relay: a userspace "cable" between two TAP devices in two network namespaces, used by the
// emulated cluster (tests/cluster/cluster.sh) because this kernel has no sch_netem.
//
//   link_relay NS_A DEV_A NS_B DEV_B DELAY_US [RATE_MBIT [LOSS_PCT]]
//
// Every Ethernet frame read from one side is written to the other after serialization at
// RATE_MBIT (per direction, FIFO; 0 = unlimited) plus a fixed one-way DELAY_US, or dropped with
// probability LOSS_PCT / 100 (fixed seed, reproducible), or dropped when the backlog exceeds 50 ms
// (tail drop, like a switch buffer). Control by signal: SIGUSR1 cuts the cable (every frame is
// dropped, the devices keep their carrier, so TCP sees silence, not an error), SIGUSR2 reconnects,
// SIGTERM/SIGINT print per-direction statistics and exit. The devices must exist (`ip tuntap add
// mode tap`); the relay attaches to them with TUNSETIFF and writes "ready" on stdout.
//
// Delay/rate model: the classic store-and-forward link, departure = max(now, last departure) +
// size / rate, arrival = departure + propagation delay (Kurose & Ross, "Computer Networking",
// ch. 1.4: transmission vs propagation delay).
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <random>
#include <string>
#include <vector>

namespace {

volatile std::sig_atomic_t g_cut = 0;  // the one mutable global: set by signal handlers
volatile std::sig_atomic_t g_stop = 0;

extern "C" void on_cut(int) { g_cut = 1; }
extern "C" void on_reconnect(int) { g_cut = 0; }
extern "C" void on_stop(int) { g_stop = 1; }

uint64_t now_ns() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<uint64_t>(t.tv_sec) * 1000000000ull + static_cast<uint64_t>(t.tv_nsec);
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "link_relay: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(1);
}

// Opens TAP device `dev` of network namespace `ns` (the fd stays bound to that namespace).
int open_tap_in(const std::string& ns, const std::string& dev) {
  const std::string path = "/var/run/netns/" + ns;
  const int nsfd = open(path.c_str(), O_RDONLY);
  if (nsfd < 0 || setns(nsfd, CLONE_NEWNET) < 0) die(path);
  close(nsfd);
  const int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK);
  if (fd < 0) die("/dev/net/tun");
  ifreq ifr{};
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  std::strncpy(ifr.ifr_name, dev.c_str(), IFNAMSIZ - 1);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) die("TUNSETIFF " + ns + "/" + dev);
  return fd;
}

struct Frame {
  uint64_t due_ns;
  std::vector<unsigned char> bytes;
};

struct Direction {
  std::deque<Frame> queue;
  uint64_t last_departure_ns = 0;
  uint64_t forwarded = 0, bytes = 0, dropped_cut = 0, dropped_loss = 0, dropped_queue = 0;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 6) {
    std::fprintf(stderr, "usage: %s NS_A DEV_A NS_B DEV_B DELAY_US [RATE_MBIT [LOSS_PCT]]\n",
                 argv[0]);
    return 2;
  }
  const int home = open("/proc/self/ns/net", O_RDONLY);
  const int fd[2] = {open_tap_in(argv[1], argv[2]), open_tap_in(argv[3], argv[4])};
  if (home >= 0) {
    setns(home, CLONE_NEWNET);
    close(home);
  }
  const uint64_t delay_ns = static_cast<uint64_t>(std::atof(argv[5]) * 1e3);
  const double rate_bps = argc > 6 ? std::atof(argv[6]) * 1e6 : 0.0;
  const double loss = argc > 7 ? std::atof(argv[7]) / 100.0 : 0.0;
  const uint64_t max_backlog_ns = 50'000'000;
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);  // wake-ups within microseconds of the due time
  std::signal(SIGUSR1, on_cut);
  std::signal(SIGUSR2, on_reconnect);
  std::signal(SIGTERM, on_stop);
  std::signal(SIGINT, on_stop);
  std::mt19937_64 rng(12345);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);

  Direction dir[2];  // dir[d]: frames read from fd[d], written to fd[1 - d]
  std::vector<unsigned char> buf(70000);
  std::printf("ready pid %d delay %.1f us rate %.0f Mbit/s loss %.2f%%\n",
              static_cast<int>(getpid()), delay_ns / 1e3, rate_bps / 1e6, loss * 100);
  std::fflush(stdout);

  bool was_cut = false;
  uint64_t dropped_at_cut = 0;
  while (!g_stop) {
    // Report each cut when it ends, so a test can prove that the cut dropped live traffic.
    const bool cut_now = g_cut != 0;
    const uint64_t dropped = dir[0].dropped_cut + dir[1].dropped_cut;
    if (cut_now && !was_cut) dropped_at_cut = dropped;
    if (!cut_now && was_cut) {
      std::printf("reconnected: %lu frames dropped during the cut\n",
                  static_cast<unsigned long>(dropped - dropped_at_cut));
      std::fflush(stdout);
    }
    was_cut = cut_now;
    const uint64_t t = now_ns();
    int64_t wait_ns = -1;
    for (int d = 0; d < 2; ++d) {
      Direction& q = dir[d];
      while (!q.queue.empty()) {
        Frame& f = q.queue.front();
        if (f.due_ns > t) {
          const int64_t w = static_cast<int64_t>(f.due_ns - t);
          if (wait_ns < 0 || w < wait_ns) wait_ns = w;
          break;
        }
        if (g_cut) {
          ++q.dropped_cut;
        } else if (write(fd[1 - d], f.bytes.data(), f.bytes.size()) >= 0) {
          ++q.forwarded;
          q.bytes += f.bytes.size();
        }
        q.queue.pop_front();
      }
    }
    pollfd pfd[2] = {{fd[0], POLLIN, 0}, {fd[1], POLLIN, 0}};
    timespec ts{};
    timespec* tsp = nullptr;
    if (wait_ns >= 0) {
      ts.tv_sec = wait_ns / 1000000000;
      ts.tv_nsec = wait_ns % 1000000000;
      tsp = &ts;
    }
    if (ppoll(pfd, 2, tsp, nullptr) < 0) {
      if (errno == EINTR) continue;
      die("ppoll");
    }
    for (int d = 0; d < 2; ++d) {
      if (!(pfd[d].revents & POLLIN)) continue;
      for (int k = 0; k < 256; ++k) {
        const ssize_t n = read(fd[d], buf.data(), buf.size());
        if (n <= 0) break;
        Direction& q = dir[d];
        const uint64_t tn = now_ns();
        if (g_cut) {
          ++q.dropped_cut;
          continue;
        }
        if (loss > 0 && uniform(rng) < loss) {
          ++q.dropped_loss;
          continue;
        }
        const uint64_t start = q.last_departure_ns > tn ? q.last_departure_ns : tn;
        if (start - tn > max_backlog_ns) {
          ++q.dropped_queue;
          continue;
        }
        const uint64_t departure =
            start + (rate_bps > 0 ? static_cast<uint64_t>(n * 8.0 * 1e9 / rate_bps) : 0);
        q.last_departure_ns = departure;
        q.queue.push_back(
            {departure + delay_ns, std::vector<unsigned char>(buf.begin(), buf.begin() + n)});
      }
    }
  }
  for (int d = 0; d < 2; ++d) {
    std::fprintf(
        stderr,
        "link_relay %s->%s: forwarded %lu frames %lu bytes, dropped cut %lu loss %lu "
        "queue %lu\n",
        argv[d == 0 ? 1 : 3], argv[d == 0 ? 3 : 1], static_cast<unsigned long>(dir[d].forwarded),
        static_cast<unsigned long>(dir[d].bytes), static_cast<unsigned long>(dir[d].dropped_cut),
        static_cast<unsigned long>(dir[d].dropped_loss),
        static_cast<unsigned long>(dir[d].dropped_queue));
  }
  return 0;
}
