import SwiftletMemory

/// Which file a boot error is about; it leads the message ("kernel /x: ...").
public enum BootFileRole: String, Sendable {
    case kernel
    case initrd
}

/// Everything that can stop a guest from being loaded. Each description is the one line
/// the user sees, naming the file at fault.
public enum BootError: Error, Equatable, CustomStringConvertible {
    /// The file could not be opened or read; `reason` is strerror's text or our own.
    case unreadable(BootFileRole, path: String, reason: String)
    /// The kernel file is not something we can boot, or does not fit.
    case badKernel(path: String, KernelImageError)
    /// No page-aligned place for the initrd below `ceiling` avoids the kernel.
    case initrdDoesNotFit(path: String, size: UInt64, ceiling: UInt64, ramSize: UInt64)
    /// The joined arguments are longer than the kernel's cmdline_size.
    case commandLineTooLong(length: Int, limit: Int)
    /// An argument holds a NUL, which would silently cut the command line short.
    case commandLineContainsNUL
    /// boot_params holds at most 128 e820 entries.
    case tooManyE820Entries(Int)
    /// A fixed boot structure (zero page, GDT, page tables) is outside guest RAM.
    case guestMemory(GuestMemoryError)

    public var description: String {
        switch self {
        case .unreadable(let role, let path, let reason):
            return "\(role.rawValue) \(path): \(reason)"
        case .badKernel(let path, let problem):
            return "kernel \(path): \(problem)"
        case .initrdDoesNotFit(let path, let size, let ceiling, let ramSize):
            return "initrd \(path): \(humanSize(size)) does not fit below \(hex(ceiling)) in \(humanSize(ramSize)) of RAM"
        case .commandLineTooLong(let length, let limit):
            return "kernel command line: \(length) bytes is longer than the kernel's limit of \(limit)"
        case .commandLineContainsNUL:
            return "kernel command line: an argument contains a NUL byte"
        case .tooManyE820Entries(let count):
            return "memory map: \(count) e820 entries, but boot_params holds at most \(E820Map.maximumEntries)"
        case .guestMemory(let error):
            return "boot structures: \(error)"
        }
    }
}
