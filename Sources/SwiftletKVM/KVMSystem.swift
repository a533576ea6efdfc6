#if canImport(Glibc)
import Glibc
#endif
import CKVM

/// /dev/kvm: the handle from which VMs are made and KVM's abilities are read.
public final class KVMSystem: Sendable {
    let fd: KVMDescriptor
    /// The device that was opened (for messages).
    public let path: String

    /// The capabilities Swiftlet cannot run without, with the words a user sees.
    static let requiredCapabilities: [(UInt, String)] = [
        (UInt(KVM_CAP_IRQCHIP), "in-kernel interrupt controller (KVM_CAP_IRQCHIP)"),
        (UInt(KVM_CAP_USER_MEMORY), "user memory regions (KVM_CAP_USER_MEMORY)"),
        (UInt(KVM_CAP_SET_TSS_ADDR), "TSS address (KVM_CAP_SET_TSS_ADDR)"),
        (UInt(KVM_CAP_PIT2), "in-kernel PIT (KVM_CAP_PIT2)"),
        (UInt(KVM_CAP_EXT_CPUID), "CPUID configuration (KVM_CAP_EXT_CPUID)"),
        (UInt(KVM_CAP_IRQFD), "interrupt eventfds (KVM_CAP_IRQFD)"),
        (UInt(KVM_CAP_IOEVENTFD), "I/O eventfds (KVM_CAP_IOEVENTFD)"),
        (UInt(KVM_CAP_IRQ_ROUTING), "interrupt routing (KVM_CAP_IRQ_ROUTING)"),
        (UInt(KVM_CAP_MP_STATE), "multiprocessor state (KVM_CAP_MP_STATE)"),
        (UInt(KVM_CAP_VCPU_EVENTS), "vCPU events (KVM_CAP_VCPU_EVENTS)"),
    ]

    /// Opens `path` (by default $SWIFTLET_KVM_DEVICE, else /dev/kvm) and checks that it
    /// speaks the stable API and has every capability we rely on.
    public init(path: String = KVMSystem.defaultPath) throws(KVMError) {
        let raw = open(path, O_RDWR | O_CLOEXEC)
        guard raw >= 0 else { throw .cannotOpen(path: path, errno: errno) }
        self.fd = KVMDescriptor(raw)
        self.path = path
        // ENOTTY here means the path is not KVM at all (a regular file, /dev/null...).
        let version: Int32
        do {
            version = try fd.ioctl(CKVM_GET_API_VERSION, value: 0, "report its API version")
        } catch {
            throw .cannotOpen(path: path, errno: ENOTTY)
        }
        guard version == KVM_API_VERSION else { throw .wrongAPIVersion(version) }
        for (capability, name) in Self.requiredCapabilities where !has(capability) {
            throw .missingCapability(name)
        }
    }

    /// $SWIFTLET_KVM_DEVICE lets tests point Swiftlet at a missing or wrong device.
    public static var defaultPath: String {
        if let override = getenv("SWIFTLET_KVM_DEVICE") { return String(cString: override) }
        return "/dev/kvm"
    }

    /// Whether KVM reports `capability` (a KVM_CAP_* number).
    public func has(_ capability: UInt) -> Bool { extensionValue(capability) > 0 }

    /// KVM_CHECK_EXTENSION's answer: 0 when absent, else a capability-specific number.
    public func extensionValue(_ capability: UInt) -> Int32 {
        (try? fd.ioctl(CKVM_CHECK_EXTENSION, value: capability, "check an extension")) ?? 0
    }

    /// The most vCPUs KVM allows in one VM.
    public var maxVCPUs: Int {
        let max = extensionValue(UInt(KVM_CAP_MAX_VCPUS))
        return Int(max > 0 ? max : extensionValue(UInt(KVM_CAP_NR_VCPUS)))
    }

    /// Whether this KVM is PVM, the software nested hypervisor whose instruction emulator
    /// runs guest ring 0 and cannot run some instructions (see the conservative template).
    public static var isPVM: Bool { access("/sys/module/kvm_pvm", F_OK) == 0 }

    /// Bytes to mmap for each vCPU's kvm_run page (and what follows it).
    func vcpuMapSize() throws(KVMError) -> Int {
        Int(try fd.ioctl(CKVM_GET_VCPU_MMAP_SIZE, value: 0, "report the vCPU mapping size"))
    }

    /// Creates a VM (machine type 0: the default x86 VM).
    public func createVM() throws(KVMError) -> VirtualMachine {
        let raw = try fd.ioctl(CKVM_CREATE_VM, value: 0, "create a VM")
        return VirtualMachine(fd: KVMDescriptor(raw), vcpuMapSize: try vcpuMapSize())
    }

    /// Every CPUID leaf KVM can present to a guest, as the starting point for templates.
    public func supportedCPUID() throws(KVMError) -> [CPUIDEntry] {
        let list = try CPUIDList(capacity: 256)
        try fd.ioctl(CKVM_GET_SUPPORTED_CPUID, list.raw, "list its supported CPUID leaves")
        return list.entries
    }

    /// The MSRs KVM saves and restores for a guest: the only ones we may set.
    public func msrIndexList() throws(KVMError) -> [UInt32] {
        let capacity = 1024
        let size = MemoryLayout<kvm_msr_list>.size + capacity * MemoryLayout<UInt32>.size
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
        defer { buffer.deallocate() }
        buffer.storeBytes(of: UInt32(capacity), as: UInt32.self)
        try fd.ioctl(CKVM_GET_MSR_INDEX_LIST, buffer, "list its MSRs")
        let count = min(Int(buffer.load(as: UInt32.self)), capacity)
        let indices = buffer + MemoryLayout<kvm_msr_list>.size
        return (0..<count).map { indices.load(fromByteOffset: $0 * 4, as: UInt32.self) }
    }
}

extension KVMSystem {
    /// Bytes of a vCPU's XSAVE state: KVM_CAP_XSAVE2's answer where the host has more
    /// state than the legacy 4 KiB kvm_xsave holds (AMX), else 4 KiB.
    public var xsaveSize: Int {
        max(Int(extensionValue(UInt(KVM_CAP_XSAVE2))), MemoryLayout<kvm_xsave>.size)
    }
}
