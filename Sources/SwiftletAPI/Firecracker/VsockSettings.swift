#if canImport(Glibc)
import Glibc
#endif
import SwiftletMachine

/// PUT /vsock (Firecracker's VsockDeviceConfig): the guest's CID and the Unix socket its
/// host side listens on. `vsock_id`, which older clients still send, is accepted and
/// ignored, as Firecracker does.
struct VsockSettings: Sendable, Equatable {
    static let section = "vsock"
    let guestCID: UInt64
    let udsPath: String

    init(json: JSONValue) throws(APIFault) {
        let fields = try FieldReader(json, section: Self.section, fields: ["guest_cid", "uds_path", "vsock_id"])
        _ = try fields.optionalString("vsock_id")
        let cid = try fields.integer("guest_cid", in: 0...UInt64.max)
        do {
            guestCID = try ConfigParsing.vsockCID(cid, field: "\(Self.section): guest_cid")
        } catch {
            throw APIFault(error.description)
        }
        udsPath = try fields.nonEmptyString("uds_path")
        guard udsPath.utf8.count + 11 <= 107 else {
            throw APIFault("\(Self.section): uds_path \(udsPath) is too long for a Unix socket (with _<port> appended)")
        }
        // Firecracker binds the socket when the PUT arrives, so a stale file fails the PUT;
        // we bind at InstanceStart, and refuse the same path here so the error comes where
        // the client looks for it.
        var info = stat()
        if lstat(udsPath, &info) == 0 {
            throw APIFault("\(Self.section): uds_path \(udsPath) already exists; remove it first")
        }
    }

    var machineConfig: MachineConfig.Vsock { MachineConfig.Vsock(guestCID: guestCID, udsPath: udsPath) }

    var json: JSONValue { .object([("guest_cid", .integer(guestCID)), ("uds_path", .string(udsPath))]) }
}
