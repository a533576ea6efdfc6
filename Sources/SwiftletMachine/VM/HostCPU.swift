import SwiftletKVM

/// What KVM says of the host CPU, read once: the CPUID leaves it supports and the MSRs
/// it will take, with the template to shape them by.
struct HostCPU: Sendable {
    let supportedCPUID: [CPUIDEntry]
    let bootMSRs: [(index: UInt32, value: UInt64)]
    let template: CPUTemplate
    /// What the template needs Linux's command line to say (see CPUTemplate.kernelArguments).
    let extraKernelArguments: [String]

    init(kvm: KVMSystem, template: CPUTemplate) throws(KVMError) {
        supportedCPUID = try kvm.supportedCPUID()
        bootMSRs = BootMSRs.values(supported: try kvm.msrIndexList())
        self.template = template
        extraKernelArguments = template.kernelArguments(onPVM: KVMSystem.isPVM)
    }
}
