#if canImport(Glibc)
import Glibc
#endif
import CSystem

/// A tap interface (Documentation/networking/tuntap.rst): an Ethernet device on the host
/// whose frames we read and write through a file descriptor, each with a 12-byte
/// virtio-net header in front (IFF_VNET_HDR), so offloads pass through to the guest.
///
/// The tap is not persistent: closing the descriptor (deinit) destroys the interface.
/// `package`: bench's swiftlet-devbench opens one to drive virtio-net on a real tap.
package final class Tap: @unchecked Sendable {
    // @unchecked: `fd` and `name` never change; ioctls on them are thread-safe.
    package let fd: Int32
    /// The name the kernel gave it, e.g. "swiftlet0".
    package let name: String

    /// Creates a tap named after `pattern` ("swiftlet%d": the kernel picks the number).
    package init(pattern: String = "swiftlet%d") throws(NetworkError) {
        let fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            throw errno == ENOENT || errno == ENODEV || errno == ENXIO ? .noTunDevice : .call("/dev/net/tun")
        }
        var request = ifreq()
        Self.setName(&request, pattern)
        request.ifr_ifru.ifru_flags = Int16(IFF_TAP | IFF_NO_PI | IFF_VNET_HDR)
        guard csystem_ioctl(fd, CSYSTEM_TUNSETIFF, &request) == 0 else {
            let error = NetworkError.call("creating a tap (TUNSETIFF)")
            close(fd)
            throw error
        }
        self.fd = fd
        name = Self.name(of: request)
        var headerSize: Int32 = 12  // struct virtio_net_hdr_v1, num_buffers included
        guard csystem_ioctl(fd, CSYSTEM_TUNSETVNETHDRSZ, &headerSize) == 0 else {
            throw .call("\(name): TUNSETVNETHDRSZ")  // deinit closes fd
        }
    }

    deinit { close(fd) }

    /// Gives the host side `address` with a /24 netmask and brings the tap up.
    package func assign(address: in_addr) throws(NetworkError) {
        try withControlSocket { (socket) throws(NetworkError) in
            var request = ifreq()
            Self.setName(&request, name)
            Self.setAddress(&request, address)
            guard csystem_ioctl(socket, UInt(SIOCSIFADDR), &request) == 0 else {
                throw .call("\(name): setting address (SIOCSIFADDR)")
            }
            Self.setAddress(&request, in_addr(s_addr: UInt32(0xFFFF_FF00).bigEndian))
            guard csystem_ioctl(socket, UInt(SIOCSIFNETMASK), &request) == 0 else {
                throw .call("\(name): setting netmask (SIOCSIFNETMASK)")
            }
            try bringUp(socket)
        }
    }

    /// Brings the tap up and adds it to the existing bridge `bridge`.
    func join(bridge: String) throws(NetworkError) {
        guard bridge.utf8.count < Int(IFNAMSIZ), if_nametoindex(bridge) != 0 else { throw .noSuchBridge(bridge) }
        try withControlSocket { (socket) throws(NetworkError) in
            try bringUp(socket)
            var request = ifreq()
            Self.setName(&request, name)
            guard csystem_ioctl(socket, UInt(SIOCGIFINDEX), &request) == 0 else {
                throw .call("\(name): SIOCGIFINDEX")
            }
            let index = request.ifr_ifru.ifru_ivalue
            request = ifreq()
            Self.setName(&request, bridge)
            request.ifr_ifru.ifru_ivalue = index
            guard csystem_ioctl(socket, UInt(SIOCBRADDIF), &request) == 0 else {
                switch errno {
                case ENODEV: throw .noSuchBridge(bridge)
                case EOPNOTSUPP, EINVAL: throw .notABridge(bridge)
                default: throw .call("adding \(name) to bridge \(bridge) (SIOCBRADDIF)")
                }
            }
        }
    }

    /// TUNSETOFFLOAD: what the tap may hand us unfinished (the guest finishes it).
    package func setOffloads(checksum: Bool, tso4: Bool, tso6: Bool) throws(NetworkError) {
        var flags = 0
        if checksum { flags |= Int(TUN_F_CSUM) }
        if checksum && tso4 { flags |= Int(TUN_F_TSO4) }
        if checksum && tso6 { flags |= Int(TUN_F_TSO6) }
        // The argument is the value itself, not a pointer to it.
        guard csystem_ioctl(fd, CSYSTEM_TUNSETOFFLOAD, UnsafeMutableRawPointer(bitPattern: flags)) == 0 else {
            throw .call("\(name): TUNSETOFFLOAD")
        }
    }

    private func bringUp(_ socket: Int32) throws(NetworkError) {
        var request = ifreq()
        Self.setName(&request, name)
        guard csystem_ioctl(socket, UInt(SIOCGIFFLAGS), &request) == 0 else { throw .call("\(name): SIOCGIFFLAGS") }
        request.ifr_ifru.ifru_flags |= Int16(IFF_UP)
        guard csystem_ioctl(socket, UInt(SIOCSIFFLAGS), &request) == 0 else { throw .call("\(name): bringing it up") }
    }

    /// Interface ioctls go through any AF_INET socket.
    private func withControlSocket(_ body: (Int32) throws(NetworkError) -> Void) throws(NetworkError) {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard socket >= 0 else { throw .call("socket(AF_INET)") }
        defer { close(socket) }
        try body(socket)
    }

    private static func setName(_ request: inout ifreq, _ name: String) {
        withUnsafeMutableBytes(of: &request.ifr_ifrn.ifrn_name) { bytes in
            bytes.initializeMemory(as: UInt8.self, repeating: 0)
            for (index, byte) in name.utf8.prefix(bytes.count - 1).enumerated() { bytes[index] = byte }
        }
    }

    private static func name(of request: ifreq) -> String {
        withUnsafeBytes(of: request.ifr_ifrn.ifrn_name) { bytes in
            String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    private static func setAddress(_ request: inout ifreq, _ address: in_addr) {
        var socketAddress = sockaddr_in()
        socketAddress.sin_family = sa_family_t(AF_INET)
        socketAddress.sin_addr = address
        withUnsafeBytes(of: socketAddress) { source in
            withUnsafeMutableBytes(of: &request.ifr_ifru.ifru_addr) { target in
                target.copyMemory(from: UnsafeRawBufferPointer(rebasing: source.prefix(target.count)))
            }
        }
    }
}
