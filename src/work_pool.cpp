#include "ldmrecon/work_pool.hpp"

#include <algorithm>

namespace ldmrecon {

WorkPool::WorkPool(int threads, std::size_t max_queued) : max_queued_(std::max<std::size_t>(1, max_queued)) {
    for (int t = 0; t < threads; ++t) workers_.emplace_back([this] { work(); });
}

WorkPool::~WorkPool() {
    wait();
    {
        const std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    has_work_.notify_all();
    for (auto& t : workers_) t.join();
}

void WorkPool::submit(std::function<void()> task) {
    if (workers_.empty()) {
        task();
        return;
    }
    std::unique_lock<std::mutex> lock(mutex_);
    has_room_.wait(lock, [this] { return queue_.size() < max_queued_; });
    queue_.push_back(std::move(task));
    lock.unlock();
    has_work_.notify_one();
}

void WorkPool::wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    idle_.wait(lock, [this] { return queue_.empty() && running_ == 0; });
}

void WorkPool::work() {
    for (;;) {
        std::unique_lock<std::mutex> lock(mutex_);
        has_work_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, and nothing left
        std::function<void()> task = std::move(queue_.front());
        queue_.pop_front();
        ++running_;
        lock.unlock();
        has_room_.notify_one();
        task();
        lock.lock();
        --running_;
        const bool idle = queue_.empty() && running_ == 0;
        lock.unlock();
        if (idle) idle_.notify_all();
    }
}

}  // namespace ldmrecon
