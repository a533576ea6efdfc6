import SwiftletBoot
import SwiftletKVM

/// Everything the user asked for: the seed's command line plus the modern options.
public struct MachineConfig: Sendable {
    /// Guest RAM in MiB (the seed's <mem-in-mb>).
    public var memoryMiB: UInt64
    /// Number of vCPUs.
    public var cpus: Int
    /// The kernel: an ELF vmlinux or a bzImage.
    public var kernelPath: String
    /// An initial ramdisk, placed at the top of low memory.
    public var initrdPath: String?
    /// The kernel's command line, one argument per element; joined by spaces.
    public var kernelArguments: [String]
    /// Who decompresses a bzImage's payload: swiftlet (default) or the kernel itself.
    public var kernelDecompression: KernelDecompression
    /// The CPU template; nil picks the default for this host.
    public var cpuTemplate: CPUTemplate?
    /// Trace devices, exits and setup to stderr.
    public var verbose: Bool
    /// Virtio disks, in the order the guest sees them (vda, vdb, ...).
    public var disks: [Disk]
    /// A virtio entropy device (on unless --no-rng).
    public var rng: Bool
    /// A guest that resets more than `resetLimit` times within `resetWindow` seconds is
    /// stuck in a reboot loop: swiftlet gives up on it.
    public var resetLimit: Int
    public var resetWindow: Double

    public static let defaultResetLimit = 10
    public static let defaultResetWindow = 10.0
    /// Network cards on taps (--tunnet), in the order the guest sees them.
    public var networks: [Network]
    /// How virtio devices reach the guest: PCI (the command line's default) or
    /// virtio-mmio (the API's default, as Firecracker's guests expect).
    public var transport: DeviceTransport
    /// A virtio socket device with Firecracker's Unix-socket host side (--vsock, PUT /vsock).
    public var vsock: Vsock? = nil
    /// What a guest reset does: boot again in this process (the command line) or end it
    /// (the API, as Firecracker's `reboot=k` contract has it).
    public var resetAction: ResetAction

    public enum DeviceTransport: String, Sendable, Equatable, CaseIterable {
        case pci, mmio
    }

    public enum ResetAction: Sendable, Equatable {
        case reboot, exit
    }

    /// A file the guest sees as a virtio disk.
    public struct Disk: Sendable, Equatable {
        public var path: String
        public var readOnly: Bool
        public init(path: String, readOnly: Bool) { self.path = path; self.readOnly = readOnly }
    }

    /// A virtio network card on a tap of its own.
    public struct Network: Sendable, Equatable {
        public enum Attachment: Sendable, Equatable {
            /// The host side of the tap gets this IPv4 address (dotted quad), a /24.
            case hostAddress(String)
            /// The tap joins this existing bridge.
            case bridge(String)
            /// An existing tap, opened by name (the API's `host_dev_name`); its host side is
            /// whoever made it's business.
            case existingTap(String)
        }
        public var attachment: Attachment
        /// The guest's MAC; nil derives a stable one from the tap's name.
        public var mac: [UInt8]?
        public init(attachment: Attachment, mac: [UInt8]? = nil) { self.attachment = attachment; self.mac = mac }
    }

    public init(memoryMiB: UInt64, cpus: Int = 1, kernelPath: String, initrdPath: String? = nil,
                kernelArguments: [String] = [], cpuTemplate: CPUTemplate? = nil, verbose: Bool = false,
                disks: [Disk] = [], rng: Bool = true, networks: [Network] = [],
                resetLimit: Int = MachineConfig.defaultResetLimit, resetWindow: Double = MachineConfig.defaultResetWindow,
                kernelDecompression: KernelDecompression = .host,
                transport: DeviceTransport = .pci, resetAction: ResetAction = .reboot) {
        self.kernelDecompression = kernelDecompression
        self.transport = transport
        self.resetAction = resetAction
        self.memoryMiB = memoryMiB
        self.cpus = cpus
        self.kernelPath = kernelPath
        self.initrdPath = initrdPath
        self.kernelArguments = kernelArguments
        self.cpuTemplate = cpuTemplate
        self.verbose = verbose
        self.disks = disks
        self.rng = rng
        self.networks = networks
        self.resetLimit = resetLimit
        self.resetWindow = resetWindow
    }

    /// Linux's `panic=N` from the command line (the last one wins, as in the kernel's own
    /// parsing): a non-zero N means the guest reboots by itself after a panic.
    public var panicRebootTimeout: Int {
        kernelArguments.joined(separator: " ").split(separator: " ").last { $0.hasPrefix("panic=") }.flatMap { Int($0.dropFirst(6)) } ?? 0
    }
}

/// How swiftlet ends, as documented in --help and the README.
public enum ExitStatus: Int32, Sendable {
    /// The guest powered off.
    case poweredOff = 0
    /// Swiftlet itself failed: bad kernel, KVM refused, the guest triple-faulted...
    case vmmError = 1
    /// The command line was wrong.
    case usage = 2
    /// The guest kernel panicked (reported through pvpanic).
    case guestPanic = 3

    /// A signal (or three ^C) ended the run: 128 + the signal number, as a shell reports.
    public static func killed(by signal: Int32) -> Int32 { 128 + signal }
}
