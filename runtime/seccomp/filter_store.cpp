// The on-disk filter store: one file per key, checked before it is believed.
#include "runtime/seccomp/filter_store.hpp"

#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <seccomp.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "common/file.hpp"
#include "common/text.hpp"

namespace ipcrt::runtime {
namespace {

constexpr std::string_view kMagic = "ipcrt-bpf-1\n";
// BPF_MAXINSNS: the kernel loads no longer program.
constexpr std::uint32_t kMaxInstructions = 4096;
constexpr std::size_t kMaxEntryBytes = 64 * 1024 + kMaxInstructions * sizeof(sock_filter);

// FNV-1a, 64 bits: names entries and catches torn or damaged ones. It is no defence against
// someone who may write the store, which only this euid can (the directory's check).
std::uint64_t fnv1a(std::string_view bytes, std::uint64_t hash = 0xcbf29ce484222325ULL) {
  for (unsigned char byte : bytes) {
    hash ^= byte;
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

std::string hex64(std::uint64_t value) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string text(16, '0');
  for (int i = 15; i >= 0; --i, value >>= 4U)
    text[static_cast<std::size_t>(i)] = kDigits[value & 15U];
  return text;
}

template <class Number>
void put(std::string& out, Number value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof value);
}

template <class Number>
bool take(std::string_view& in, Number& value) {
  if (in.size() < sizeof value) return false;
  std::memcpy(&value, in.data(), sizeof value);
  in.remove_prefix(sizeof value);
  return true;
}

int find_build_id(dl_phdr_info* info, size_t, void* data) {
  auto* out = static_cast<std::string*>(data);
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& segment = info->dlpi_phdr[i];
    if (segment.p_type != PT_NOTE) continue;
    const char* at = reinterpret_cast<const char*>(info->dlpi_addr + segment.p_vaddr);
    const char* end = at + segment.p_memsz;
    while (at + sizeof(ElfW(Nhdr)) <= end) {
      const auto* note = reinterpret_cast<const ElfW(Nhdr)*>(at);
      const char* name = at + sizeof(ElfW(Nhdr));
      const char* desc = name + ((note->n_namesz + 3U) & ~3U);
      if (desc + note->n_descsz > end) break;
      if (note->n_type == NT_GNU_BUILD_ID && note->n_namesz == 4 &&
          std::memcmp(name, "GNU", 4) == 0) {
        for (std::uint32_t byte = 0; byte < note->n_descsz; ++byte) {
          *out += hex64(static_cast<unsigned char>(desc[byte])).substr(14);
        }
        return 1;
      }
      at = desc + ((note->n_descsz + 3U) & ~3U);
    }
  }
  return 1;  // the first object is the executable: stop either way
}

std::string store_context(const std::string& build_id) {
  const scmp_version* version = seccomp_version();
  utsname kernel{};
  (void)::uname(&kernel);
  return cat("build=", build_id, " libseccomp=", version->major, '.', version->minor, '.',
             version->micro, " kernel=", kernel.release, ' ', kernel.version,
             " abi=", seccomp_arch_native());
}

}  // namespace

std::string own_build_id() {
  std::string id;
  ::dl_iterate_phdr(find_build_id, &id);
  return id;
}

std::optional<FilterStore> FilterStore::open(const std::string& dir) {
  const uid_t self = ::geteuid();
  if (self != 0) return std::nullopt;
  const std::string build_id = own_build_id();
  if (build_id.empty()) return std::nullopt;
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return std::nullopt;
  platform::UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return std::nullopt;
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0 || !S_ISDIR(info.st_mode) || info.st_uid != self ||
      (info.st_mode & 077) != 0) {
    return std::nullopt;
  }
  return FilterStore(std::move(fd), store_context(build_id));
}

std::string FilterStore::entry_name(std::string_view key) const {
  return hex64(fnv1a(key, fnv1a(context_))) + ".bpf";
}

std::optional<platform::BpfProgram> FilterStore::load(std::string_view key) const {
  const std::string name = entry_name(key);
  platform::UniqueFd fd(
      ::openat(dir_.get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) return std::nullopt;
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0 || !S_ISREG(info.st_mode) || info.st_uid != ::geteuid() ||
      (info.st_mode & 07777) != 0600 || info.st_nlink != 1 ||
      static_cast<std::size_t>(info.st_size) > kMaxEntryBytes) {
    return std::nullopt;
  }
  auto text = read_to_end(fd.get(), name);
  if (!text || text->size() < kMagic.size() + sizeof(std::uint64_t)) return std::nullopt;
  std::string_view body(text->data(), text->size() - sizeof(std::uint64_t));
  std::string_view tail(text->data() + body.size(), sizeof(std::uint64_t));
  std::uint64_t checksum = 0;
  if (!take(tail, checksum) || checksum != fnv1a(body)) return std::nullopt;
  if (!body.starts_with(kMagic)) return std::nullopt;
  body.remove_prefix(kMagic.size());
  std::uint32_t context_size = 0;
  std::uint32_t key_size = 0;
  if (!take(body, context_size) || body.size() < context_size ||
      body.substr(0, context_size) != context_) {
    return std::nullopt;
  }
  body.remove_prefix(context_size);
  if (!take(body, key_size) || body.size() < key_size || body.substr(0, key_size) != key) {
    return std::nullopt;
  }
  body.remove_prefix(key_size);
  std::uint8_t uses_notify = 0;
  std::uint32_t count = 0;
  if (!take(body, uses_notify) || uses_notify > 1 || !take(body, count) || count == 0 ||
      count > kMaxInstructions || body.size() != count * sizeof(sock_filter)) {
    return std::nullopt;
  }
  platform::BpfProgram program;
  program.uses_notify = uses_notify == 1;
  program.instructions.resize(count);
  std::memcpy(program.instructions.data(), body.data(), body.size());
  return program;
}

void FilterStore::save(std::string_view key, const platform::BpfProgram& program) const {
  if (program.instructions.empty() || program.instructions.size() > kMaxInstructions) return;
  std::string text(kMagic);
  put(text, static_cast<std::uint32_t>(context_.size()));
  text += context_;
  put(text, static_cast<std::uint32_t>(key.size()));
  text += key;
  put(text, static_cast<std::uint8_t>(program.uses_notify ? 1 : 0));
  put(text, static_cast<std::uint32_t>(program.instructions.size()));
  text.append(reinterpret_cast<const char*>(program.instructions.data()),
              program.instructions.size() * sizeof(sock_filter));
  put(text, fnv1a(text));

  const std::string name = entry_name(key);
  const std::string temporary = cat('.', name, '.', ::getpid());
  (void)::unlinkat(dir_.get(), temporary.c_str(), 0);  // a dead runtime's, same pid
  platform::UniqueFd fd(::openat(dir_.get(), temporary.c_str(),
                                 O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd.valid()) return;
  // No fsync: a torn entry fails its checksum and is compiled again.
  const bool written =
      ::fchmod(fd.get(), 0600) == 0 &&
      ::write(fd.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size());
  fd.reset();
  if (!written || ::renameat(dir_.get(), temporary.c_str(), dir_.get(), name.c_str()) != 0) {
    (void)::unlinkat(dir_.get(), temporary.c_str(), 0);
  }
}

}  // namespace ipcrt::runtime
