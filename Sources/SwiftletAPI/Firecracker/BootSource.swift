import SwiftletMachine

/// /boot-source: the kernel, its command line, an initrd. Files are checked when the
/// request arrives, so a typo is refused there rather than at InstanceStart.
public struct BootSource: Sendable, Equatable {
    public var kernelImagePath: String
    /// nil: Firecracker's default command line (`FirecrackerDefaults.bootArguments`).
    public var bootArgs: String?
    public var initrdPath: String?

    static let section = "boot-source"
    static let fields: Set<String> = ["kernel_image_path", "boot_args", "initrd_path"]

    init(json: JSONValue) throws(APIFault) {
        let fields = try FieldReader(json, section: Self.section, fields: Self.fields)
        kernelImagePath = try fields.nonEmptyString("kernel_image_path")
        bootArgs = try fields.optionalString("boot_args")
        initrdPath = try fields.optionalString("initrd_path")
        let kernel = kernelImagePath
        try checked { () throws(ConfigError) in try ConfigParsing.checkReadableFile(kernel, field: "boot-source: kernel_image_path") }
        if let initrd = initrdPath {
            try checked { () throws(ConfigError) in try ConfigParsing.checkReadableFile(initrd, field: "boot-source: initrd_path") }
        }
    }

    var json: JSONValue {
        var members: [(key: String, value: JSONValue)] = [("kernel_image_path", .string(kernelImagePath))]
        if let bootArgs { members.append(("boot_args", .string(bootArgs))) }
        if let initrdPath { members.append(("initrd_path", .string(initrdPath))) }
        return .object(members)
    }
}
