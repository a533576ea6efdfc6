#if canImport(Glibc)
import Glibc
#endif
import CKVM
import SwiftletMemory

/// A KVM virtual machine: its memory map, interrupt controllers and vCPUs.
public final class VirtualMachine: Sendable {
    let fd: KVMDescriptor
    let vcpuMapSize: Int

    init(fd: KVMDescriptor, vcpuMapSize: Int) {
        self.fd = fd
        self.vcpuMapSize = vcpuMapSize
    }

    /// Makes every region of `memory` guest-physical RAM, one KVM slot per region.
    public func map(_ memory: GuestMemory) throws(KVMError) {
        for (slot, region) in memory.regions.enumerated() {
            var description = kvm_userspace_memory_region(
                slot: UInt32(slot), flags: 0,
                guest_phys_addr: region.start.value, memory_size: region.size,
                userspace_addr: memory.hostAddress(of: region))
            try fd.ioctl(CKVM_SET_USER_MEMORY_REGION, &description, "map guest RAM at \(region.start)")
        }
    }

    /// The PC's interrupt controllers and timer, emulated inside the kernel: PIC, IOAPIC
    /// and a local APIC per vCPU, then the PIT. Both come before any vCPU is created.
    public func createPlatformDevices() throws(KVMError) {
        // Intel's VMX needs three pages for a real-mode TSS, and one for the identity map
        // in unrestricted-guest-less mode. Put them just below the BIOS area, in the MMIO
        // hole, where they cannot collide with RAM. Harmless where unused (AMD, PVM).
        try fd.ioctl(CKVM_SET_TSS_ADDR, value: 0xfffb_d000, "place the TSS pages")
        var identityMap: UInt64 = 0xfffb_c000
        try fd.ioctl(CKVM_SET_IDENTITY_MAP_ADDR, &identityMap, "place the identity-map page")
        try fd.ioctl(CKVM_CREATE_IRQCHIP, value: 0, "create the in-kernel interrupt controllers")
        // KVM_PIT_SPEAKER_DUMMY: let port 0x61 answer, as Linux pokes the speaker gate
        // when calibrating against the PIT.
        var pit = kvm_pit_config()
        pit.flags = UInt32(KVM_PIT_SPEAKER_DUMMY)
        try fd.ioctl(CKVM_CREATE_PIT2, &pit, "create the in-kernel PIT")
    }

    /// Sets interrupt line `gsi` of the in-kernel PIC/IOAPIC high or low.
    public func setIRQLine(_ gsi: UInt32, level: Bool) throws(KVMError) {
        var line = kvm_irq_level()
        line.irq = gsi
        line.level = level ? 1 : 0
        try fd.ioctl(CKVM_IRQ_LINE, &line, "set interrupt line \(gsi)")
    }

    /// Creates vCPU `id` (its APIC ID too) with its shared kvm_run page.
    public func createVCPU(id: Int) throws(KVMError) -> VirtualCPU {
        let raw = try fd.ioctl(CKVM_CREATE_VCPU, value: UInt(id), "create vCPU \(id)")
        let descriptor = KVMDescriptor(raw)
        guard let run = mmap(nil, vcpuMapSize, PROT_READ | PROT_WRITE, MAP_SHARED, raw, 0),
              run != MAP_FAILED
        else { throw .ioctlFailed(what: "map vCPU \(id)'s run page", errno: errno) }
        return VirtualCPU(id: id, fd: descriptor, run: run, runSize: vcpuMapSize)
    }
}
