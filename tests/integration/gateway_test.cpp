// Gateway daemons inside the sandbox (SPEC §4a), on the real kernel: state directories kept
// across runs and a uid change, user names in the view, granted device nodes read and written
// (and invisible to others), capabilities kept as ambient ones, refused ones named.
#include <CppUTest/TestHarness.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "common/file.hpp"
#include "tests/support/background.hpp"
#include "tests/support/process.hpp"

using ipcrt::test::Background;
using ipcrt::test::TempDir;
using ipcrt::test::unique_name;

namespace {

std::string probe() {
  return IPCRT_GATEWAY_PROBE;
}

std::string json_array(const std::vector<std::string>& items) {
  std::string text = "[";
  for (std::size_t i = 0; i < items.size(); ++i) text += (i ? ", \"" : "\"") + items[i] + "\"";
  return text + "]";
}

struct Service {
  std::string name;
  std::vector<std::string> command;
  std::string extra;  // more keys of the service, with a leading comma
};

std::string manifest_of(const std::string& name, const std::vector<Service>& services) {
  std::string text = "{\"version\": 1, \"name\": \"" + name + "\", \"services\": {";
  for (std::size_t i = 0; i < services.size(); ++i) {
    text += (i ? ",\n" : "\n") + std::string("  \"") + services[i].name +
            "\": {\"command\": " + json_array(services[i].command) + services[i].extra + "}";
  }
  return text + "}}\n";
}

ipcrt::test::ProcessResult run_manifest(const TempDir& dir, const std::string& manifest) {
  return ipcrt::test::run_ipcrt({"run", dir.write_file(unique_name("m") + ".json", manifest)});
}

// The suite's state root (tests/main.cpp sets IPCRT_STATE_DIR for ipcrt and the suite).
std::string state_root() {
  const char* dir = std::getenv("IPCRT_STATE_DIR");
  return dir != nullptr ? dir : "/var/lib/ipcrt";
}

// The value of `key=` in the first line of `text` that contains `prefix`.
std::string field(const std::string& text, const std::string& prefix, const std::string& key) {
  auto line_at = text.find(prefix);
  if (line_at == std::string::npos) return "<no line " + prefix + ">";
  const std::string line = text.substr(line_at, text.find('\n', line_at) - line_at);
  auto at = line.find(" " + key + "=");
  if (at == std::string::npos) return "<no " + key + ">";
  at += key.size() + 2;
  return line.substr(at, line.find(' ', at) - at);
}

bool contains_text(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The first of `candidates` the host has (executable, unless `any`); "" if none.
std::string first_program(const std::vector<std::string>& candidates, bool any = false) {
  for (const auto& candidate : candidates) {
    if (::access(candidate.c_str(), any ? F_OK : X_OK) == 0) return candidate;
  }
  return {};
}

// A loop device bound to a file of the test's: a real block device of the host's that the
// test can read back what a service wrote to.
class LoopDevice {
 public:
  explicit LoopDevice(const TempDir& dir) {
    const int control = ::open("/dev/loop-control", O_RDWR | O_CLOEXEC);
    if (control < 0) return;
    const int number = ::ioctl(control, LOOP_CTL_GET_FREE);
    ::close(control);
    if (number < 0) return;
    backing_ = dir.write_file("loop.img", std::string(4096, '\0'));
    const int file = ::open(backing_.c_str(), O_RDWR | O_CLOEXEC);
    path_ = "/dev/loop" + std::to_string(number);
    fd_ = ::open(path_.c_str(), O_RDWR | O_CLOEXEC);
    if (file < 0 || fd_ < 0 || ::ioctl(fd_, LOOP_SET_FD, file) != 0) path_.clear();
    if (file >= 0) ::close(file);
  }
  ~LoopDevice() {
    if (fd_ >= 0) {
      ::ioctl(fd_, LOOP_CLR_FD, 0);
      ::close(fd_);
    }
  }
  [[nodiscard]] const std::string& path() const { return path_; }  // "" if none could be made
  [[nodiscard]] std::string backing_start(std::size_t bytes) const {
    auto text = ipcrt::read_text_file(backing_);
    return text ? text->substr(0, bytes) : std::string();
  }

 private:
  std::string backing_;
  std::string path_;
  int fd_ = -1;
};

}  // namespace

TEST_GROUP(Gateway){};

// SPEC §4a: the state directory is made before the first start, owned by the service, 0700,
// kept across runs, HOME of a dynamic user, and handed to the new uid when the uid changes.
TEST(Gateway, TheStateDirectoryKeepsWhatTheServiceWroteAcrossRunsAndAUidChange) {
  TempDir dir;
  const std::string name = unique_name("gs");
  const std::string state = state_root() + "/" + name + "/keeper";
  auto run = [&](const std::string& extra) {
    auto result =
        run_manifest(dir, manifest_of(name, {{"keeper", {probe(), "state", state}, extra}}));
    LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
    return result.out;
  };
  const std::string first = run("");
  STRCMP_EQUAL("1", field(first, "keeper: state", "runs").c_str());
  STRCMP_EQUAL("700", field(first, "keeper: state", "mode").c_str());
  STRCMP_EQUAL(state.c_str(), field(first, "keeper: state", "home").c_str());
  const std::string owner = field(first, "keeper: state", "owner");
  CHECK_TEXT(owner.find(':') != std::string::npos && owner.rfind("0:", 0) != 0, first.c_str());
  STRCMP_EQUAL(owner.c_str(), field(first, "keeper: state", "file").c_str());

  const std::string second = run("");
  STRCMP_EQUAL("2", field(second, "keeper: state", "runs").c_str());
  STRCMP_EQUAL(owner.c_str(), field(second, "keeper: state", "owner").c_str());

  // Another uid: what the old one kept is the new one's.
  const std::string third = run(", \"user\": \"60993\", \"group\": \"60993\"");
  STRCMP_EQUAL("3", field(third, "keeper: state", "runs").c_str());
  STRCMP_EQUAL("60993:60993", field(third, "keeper: state", "owner").c_str());
  STRCMP_EQUAL("60993:60993", field(third, "keeper: state", "file").c_str());
  struct stat info {};
  CHECK_EQUAL(0, ::stat(state.c_str(), &info));
  LONGS_EQUAL(040700, info.st_mode);
}

// A root service's host is read-only (SPEC §4.3): its state directory stays writable.
TEST(Gateway, ARootServiceWritesItsStateDirectoryOnItsReadOnlyHost) {
  TempDir dir;
  const std::string name = unique_name("gr");
  const std::string state = state_root() + "/" + name + "/rooted";
  // Made at boot for rooted's, and not its own: read-only to it like the rest of the host.
  const std::string elsewhere = state_root() + "/" + name;
  auto result = run_manifest(
      dir, manifest_of(name, {{"rooted", {probe(), "state", state}, ", \"user\": \"root\""},
                              {"outside",
                               {probe(), "state", elsewhere},
                               ", \"user\": \"root\", \"state-directory\": false"}}));
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  STRCMP_CONTAINS("rooted: state runs=1 owner=0:0 mode=700", result.out.c_str());
  STRCMP_CONTAINS("outside: state result=EROFS", result.out.c_str());
  CHECK_EQUAL(-1, ::access((state_root() + "/" + name + "/outside").c_str(), F_OK));
}

// SPEC §4a: `id -un`, Python's pwd and `ls -l` name the dynamic user and its groups.
TEST(Gateway, UserAndGroupNamesResolveInsideTheView) {
  const std::string id = first_program({"/usr/bin/id", "/bin/id"});
  const std::string busybox = first_program({"/bin/busybox", "/usr/bin/busybox"});
  std::vector<std::string> id_command =
      !id.empty() ? std::vector<std::string>{id} : std::vector<std::string>{busybox, "id"};
  CHECK_TEXT(!id.empty() || !busybox.empty(), "neither id nor busybox on this system");
  TempDir dir;
  const std::string name = unique_name("gn");
  std::vector<Service> services;
  auto with = [](std::vector<std::string> base, std::vector<std::string> more) {
    base.insert(base.end(), more.begin(), more.end());
    return base;
  };
  services.push_back({"namer", with(id_command, {"-un"}), ""});
  services.push_back({"grouper", with(id_command, {"-Gn"}),
                      ", \"devices\": [{\"path\": \"/dev/ttyIPCRT*\", \"access\": \"r\"}]"});
  const std::string ls = first_program({"/bin/ls", "/usr/bin/ls"});
  if (!ls.empty())
    services.push_back({"lister", {ls, "-ld", state_root() + "/" + name + "/lister"}, ""});
  const std::string python = first_program({"/usr/bin/python3"});
  if (!python.empty()) {
    services.push_back({"pythonic",
                        {python, "-c",
                         "import os, pwd, grp; print('pwd', pwd.getpwuid(os.getuid()).pw_name, "
                         "grp.getgrgid(os.getgid()).gr_name)"},
                        ""});
  }
  auto result = run_manifest(dir, manifest_of(name, services));
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  STRCMP_CONTAINS("ipcrt-namer\n", result.out.c_str());
  STRCMP_CONTAINS("ipcrt-grouper ipcrt-grouper-ttyIPCRT\n", result.out.c_str());
  if (!ls.empty()) STRCMP_CONTAINS(" ipcrt-lister ipcrt-lister ", result.out.c_str());
  if (!python.empty()) STRCMP_CONTAINS("pwd ipcrt-pythonic ipcrt-pythonic\n", result.out.c_str());
}

// SPEC §4a: a granted node is made in the service's /dev with the manifest's access and a group
// of its own; what it writes reaches the host's device; a service without the grant, and the
// rest of the host's /dev, see nothing. A loop device bound to a file of the test's is a real
// block device to read back from; kernels with loop as a module (the ARM images load none)
// run the character-device case below only.
TEST(Gateway, AGrantedDeviceIsReadAndWrittenAndOthersCannotSeeIt) {
  TempDir dir;
  if (::access("/dev/loop-control", F_OK) != 0) {
    UT_PRINT("no /dev/loop-control (loop is a module here): the character-device test covers it");
    return;
  }
  LoopDevice loop(dir);
  CHECK_TEXT(!loop.path().empty(), "no loop device could be set up (/dev/loop-control)");
  const std::string& node = loop.path();
  const std::string rw = ", \"devices\": [{\"path\": \"" + node + "\", \"access\": \"rw\"}]";
  auto result = run_manifest(
      dir, manifest_of(unique_name("gd"),
                       {{"writer", {probe(), "poke", node, "hello-loop"}, rw},
                        {"writerstat", {probe(), "node", node}, rw},
                        {"pattern",
                         {probe(), "node", node},
                         ", \"devices\": [{\"path\": \"/dev/loop*\", \"access\": \"rw\"}]"},
                        {"stranger", {probe(), "node", node}, ""},
                        {"strangerhost", {probe(), "node", "/dev/loop-control"}, ""}}));
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  STRCMP_CONTAINS(("writer: poke " + node + " read=hello-loop result=ok").c_str(),
                  result.out.c_str());
  STRCMP_EQUAL("hello-loop", loop.backing_start(10).c_str());
  STRCMP_CONTAINS(("writerstat: node " + node + " type=b").c_str(), result.out.c_str());
  STRCMP_EQUAL("0", field(result.out, "writerstat: node", "uid").c_str());
  STRCMP_EQUAL("660", field(result.out, "writerstat: node", "mode").c_str());
  CHECK_TEXT(field(result.out, "writerstat: node", "gid") != "0", result.out.c_str());
  STRCMP_CONTAINS(("pattern: node " + node + " type=b").c_str(), result.out.c_str());
  STRCMP_CONTAINS(("stranger: node " + node + " result=ENOENT").c_str(), result.out.c_str());
  STRCMP_CONTAINS("strangerhost: node /dev/loop-control result=ENOENT", result.out.c_str());
}

// The same for a character device every kernel here has built in (tun on the host, the PL011
// console on the ARM boards): its number and access in the view, refused beyond the grant
// (the host node is root's 0600: the access is the manifest's, through the device's group).
TEST(Gateway, AGrantedCharacterDeviceOpensWithTheGrantedAccessOnly) {
  const std::string node =
      first_program({"/dev/net/tun", "/dev/ttyAMA0", "/dev/rtc0", "/dev/ttyS0", "/dev/fuse"}, true);
  CHECK_TEXT(!node.empty(), "none of the character devices looked for exists");
  struct stat host {};
  CHECK_EQUAL(0, ::stat(node.c_str(), &host));
  TempDir dir;
  const std::string rw = ", \"devices\": [{\"path\": \"" + node + "\", \"access\": \"rw\"}]";
  const std::string r = ", \"devices\": [{\"path\": \"" + node + "\", \"access\": \"r\"}]";
  auto result = run_manifest(
      dir, manifest_of(unique_name("gt"), {{"both", {probe(), "open", node, "rw"}, rw},
                                           {"bothstat", {probe(), "node", node}, rw},
                                           {"reader", {probe(), "open", node, "rw"}, r},
                                           {"readeronly", {probe(), "open", node, "r"}, r},
                                           {"readerstat", {probe(), "node", node}, r},
                                           {"stranger", {probe(), "node", node}, ""}}));
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  STRCMP_CONTAINS(("both: open " + node + " rw result=ok").c_str(), result.out.c_str());
  const std::string number =
      std::to_string(major(host.st_rdev)) + ":" + std::to_string(minor(host.st_rdev));
  STRCMP_EQUAL(number.c_str(), field(result.out, "bothstat: node", "dev").c_str());
  STRCMP_EQUAL("660", field(result.out, "bothstat: node", "mode").c_str());
  STRCMP_EQUAL("440", field(result.out, "readerstat: node", "mode").c_str());
  STRCMP_CONTAINS(("reader: open " + node + " rw result=EACCES").c_str(), result.out.c_str());
  STRCMP_CONTAINS(("readeronly: open " + node + " r result=ok").c_str(), result.out.c_str());
  STRCMP_CONTAINS(("stranger: node " + node + " result=ENOENT").c_str(), result.out.c_str());
}

// SPEC §4a: net_bind_service kept as an ambient capability lets a dynamic user bind port 80;
// nothing else is kept, the bounding set included; without it the bind is refused.
TEST(Gateway, NetBindServiceLetsADynamicUserBindPort80AndNothingElse) {
  TempDir dir;
  const std::string network = ", \"seccomp\": {\"allow\": [\"@network-io\"]}";
  const std::string cap = network + ", \"capabilities\": [\"net_bind_service\"]";
  auto result = run_manifest(
      dir, manifest_of(unique_name("gc"),
                       {{"binder", {probe(), "bind", "80"}, cap},
                        {"bindercaps", {probe(), "caps"}, cap},
                        {"plain", {probe(), "bind", "80"}, network},
                        {"plaincaps", {probe(), "caps"}, network},
                        {"rootcaps", {probe(), "caps"}, cap + ", \"user\": \"root\""}}));
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  STRCMP_CONTAINS("binder: bind 80 result=ok", result.out.c_str());
  STRCMP_CONTAINS("plain: bind 80 result=EACCES", result.out.c_str());
  STRCMP_CONTAINS(
      "bindercaps: caps CapEff=0000000000000400 CapBnd=0000000000000400 CapAmb=0000000000000400",
      result.out.c_str());
  STRCMP_CONTAINS(
      "plaincaps: caps CapEff=0000000000000000 CapBnd=0000000000000000 CapAmb=0000000000000000",
      result.out.c_str());
  STRCMP_CONTAINS(
      "rootcaps: caps CapEff=0000000000000400 CapBnd=0000000000000400 CapAmb=0000000000000400",
      result.out.c_str());
}

// A refused capability is a validation error naming why (config/capabilities.cpp).
TEST(Gateway, ARefusedCapabilityIsAnErrorThatNamesTheReason) {
  TempDir dir;
  const std::string manifest = dir.write_file(
      "m.json",
      manifest_of(unique_name("gv"),
                  {{"greedy", {probe(), "caps"}, ", \"capabilities\": [\"sys_admin\"]"}}));
  auto result = ipcrt::test::run_ipcrt({"validate", manifest});
  CHECK_TEXT(result.exit_code != 0, result.out.c_str());
  STRCMP_CONTAINS("capability sys_admin is refused: it mounts", result.err.c_str());
  STRCMP_CONTAINS("allowed: net_bind_service", result.err.c_str());
}

// `plan` shows each service's devices, state directory, generated /etc files and capabilities.
TEST(Gateway, PlanShowsTheDevicesStateDirectoryAndCapabilities) {
  TempDir dir;
  const std::string name = unique_name("gp");
  const std::string manifest = dir.write_file(
      "m.json", manifest_of(name, {{"modem",
                                    {probe(), "caps"},
                                    ", \"capabilities\": [\"net_admin\"], \"devices\": [{\"path\": "
                                    "\"/dev/ttyUSB*\", \"access\": \"rw\"}]"}}));
  auto result = ipcrt::test::run_ipcrt({"plan", manifest});
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  STRCMP_CONTAINS("device    /dev/ttyUSB* read-write, group ", result.out.c_str());
  STRCMP_CONTAINS("(matched at each start)", result.out.c_str());
  STRCMP_CONTAINS(("state     " + state_root() + "/" + name + "/modem read-write").c_str(),
                  result.out.c_str());
  STRCMP_CONTAINS("caps      ambient: net_admin", result.out.c_str());
  STRCMP_CONTAINS("/etc      passwd and group generated", result.out.c_str());
  auto policy = ipcrt::test::run_ipcrt({"policy", manifest, "modem"});
  LONGS_EQUAL_TEXT(0, policy.exit_code, policy.err.c_str());
  STRCMP_CONTAINS("# capabilities: net_admin (ambient;", policy.out.c_str());
}

// SPEC §4a: `ipcrt exec` runs a command in a running service's sandbox: its pid namespace and
// view, its user and groups, its capabilities and its filter (a denied syscall stays denied),
// with the command's output and exit status the caller's; /bin/sh by default.
TEST(Gateway, ExecRunsACommandInsideARunningServicesSandbox) {
  TempDir dir;
  const std::string name = unique_name("ge");
  const std::string queue = "/" + unique_name("geq");
  Background background(
      dir,
      dir.write_file(
          "m.json",
          manifest_of(name, {{"owner",
                              {IPCRT_SANDBOX_PROBE, "wait"},
                              ", \"slots\": {\"q\": {\"interface\": \"posix-mq\", \"path\": \"" +
                                  queue + "\", \"remove-on-stop\": true}}"},
                             {"target",
                              {IPCRT_SANDBOX_PROBE, "wait"},
                              ", \"seccomp\": {\"deny\": [\"getppid\"]}, "
                              "\"capabilities\": [\"net_bind_service\"], "
                              "\"plugs\": {\"q\": {\"interface\": \"posix-mq\"}}, "
                              "\"after\": [\"owner\"]"}})));
  CHECK_TEXT(background.wait_for("target: waiting"), background.err().c_str());
  auto exec = [&](std::vector<std::string> command, const std::string& input = {}) {
    std::vector<std::string> argv{ipcrt::test::ipcrt_binary(), "exec", "--manifest", name,
                                  "target"};
    argv.insert(argv.end(), command.begin(), command.end());
    return ipcrt::test::run_process(argv, input);
  };
  auto pids = exec({IPCRT_SANDBOX_PROBE, "pids"});
  LONGS_EQUAL_TEXT(0, pids.exit_code, pids.err.c_str());
  STRCMP_EQUAL("target: pids 1,2,3\n", pids.out.c_str());  // its init, the service, itself
  auto caps = exec({probe(), "caps"});
  STRCMP_CONTAINS(
      "target: caps CapEff=0000000000000400 CapBnd=0000000000000400 CapAmb=0000000000000400",
      caps.out.c_str());
  auto refused = exec({probe(), "getppid"});
  STRCMP_CONTAINS("target: getppid result=EPERM", refused.out.c_str());
  // Mediated calls are answered (by the exec process) as for the service: its queue opens, an
  // ungranted name is refused; an unanswered listener would give ENOSYS.
  if (!contains_text(background.err(), "mediation unavailable")) {
    auto granted = exec({probe(), "mq", queue});
    STRCMP_CONTAINS(("target: mq " + queue + " result=ok").c_str(), granted.out.c_str());
    auto other = exec({probe(), "mq", "/not-granted-here"});
    STRCMP_CONTAINS("target: mq /not-granted-here result=EACCES", other.out.c_str());
  }
  auto view = exec({probe(), "node", "/dev/loop-control"});
  STRCMP_CONTAINS("target: node /dev/loop-control result=ENOENT", view.out.c_str());
  // Default /bin/sh, reading the caller's stdin; its exit status is the caller's.
  auto shell = exec({}, "id -un 2>/dev/null || busybox id -un; exit 7\n");
  LONGS_EQUAL_TEXT(7, shell.exit_code, shell.err.c_str());
  STRCMP_EQUAL("ipcrt-target\n", shell.out.c_str());
  auto missing = exec({"no-such-program-here"});
  LONGS_EQUAL(3, missing.exit_code);
  STRCMP_CONTAINS("phase exec failed", missing.err.c_str());
  // The service was not disturbed.
  CHECK_TRUE(background.running());
  background.signal(SIGTERM);
  LONGS_EQUAL_TEXT(0, background.wait(), background.err().c_str());
}

// Only root may enter a sandbox: anyone else is refused before anything is asked or done.
TEST(Gateway, ExecIsRefusedForNonRoot) {
  int out[2];
  CHECK_EQUAL(0, ::pipe(out));
  const pid_t child = ::fork();
  if (child == 0) {
    ::dup2(out[1], STDERR_FILENO);
    if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0) _exit(99);
    const std::string binary = ipcrt::test::ipcrt_binary();
    ::execl(binary.c_str(), binary.c_str(), "exec", "anything", "/bin/true", nullptr);
    _exit(98);
  }
  ::close(out[1]);
  std::string err;
  char buffer[512];
  for (ssize_t n; (n = ::read(out[0], buffer, sizeof buffer)) > 0;) err.append(buffer, n);
  ::close(out[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  CHECK_TRUE(WIFEXITED(status));
  LONGS_EQUAL_TEXT(5, WEXITSTATUS(status), err.c_str());
  STRCMP_CONTAINS("entering a service's sandbox needs root", err.c_str());
}

// The host's memory is never granted, whatever the node is called: a node (or a symlink) in
// /dev with /dev/mem's number is left out of the view as /dev/mem itself would be refused.
TEST(Gateway, ANodeWithTheNumberOfDevMemIsNeverMade) {
  const std::string alias = "/dev/" + unique_name("ipcrt-test-mem");
  if (::mknod(alias.c_str(), S_IFCHR | 0600, makedev(1, 1)) != 0) {
    UT_PRINT("cannot mknod in /dev here: nothing to check");
    return;
  }
  struct Remove {
    std::string path;
    ~Remove() { ::unlink(path.c_str()); }
  } remove{alias};
  TempDir dir;
  auto result = run_manifest(
      dir, manifest_of(unique_name("gm"),
                       {{"greedy",
                         {probe(), "node", alias},
                         ", \"devices\": [{\"path\": \"" + alias + "\", \"access\": \"r\"}]"}}));
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  STRCMP_CONTAINS(("greedy: node " + alias + " result=ENOENT").c_str(), result.out.c_str());
}
