import SwiftletMachine

/// What the API has been told so far: Firecracker's configuration sections, each already
/// validated. It becomes a `MachineConfig` at InstanceStart.
public struct VMSpec: Sendable, Equatable {
    public var machine = MachineSettings()
    public var bootSource: BootSource?
    /// In the order they were first PUT; the root drive goes first at InstanceStart.
    public var drives: [DriveSpec] = []
    public var networkInterfaces: [NetworkInterfaceSpec] = []
    /// Firecracker gives a guest an entropy device only when /entropy was PUT.
    public var entropy = false
    /// The virtio socket device, when /vsock was PUT.
    var vsock: VsockSettings?
    var logger: LoggerSettings?
    public var metricsPath: String?

    public init() {}

    /// The drives as the guest sees them: the root drive (if any) is vda, the rest follow
    /// in the order they were added.
    public var orderedDrives: [DriveSpec] {
        drives.filter(\.isRootDevice) + drives.filter { !$0.isRootDevice }
    }

    /// Adds or replaces (same id) a drive; only one may be the root.
    mutating func put(_ drive: DriveSpec) throws(APIFault) {
        if drive.isRootDevice, let root = drives.first(where: { $0.isRootDevice && $0.driveID != drive.driveID }) {
            throw APIFault("drives: drive '\(root.driveID)' is already the root device; a VM has one")
        }
        if let index = drives.firstIndex(where: { $0.driveID == drive.driveID }) {
            drives[index] = drive
        } else {
            drives.append(drive)
        }
    }

    /// Adds or replaces (same id) an interface; taps and MACs cannot be shared.
    mutating func put(_ interface: NetworkInterfaceSpec) throws(APIFault) {
        for other in networkInterfaces where other.ifaceID != interface.ifaceID {
            if other.hostDevName == interface.hostDevName {
                throw APIFault("network-interfaces: tap \(interface.hostDevName) is already interface '\(other.ifaceID)'s")
            }
            if let mac = interface.mac, other.mac == mac {
                throw APIFault("network-interfaces: guest_mac \(interface.guestMAC ?? "") is already interface '\(other.ifaceID)'s")
            }
        }
        if let index = networkInterfaces.firstIndex(where: { $0.ifaceID == interface.ifaceID }) {
            networkInterfaces[index] = interface
        } else {
            networkInterfaces.append(interface)
        }
    }

    /// The machine to start, or why not. `enablePCI` and `verbose` come from the command line.
    public func machineConfig(enablePCI: Bool, verbose: Bool = false) throws(APIFault) -> MachineConfig {
        guard let bootSource else { throw APIFault("InstanceStart: no kernel: PUT /boot-source first") }
        let transport = FirecrackerDefaults.transport(enablePCI: enablePCI)
        var arguments = (bootSource.bootArgs ?? FirecrackerDefaults.bootArguments).split(separator: " ").map(String.init)
        if transport == .pci {
            // Firecracker's clients add pci=off for an mmio-only VMM; on PCI it would leave
            // the guest without its devices.
            arguments.removeAll { $0 == "pci=off" }
        }
        let drives = orderedDrives
        if let root = drives.first, root.isRootDevice {
            arguments.append(root.partuuid.map { "root=PARTUUID=\($0)" } ?? "root=/dev/vda")
            arguments.append(root.isReadOnly ? "ro" : "rw")
        }
        var config = MachineConfig(
            memoryMiB: machine.memSizeMiB, cpus: machine.vcpuCount, kernelPath: bootSource.kernelImagePath,
            initrdPath: bootSource.initrdPath, kernelArguments: arguments, verbose: verbose,
            disks: drives.map { MachineConfig.Disk(path: $0.pathOnHost, readOnly: $0.isReadOnly) },
            rng: entropy,
            networks: networkInterfaces.map { MachineConfig.Network(attachment: .existingTap($0.hostDevName), mac: $0.mac) },
            transport: transport, resetAction: .exit)
        config.vsock = vsock?.machineConfig
        return config
    }

    /// GET /vm/config: Firecracker's FullVmConfiguration, sections absent as null.
    var json: JSONValue {
        .object([
            ("balloon", .null),
            ("drives", .array(orderedDrives.map(\.json))),
            ("boot-source", bootSource?.json ?? .null),
            ("logger", logger?.json ?? .null),
            ("machine-config", machine.json),
            ("metrics", metricsPath.map { .object([("metrics_path", .string($0))]) } ?? .null),
            ("mmds-config", .null),
            ("network-interfaces", .array(networkInterfaces.map(\.json))),
            ("vsock", vsock?.json ?? .null),
            ("entropy", entropy ? .object([]) : .null),
        ])
    }
}
