#include "util/thread_pool.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <exception>
#include <utility>

namespace ripvec {
namespace {
thread_local bool tl_in_worker = false;

unsigned default_threads() {
  if (const char* env = std::getenv("RIPVEC_THREADS")) {
    int n = std::atoi(env);
    if (n > 0) return static_cast<unsigned>(n);
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : hw;
}
}  // namespace

ThreadPool::ThreadPool(unsigned threads) {
  if (threads == 0) threads = default_threads();
  threads = std::min(threads, kMaxThreads);
  for (unsigned i = 1; i < threads; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_work_.notify_all();
  for (auto& t : workers_) t.join();
}

ThreadPool& ThreadPool::global() {
  static ThreadPool pool;
  return pool;
}

void ThreadPool::worker_loop(unsigned) {
  tl_in_worker = true;
  uint64_t seen = 0;
  for (;;) {
    std::unique_lock lk(mu_);
    cv_work_.wait(lk, [&] { return stop_ || generation_ != seen; });
    if (stop_) return;
    seen = generation_;
    auto* job = job_;
    ++active_;
    while (next_ < job_end_) {
      int64_t lo = next_;
      int64_t hi = std::min(job_end_, lo + job_grain_);
      next_ = hi;
      lk.unlock();
      try {
        (*job)(lo, hi);
      } catch (...) {
        lk.lock();
        if (!error_) error_ = std::current_exception();
        next_ = job_end_;
        continue;
      }
      lk.lock();
    }
    if (--active_ == 0) cv_done_.notify_all();
  }
}

void ThreadPool::parallel_for(int64_t begin, int64_t end, int64_t grain,
                              const std::function<void(int64_t, int64_t)>& fn) {
  if (end <= begin) return;
  grain = std::max<int64_t>(grain, 1);
  const int64_t n = end - begin;
  if (tl_in_worker || workers_.empty() || n <= grain) {
    fn(begin, end);
    return;
  }
  // Split into about 4 chunks per thread for load balance, never below grain.
  int64_t chunk = std::max<int64_t>(grain, (n + size() * 4 - 1) / (size() * 4));
  std::lock_guard call_lk(call_mu_);
  std::unique_lock lk(mu_);
  job_ = &fn;
  job_end_ = end;
  job_grain_ = chunk;
  next_ = begin;
  error_ = nullptr;
  ++generation_;
  cv_work_.notify_all();
  // The caller works too.
  tl_in_worker = true;
  ++active_;
  while (next_ < job_end_) {
    int64_t lo = next_;
    int64_t hi = std::min(job_end_, lo + job_grain_);
    next_ = hi;
    lk.unlock();
    try {
      fn(lo, hi);
    } catch (...) {
      lk.lock();
      if (!error_) error_ = std::current_exception();
      next_ = job_end_;
      continue;
    }
    lk.lock();
  }
  --active_;
  tl_in_worker = false;
  cv_done_.wait(lk, [&] { return active_ == 0; });
  job_ = nullptr;
  if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
}

}  // namespace ripvec
