// swift-tools-version:6.0
// Swiftlet: a small virtual machine monitor for Linux/x86_64 on KVM.
//
// The dependency arrows point one way: swiftlet → SwiftletAPI → SwiftletMachine → {SwiftletKVM,
// SwiftletDevices, SwiftletBoot, SwiftletACPI} → SwiftletMemory; SwiftletKVM → SwiftletHost, and only SwiftletKVM
// sees CKVM. Devices and the loader never touch an ioctl.
import PackageDescription

let package = Package(
    name: "Swiftlet",
    products: [
        .executable(name: "swiftlet", targets: ["swiftlet"]),
        // bench/'s device back-end benchmark: a separate binary, nothing of it in swiftlet.
        .executable(name: "swiftlet-devbench", targets: ["swiftlet-devbench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        // What Swift cannot do itself: ioctl (variadic) and kvm.h's request macros.
        .target(name: "CKVM"),
        // epoll, eventfd and the tun/interface ioctls, which Swift's Glibc module does not export.
        .target(name: "CSystem"),

        // Decompressors for bzImage payloads, straight from the system's libraries.
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CLZMA", pkgConfig: "liblzma", providers: [.apt(["liblzma-dev"])]),
        .systemLibrary(name: "CLZ4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        // seccomp-bpf filters compiled from named calls and argument checks.
        .systemLibrary(name: "CSeccomp", pkgConfig: "libseccomp", providers: [.apt(["libseccomp-dev"])]),

        .target(name: "SwiftletMemory"),
        // Host primitives: eventfds and the epoll event loop that serves devices.
        .target(name: "SwiftletHost", dependencies: ["CSystem", "CSeccomp"]),
        .target(
            name: "SwiftletBoot",
            dependencies: ["SwiftletMemory", "CZlib", "CLZMA", "CLZ4", "CZstd"]),
        .target(name: "SwiftletACPI"),
        .target(name: "SwiftletDevices", dependencies: ["SwiftletMemory"]),
        .target(name: "SwiftletKVM", dependencies: ["CKVM", "SwiftletMemory", "SwiftletHost"]),
        // The snapshot state file (versioned sections, CRC) and the guest-memory file.
        .target(name: "SwiftletSnapshot", dependencies: ["SwiftletKVM", "SwiftletMemory", "CZlib"]),
        .target(
            name: "SwiftletMachine",
            dependencies: [
                "SwiftletMemory", "SwiftletHost", "SwiftletBoot", "SwiftletACPI", "SwiftletDevices", "SwiftletKVM",
                "SwiftletSnapshot", "CSystem",
                .product(name: "Logging", package: "swift-log"),
            ]),
        // Firecracker's REST API on a Unix socket, and its JSON configuration file: requests
        // become a MachineConfig and calls on a VMController. Knows nothing of KVM or devices.
        .target(
            name: "SwiftletAPI",
            dependencies: ["SwiftletMachine", "SwiftletHost", .product(name: "Logging", package: "swift-log")]),
        .executableTarget(
            name: "swiftlet",
            dependencies: [
                "SwiftletMachine", "SwiftletAPI", "SwiftletHost",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .target(name: "SwiftletTestSupport", dependencies: ["SwiftletMemory", "SwiftletDevices"]),
        // virtio-blk and virtio-net driven in-process with fake guest memory (bench/run's
        // "devices" part): the device code swiftlet runs, on a real file and a real tap.
        .executableTarget(
            name: "swiftlet-devbench",
            dependencies: [
                "SwiftletMemory", "SwiftletDevices", "SwiftletTestSupport", "SwiftletMachine", "SwiftletHost",
                .product(name: "Logging", package: "swift-log"),
            ]),

        .testTarget(name: "SwiftletMemoryTests", dependencies: ["SwiftletMemory"]),
        .testTarget(name: "SwiftletBootTests", dependencies: ["SwiftletBoot", "SwiftletTestSupport"]),
        .testTarget(name: "SwiftletACPITests", dependencies: ["SwiftletACPI"]),
        .testTarget(name: "SwiftletDevicesTests", dependencies: ["SwiftletDevices", "SwiftletTestSupport"]),
        .testTarget(name: "SwiftletKVMTests", dependencies: ["SwiftletKVM"]),
        .testTarget(name: "SwiftletSnapshotTests", dependencies: ["SwiftletSnapshot", "SwiftletKVM", "SwiftletMemory"]),
        .testTarget(name: "SwiftletHostTests", dependencies: ["SwiftletHost"]),
        .testTarget(name: "SwiftletAPITests", dependencies: ["SwiftletAPI", "SwiftletMachine"]),
        // The VM's logic (exit dispatch, pausing, lifecycle rules) with fake vCPUs: no /dev/kvm;
        // and the machine's host side of vsock on real Unix sockets.
        .testTarget(
            name: "SwiftletMachineTests",
            dependencies: [
                "SwiftletMachine", "SwiftletDevices", "SwiftletHost", "SwiftletMemory", "SwiftletTestSupport",
                "SwiftletSnapshot", .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(name: "IntegrationTests", dependencies: ["SwiftletTestSupport"]),
    ]
)
