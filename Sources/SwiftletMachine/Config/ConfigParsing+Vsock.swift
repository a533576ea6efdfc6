import SwiftletDevices

extension MachineConfig {
    /// A virtio socket device whose host side is Unix sockets at `udsPath` (Firecracker's).
    public struct Vsock: Sendable, Equatable {
        /// The guest's address: 3 or more, within 32 bits.
        public var guestCID: UInt64
        /// Host programs connect here (`CONNECT <port>`); guest connections to port P go
        /// to `<udsPath>_P`.
        public var udsPath: String
        public init(guestCID: UInt64, udsPath: String) {
            self.guestCID = guestCID
            self.udsPath = udsPath
        }
    }
}

extension ConfigParsing {
    /// "cid=N,uds=PATH", in either order (a path cannot hold a comma here).
    public static func vsock(_ text: String, field: String = "--vsock") throws(ConfigError) -> MachineConfig.Vsock {
        var cid: UInt64?
        var path: String?
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            if part.hasPrefix("cid="), cid == nil {
                guard let number = UInt64(part.dropFirst(4)) else {
                    throw ConfigError("\(field): cid '\(part.dropFirst(4))' is not a number")
                }
                cid = number
            } else if part.hasPrefix("uds="), path == nil {
                path = String(part.dropFirst(4))
            } else {
                throw ConfigError("\(field): '\(text)' is not cid=<n>,uds=<path>")
            }
        }
        guard let cid, let path, !path.isEmpty else { throw ConfigError("\(field): '\(text)' is not cid=<n>,uds=<path>") }
        return MachineConfig.Vsock(guestCID: try vsockCID(cid, field: field), udsPath: path)
    }

    /// A guest CID: 0 and 1 are reserved, 2 is the host (virtio 1.2 section 5.10.4).
    public static func vsockCID(_ cid: UInt64, field: String = "guest_cid") throws(ConfigError) -> UInt64 {
        guard VirtioVsock.isValid(guestCID: cid) else {
            throw ConfigError("\(field): guest CID \(cid) is out of range (3 to \(VsockProtocol.highestGuestCID))")
        }
        return cid
    }
}
