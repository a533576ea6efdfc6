/// Who decompresses a bzImage's payload.
public enum KernelDecompression: String, CaseIterable, Sendable {
    /// Swiftlet, on the host, before the guest starts: the guest enters vmlinux directly.
    case host
    /// The kernel's own decompressor, in the guest: slower (emulated on PVM), but it is
    /// also where Linux randomizes its own physical and virtual address (KASLR).
    case guest

    public var summary: String {
        switch self {
        case .host: "swiftlet, before boot"
        case .guest: "the kernel's own decompressor, which also applies KASLR"
        }
    }
}
