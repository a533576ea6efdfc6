#if canImport(Glibc)
import Glibc
#endif

/// The seed's <mem-in-mb>: a positive whole number of MiB that this host can back.
enum MemorySize {
    static func parse(_ text: String) throws(UsageError) -> UInt64 {
        guard let mib = UInt64(text) else {
            throw UsageError("memory size '\(text)' is not a whole number of MiB")
        }
        guard mib > 0 else { throw UsageError("memory size must be at least 1 MiB") }
        // (Swift binds >> tighter than *.)
        let hostMiB = (UInt64(sysconf(Int32(_SC_PHYS_PAGES))) * UInt64(sysconf(Int32(_SC_PAGESIZE)))) >> 20
        guard mib <= hostMiB else {
            throw UsageError("memory size \(mib) MiB is more than this host's \(hostMiB) MiB")
        }
        return mib
    }
}
