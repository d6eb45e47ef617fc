#pragma once
// Per-device allocators that count live and peak bytes; the memory studies read these.
#include <cstddef>
#include <cstdint>

#include "plumb/device.h"

namespace plumb {

struct AllocatorStats {
  int64_t live_bytes = 0;
  int64_t peak_bytes = 0;
  int64_t total_allocations = 0;
  int64_t total_bytes_allocated = 0;
  int64_t cached_bytes = 0;  // freed blocks kept for reuse (not live)
};

class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual void* allocate(size_t nbytes) = 0;
  virtual void deallocate(void* ptr, size_t nbytes) = 0;
  virtual AllocatorStats stats() const = 0;
  // Sets peak back to the current live bytes, so a study can measure one phase.
  virtual void reset_peak() = 0;
  // Returns cached free blocks to the system.
  virtual void empty_cache() {}
};

// The allocator for a device; throws Error for a device with none (meta allocates nothing).
Allocator& allocator_for(Device d);
// Installs an allocator for a device type (used by optional backends such as cuda).
void set_allocator(DeviceType type, Allocator* allocator);

}  // namespace plumb
