import CCausewayShims

/// Allocator settings for a process that runs event loops.
public enum MemoryTuning {
    /// glibc's allocator returns memory at the top of the heap to the kernel as soon as
    /// 128 KiB are free, and adapts its mmap threshold upwards; a proxy that allocates and
    /// frees 16 KiB record and body chunks every loop pass then page-faults the same memory
    /// back in over and over. Keep up to 64 MiB of free heap and mmap only blocks of 4 MiB
    /// and more. Call once, before the workers start.
    public static func keepFreedMemory() {
        causeway_tune_malloc(64 << 20, 4 << 20)
    }
}
