import SwiftletMachine

/// The choices that make Swiftlet's API mode behave as Firecracker's clients expect, in one
/// place so that each is easy to find and to change.
public enum FirecrackerDefaults {
    /// The Firecracker API whose endpoints and fields we follow (a subset of them: see
    /// docs/api.md). 1.13 is the release that added --enable-pci.
    public static let apiVersion = "1.13.0"
    public static let swiftletVersion = "0.1.0"
    /// `--version`'s line. Kata and other clients split Firecracker's "Firecracker vX.Y.Z"
    /// on spaces and read the second word as the version; they get the API version we
    /// implement there, and a reader sees which program answered.
    public static var versionLine: String { "Firecracker v\(apiVersion) (swiftlet \(swiftletVersion), speaking Firecracker's API)" }

    public static let socketPath = "/run/firecracker.socket"
    public static let instanceID = "anonymous-instance"

    /// Firecracker's default kernel command line (vmm_config/boot_source.rs), with one
    /// difference: Firecracker's `8250.nr_uarts=0` leaves a guest started without boot_args
    /// mute, a classic puzzle for new users. Swiftlet's serial port is the process's
    /// stdout, so we give such a guest `console=ttyS0` instead.
    public static let bootArguments = "reboot=k panic=1 nomodule i8042.noaux i8042.nomux i8042.dumbkbd swiotlb=noforce console=ttyS0"

    /// How devices reach the guest in API mode: virtio-mmio, as Firecracker's guests
    /// expect, unless --enable-pci. THE place where API mode's transport is chosen.
    public static func transport(enablePCI: Bool) -> MachineConfig.DeviceTransport {
        enablePCI ? .pci : .mmio
    }
}
