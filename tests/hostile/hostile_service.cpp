// A deliberately hostile service for the mediation suite (SPEC §6, §9 "Safe"). Each subcommand
// is one attack; it prints `result=<errno name or ok> ...` lines the tests check, and exits 0
// when it could run the attack at all (whatever the outcome), 2 on usage errors.
#include <fcntl.h>
#include <mqueue.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "platform/proc_status.hpp"

namespace {

const char* errno_name(int error) {
  switch (error) {
    case 0:
      return "ok";
    case EACCES:
      return "EACCES";
    case EPERM:
      return "EPERM";
    case EINVAL:
      return "EINVAL";
    case ENOENT:
      return "ENOENT";
    case EEXIST:
      return "EEXIST";
    case ENAMETOOLONG:
      return "ENAMETOOLONG";
    case ENOSYS:
      return "ENOSYS";
    case EMFILE:
      return "EMFILE";
    case ENOSPC:
      return "ENOSPC";
    case EFAULT:
      return "EFAULT";
    default:
      return "other";
  }
}

int parse_flags(const std::string& text) {
  int flags = 0;
  if (text.find("O_RDWR") != std::string::npos) flags |= O_RDWR;
  if (text.find("O_WRONLY") != std::string::npos) flags |= O_WRONLY;
  if (text.find("O_CREAT") != std::string::npos) flags |= O_CREAT;
  if (text.find("O_EXCL") != std::string::npos) flags |= O_EXCL;
  return flags;
}

// The raw syscall, so glibc's own name checks (leading '/', EINVAL) do not hide the kernel's or
// the supervisor's answer: `raw_name` is passed exactly as given.
long raw_mq_open(const char* raw_name, int flags, mode_t mode, mq_attr* attributes) {
  return ::syscall(SYS_mq_open, raw_name, flags, mode, attributes);
}

int report_open(const char* what, long fd) {
  std::printf("result=%s op=%s\n", errno_name(fd < 0 ? errno : 0), what);
  if (fd >= 0) ::close(static_cast<int>(fd));
  return 0;
}

// mq_open NAME FLAGS: NAME is used as given to the syscall (no leading '/').
int attack_open(const std::string& raw_name, const std::string& flags) {
  mq_attr attributes{};
  attributes.mq_maxmsg = 2;
  attributes.mq_msgsize = 16;
  const int parsed = parse_flags(flags);
  long fd =
      raw_mq_open(raw_name.c_str(), parsed, 0600, (parsed & O_CREAT) != 0 ? &attributes : nullptr);
  return report_open("mq_open", fd);
}

int attack_unlink(const std::string& raw_name) {
  long rc = ::syscall(SYS_mq_unlink, raw_name.c_str());
  std::printf("result=%s op=mq_unlink\n", errno_name(rc < 0 ? errno : 0));
  return 0;
}

// Opens `granted` while a second thread keeps rewriting the name buffer to `secret`. The
// supervisor acts on its own copy of the name: the descriptor must never be `secret`'s queue,
// recognised by its attributes (max-messages differs).
int attack_toctou(const std::string& granted, const std::string& secret, long secret_maxmsg,
                  int rounds) {
  static char name[256];
  std::atomic<bool> stop{false};
  std::thread flipper([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      std::strncpy(name, secret.c_str(), sizeof name - 1);
      std::strncpy(name, granted.c_str(), sizeof name - 1);
    }
  });
  int secret_opened = 0;
  int opened = 0;
  int refused = 0;
  for (int i = 0; i < rounds; ++i) {
    std::strncpy(name, granted.c_str(), sizeof name - 1);
    long fd = raw_mq_open(name, O_RDONLY, 0, nullptr);
    if (fd < 0) {
      ++refused;
      continue;
    }
    ++opened;
    mq_attr attributes{};
    if (::mq_getattr(static_cast<mqd_t>(fd), &attributes) == 0 &&
        attributes.mq_maxmsg == secret_maxmsg) {
      ++secret_opened;
    }
    ::close(static_cast<int>(fd));
  }
  stop = true;
  flipper.join();
  std::printf("result=%s op=toctou opened=%d refused=%d secret=%d\n",
              secret_opened == 0 ? "ok" : "BREACH", opened, refused, secret_opened);
  return 0;
}

// THREADS threads each make CALLS mq_open calls alternating a granted and an ungranted name.
int attack_flood(const std::string& granted, const std::string& ungranted, int threads, int calls) {
  std::atomic<int> opened{0};
  std::atomic<int> refused{0};
  std::atomic<int> other{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0; i < calls; ++i) {
        const std::string& name = ((i + t) % 2 == 0) ? granted : ungranted;
        long fd = raw_mq_open(name.c_str(), O_RDONLY, 0, nullptr);
        if (fd >= 0) {
          ++opened;
          ::close(static_cast<int>(fd));
        } else if (errno == EACCES) {
          ++refused;
        } else {
          ++other;
        }
      }
    });
  }
  for (auto& worker : workers) worker.join();
  std::printf("result=ok op=flood opened=%d refused=%d other=%d\n", opened.load(), refused.load(),
              other.load());
  return 0;
}

// Threads keep making mediated mq_open calls while the process kills itself: the supervisor
// must cope with callers that vanish mid-notification (ID_VALID fails, ADDFD finds nobody).
int attack_die_pending(const std::string& raw_name) {
  for (int t = 0; t < 8; ++t) {
    std::thread([raw_name] {
      for (;;) {
        long fd = raw_mq_open(raw_name.c_str(), O_RDONLY, 0, nullptr);
        if (fd >= 0) ::close(static_cast<int>(fd));
      }
    }).detach();
  }
  ::usleep(20000);
  std::printf("result=ok op=die-pending\n");
  std::fflush(stdout);
  ::kill(::getpid(), SIGKILL);
  return 0;
}

// STEP...: each `open:NAME:FLAGS`, `unlink:NAME` or `create:NAME:MAXMSG:MSGSIZE` (O_WRONLY |
// O_CREAT, mode 0666 under the inherited umask), one `result=... op=... name=NAME` line each.
int attack_steps(const std::vector<std::string>& steps) {
  for (const auto& step : steps) {
    std::vector<std::string> parts;
    for (std::size_t at = 0;;) {
      std::size_t colon = step.find(':', at);
      parts.push_back(step.substr(at, colon == std::string::npos ? colon : colon - at));
      if (colon == std::string::npos) break;
      at = colon + 1;
    }
    long rc = -1;
    if (parts.size() == 3 && parts[0] == "open") {
      rc = raw_mq_open(parts[1].c_str(), parse_flags(parts[2]), 0, nullptr);
    } else if (parts.size() == 2 && parts[0] == "unlink") {
      rc = ::syscall(SYS_mq_unlink, parts[1].c_str());
    } else if (parts.size() == 4 && parts[0] == "create") {
      mq_attr attributes{};
      attributes.mq_maxmsg = std::atol(parts[2].c_str());
      attributes.mq_msgsize = std::atol(parts[3].c_str());
      rc = raw_mq_open(parts[1].c_str(), O_WRONLY | O_CREAT, 0666, &attributes);
    } else {
      std::printf("result=usage step=%s\n", step.c_str());
      return 2;
    }
    std::printf("result=%s op=%s name=%s\n", errno_name(rc < 0 ? errno : 0), parts[0].c_str(),
                parts[1].c_str());
    if (rc >= 0 && parts[0] != "unlink") ::close(static_cast<int>(rc));
  }
  return 0;
}

double monotonic_us() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<double>(now.tv_sec) * 1e6 + static_cast<double>(now.tv_nsec) / 1e3;
}

// Pinned with SPINNERS spinning threads to the last CPU, mq_open of NAME from a SCHED_IDLE
// thread for MS milliseconds: each call's descriptor waits long for the caller to run (a
// caller that never gets the CPU). Prints its own slowest call.
int attack_stall(const std::string& raw_name, int spinners, int milliseconds) {
  const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  cpu_set_t last;
  CPU_ZERO(&last);
  CPU_SET(cpus > 1 ? static_cast<int>(cpus - 1) : 0, &last);
  if (::sched_setaffinity(0, sizeof last, &last) != 0) {
    std::printf("result=%s op=stall step=affinity\n", errno_name(errno));
    return 0;
  }
  for (int i = 0; i < spinners; ++i) {
    std::thread([] {
      for (;;) {
      }
    }).detach();
  }
  sched_param idle{};
  if (::sched_setscheduler(0, SCHED_IDLE, &idle) != 0) {
    std::printf("result=%s op=stall step=scheduler\n", errno_name(errno));
    return 0;
  }
  const double end = monotonic_us() + milliseconds * 1000.0;
  int calls = 0;
  double slowest = 0;
  while (monotonic_us() < end) {
    const double start = monotonic_us();
    long fd = raw_mq_open(raw_name.c_str(), O_RDONLY, 0, nullptr);
    slowest = std::max(slowest, monotonic_us() - start);
    if (fd >= 0) ::close(static_cast<int>(fd));
    ++calls;
  }
  std::printf("result=ok op=stall calls=%d max_us=%.0f\n", calls, slowest);
  return 0;
}

// After DELAY_MS, CALLS mediated mq_open + close of NAME, GAP_MS apart, each timed.
int attack_latency(const std::string& raw_name, int calls, int delay_ms, int gap_ms) {
  ::usleep(static_cast<useconds_t>(delay_ms) * 1000);
  std::vector<double> latencies;
  for (int i = 0; i < calls; ++i) {
    const double start = monotonic_us();
    long fd = raw_mq_open(raw_name.c_str(), O_RDONLY, 0, nullptr);
    latencies.push_back(monotonic_us() - start);
    if (fd < 0) {
      std::printf("result=%s op=latency\n", errno_name(errno));
      return 0;
    }
    ::close(static_cast<int>(fd));
    ::usleep(static_cast<useconds_t>(gap_ms) * 1000);
  }
  std::sort(latencies.begin(), latencies.end());
  std::printf("result=ok op=latency p50_us=%.0f max_us=%.0f\n", latencies[latencies.size() / 2],
              latencies.back());
  return 0;
}

#if defined(__x86_64__)
// mq_open through the i386 ABI (`int 0x80`) from this 64-bit process: syscall 277, arguments
// in ebx, ecx, edx, esi, so the name and the attributes (in the i386 layout: eight 32-bit
// longs) must lie below 4 GiB.
int attack_open32(const std::string& raw_name, const std::string& flags) {
  constexpr long kI386MqOpen = 277;  // arch/x86/entry/syscalls/syscall_32.tbl
  void* low =
      ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
  if (low == MAP_FAILED) {
    std::printf("result=%s op=mq_open32 step=mmap\n", errno_name(errno));
    return 0;
  }
  char* name = static_cast<char*>(low);
  std::snprintf(name, 256, "%s", raw_name.c_str());
  auto* attributes = reinterpret_cast<std::int32_t*>(name + 512);
  attributes[1] = 3;   // mq_maxmsg
  attributes[2] = 24;  // mq_msgsize
  const int parsed = parse_flags(flags);
  long result = 0;
  asm volatile("int $0x80"
               : "=a"(result)
               : "a"(kI386MqOpen), "b"(name), "c"(static_cast<long>(parsed)), "d"(0600L),
                 "S"((parsed & O_CREAT) != 0 ? attributes : nullptr)
               : "memory", "r8", "r9", "r10", "r11");
  const int returned = static_cast<int>(result);
  std::printf("result=%s op=mq_open32\n", errno_name(returned < 0 ? -returned : 0));
  if (returned >= 0) ::close(returned);
  return 0;
}
#endif

// Prints the effective capability set as the kernel reports it.
int attack_capabilities() {
  auto status = ipcrt::platform::read_own_proc_status();
  auto effective = status ? ipcrt::platform::proc_status_field(*status, "CapEff") : std::nullopt;
  if (effective) {
    std::printf("result=ok op=capabilities effective=%.*s\n", static_cast<int>(effective->size()),
                effective->data());
  }
  return 0;
}

// Opens a path as a file, e.g. a queue through the mqueue filesystem, or the supervisor's
// memory ("parent-mem").
int attack_open_file(const std::string& path) {
  const std::string target =
      path == "parent-mem" ? "/proc/" + std::to_string(::getppid()) + "/mem" : path;
  int fd = ::open(target.c_str(), O_RDWR);
  std::printf("result=%s op=open-file\n", errno_name(fd < 0 ? errno : 0));
  if (fd >= 0) ::close(fd);
  return 0;
}

int usage() {
  std::fprintf(stderr,
               "usage: hostile_service open NAME FLAGS | unlink NAME |\n"
               "       toctou GRANTED SECRET SECRET_MAXMSG ROUNDS |\n"
               "       flood GRANTED UNGRANTED THREADS CALLS | die-pending NAME | idle |\n"
               "       capabilities | open-file PATH|parent-mem | steps STEP... |\n"
               "       stall NAME SPINNERS MS | latency NAME CALLS DELAY_MS GAP_MS |\n"
               "       open32 NAME FLAGS (x86_64)\n"
               "NAME is passed to the syscall as given (no leading '/').\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 3 && args[0] == "open") return attack_open(args[1], args[2]);
  if (args.size() == 2 && args[0] == "unlink") return attack_unlink(args[1]);
  if (args.size() == 5 && args[0] == "toctou") {
    return attack_toctou(args[1], args[2], std::atol(args[3].c_str()), std::atoi(args[4].c_str()));
  }
  if (args.size() == 5 && args[0] == "flood") {
    return attack_flood(args[1], args[2], std::atoi(args[3].c_str()), std::atoi(args[4].c_str()));
  }
  if (args.size() == 2 && args[0] == "die-pending") return attack_die_pending(args[1]);
  if (args.size() == 1 && args[0] == "idle") return 0;  // stands in for a slot's owner
  if (args.size() == 1 && args[0] == "capabilities") return attack_capabilities();
  if (args.size() == 2 && args[0] == "open-file") return attack_open_file(args[1]);
  if (args.size() >= 2 && args[0] == "steps") return attack_steps({args.begin() + 1, args.end()});
  if (args.size() == 4 && args[0] == "stall") {
    return attack_stall(args[1], std::atoi(args[2].c_str()), std::atoi(args[3].c_str()));
  }
  if (args.size() == 5 && args[0] == "latency") {
    return attack_latency(args[1], std::atoi(args[2].c_str()), std::atoi(args[3].c_str()),
                          std::atoi(args[4].c_str()));
  }
#if defined(__x86_64__)
  if (args.size() == 3 && args[0] == "open32") return attack_open32(args[1], args[2]);
#endif
  return usage();
}
