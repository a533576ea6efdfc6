#if canImport(Glibc)
import Glibc
#endif

/// Where the guest's console bytes go: our stdout, written whole. A reader that went
/// away (EPIPE) loses the output but never stops the guest.
public enum StandardOutput {
    @Sendable public static func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(STDOUT_FILENO, buffer.baseAddress.map { $0 + offset }, buffer.count - offset)
                if written > 0 {
                    offset += written
                } else if written < 0 && errno == EINTR {
                    continue
                } else {
                    return
                }
            }
        }
    }
}
