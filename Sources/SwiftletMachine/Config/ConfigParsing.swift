#if canImport(Glibc)
import Glibc
#endif

/// Parsers for the values a user types, shared by the command line, the API and the
/// JSON configuration file. `field` names where the value came from ("--mac",
/// "guest_mac") and begins the error line.
public enum ConfigParsing {
    /// A positive whole number of MiB that this host can back.
    public static func memoryMiB(_ text: String, field: String = "memory size") throws(ConfigError) -> UInt64 {
        guard let mib = UInt64(text) else {
            throw ConfigError("\(field) '\(text)' is not a whole number of MiB")
        }
        return try memoryMiB(mib, field: field)
    }

    public static func memoryMiB(_ mib: UInt64, field: String = "memory size") throws(ConfigError) -> UInt64 {
        guard mib > 0 else { throw ConfigError("\(field) must be at least 1 MiB") }
        // (Swift binds >> tighter than *.)
        let hostMiB = (UInt64(sysconf(Int32(_SC_PHYS_PAGES))) * UInt64(sysconf(Int32(_SC_PAGESIZE)))) >> 20
        guard mib <= hostMiB else {
            throw ConfigError("\(field) \(mib) MiB is more than this host's \(hostMiB) MiB")
        }
        return mib
    }

    /// Six hex bytes separated by colons; a multicast address cannot be a card's.
    public static func mac(_ text: String, field: String = "--mac") throws(ConfigError) -> [UInt8] {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        let bytes = parts.compactMap { $0.count == 2 ? UInt8($0, radix: 16) : nil }
        guard parts.count == 6, bytes.count == 6 else { throw ConfigError("\(field): '\(text)' is not a MAC address (xx:xx:xx:xx:xx:xx)") }
        guard bytes[0] & 1 == 0 else { throw ConfigError("\(field): \(text) is a multicast address") }
        return bytes
    }

    /// "A.B.C.D" (the host's address on a new tap) or "bridge:NAME".
    public static func tunnet(_ text: String, field: String = "--tunnet") throws(ConfigError) -> MachineConfig.Network.Attachment {
        if text.hasPrefix("bridge:") {
            let name = String(text.dropFirst(7))
            try interfaceName(name, field: field)
            return .bridge(name)
        }
        var address = in_addr()
        guard inet_pton(AF_INET, text, &address) == 1 else {
            throw ConfigError("\(field): '\(text)' is not an IPv4 address or bridge:<name>")
        }
        return .hostAddress(text)
    }

    /// A network interface name the kernel could hold: 1 to 15 bytes, no '/' or space.
    public static func interfaceName(_ name: String, field: String) throws(ConfigError) {
        guard !name.isEmpty, name.utf8.count < 16, !name.contains("/"), !name.contains(" ") else {
            throw ConfigError("\(field): '\(name)' is not an interface name")
        }
    }

    /// "FILE" or "FILE,ro".
    public static func disk(_ text: String, field: String = "--block") throws(ConfigError) -> MachineConfig.Disk {
        var path = Substring(text)
        var readOnly = false
        if path.hasSuffix(",ro") {
            path = path.dropLast(3)
            readOnly = true
        }
        guard !path.isEmpty else { throw ConfigError("\(field): no file named in '\(text)'") }
        return MachineConfig.Disk(path: String(path), readOnly: readOnly)
    }

    /// Checks now that `path` opens as a disk would (a regular file or block device, in
    /// the mode asked for), so that a bad path is refused where it was given (a PUT, an
    /// option) rather than at boot.
    public static func checkDiskFile(_ path: String, readOnly: Bool, field: String) throws(ConfigError) {
        let fd = open(path, (readOnly ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else {
            throw ConfigError("\(field): cannot open \(path)\(readOnly ? "" : " for writing"): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw ConfigError("\(field): cannot stat \(path): \(String(cString: strerror(errno)))") }
        let type = info.st_mode & S_IFMT
        guard type == S_IFREG || type == S_IFBLK else { throw ConfigError("\(field): \(path) is neither a file nor a block device") }
    }

    /// Checks now that `path` is a readable regular file (a kernel, an initrd).
    public static func checkReadableFile(_ path: String, field: String) throws(ConfigError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw ConfigError("\(field): cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            throw ConfigError("\(field): \(path) is not a regular file")
        }
    }
}
