import SwiftletMemory

/// What the vCPU needs to start a loaded kernel, and what --verbose tells the user.
public struct BootEntry: Sendable {
    /// The kernel's entry point, physical (paging is an identity map).
    public let rip: UInt64
    /// boot_params, per the 64-bit boot protocol.
    public let rsi: UInt64
    public let rsp: UInt64
    /// Only the always-one bit: interrupts stay off until Linux wants them.
    public let rflags: UInt64
    public let system: LongModeState
    public let summary: BootSummary
}

/// Where things landed, for logs.
public struct BootSummary: Sendable, CustomStringConvertible {
    public let kernelPath: String
    public let kernelKind: KernelImage.Kind
    public let kernel: Range<UInt64>
    public let entry: UInt64
    public let initrd: (path: String, range: Range<UInt64>)?
    public let commandLine: String
    public let e820: E820Map

    public var description: String {
        var lines = [
            "kernel \(kernelPath): \(kernelKind) at \(hex(kernel.lowerBound))-\(hex(kernel.upperBound)), entry \(hex(entry))"
        ]
        if let initrd {
            lines.append(
                "initrd \(initrd.path): \(humanSize(UInt64(initrd.range.count))) at \(hex(initrd.range.lowerBound))-\(hex(initrd.range.upperBound))"
            )
        }
        lines.append("command line: \"\(commandLine)\"")
        for entry in e820.entries {
            lines.append("e820: \(hex(entry.address))-\(hex(entry.address + entry.size)) \(entry.kind)")
        }
        return lines.joined(separator: "\n")
    }
}
