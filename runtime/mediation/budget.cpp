#include "runtime/mediation/budget.hpp"

namespace ipcrt::runtime {

PatternBudget::Over PatternBudget::check(std::uint64_t charge) const {
  if (counted_.size() + 1 > limits_.queues) return Over::Queues;
  if (bytes_ + charge > limits_.bytes || bytes_ + charge < bytes_) return Over::Bytes;
  return Over::Nothing;
}

void PatternBudget::add(const std::string& path, std::uint64_t charge, ino_t inode) {
  remove(path);
  counted_[path] = Counted{charge, inode};
  bytes_ += charge;
}

bool PatternBudget::remove(const std::string& path) {
  auto found = counted_.find(path);
  if (found == counted_.end()) return false;
  bytes_ -= found->second.charge;
  counted_.erase(found);
  return true;
}

void PatternBudget::forget_missing(
    const std::function<bool(const std::string& path, ino_t inode)>& exists) {
  for (auto it = counted_.begin(); it != counted_.end();) {
    if (exists(it->first, it->second.inode)) {
      ++it;
    } else {
      bytes_ -= it->second.charge;
      it = counted_.erase(it);
    }
  }
}

}  // namespace ipcrt::runtime
